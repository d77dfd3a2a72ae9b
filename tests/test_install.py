"""The README's install path, literally: build the wheel, install it with the newest Django
into a fresh virtualenv, `startproject`, paste the README's settings and URLs, run its
commands, post a lead through the API and see it assigned.

The snippets are read from README.md's code blocks (``# settings.py``, ``# urls.py`` and the
``bash`` blocks of *Install in your project*), so this test breaks when the README drifts.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Install in your project"

pytestmark = pytest.mark.slow


def install_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(SECTION)
    end = readme.index("\n## ", start + len(SECTION))
    return readme[start:end]


def code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.M | re.S)


def block_starting(text: str, lang: str, first_line: str) -> str:
    (block,) = [b for b in code_blocks(text, lang) if b.startswith(first_line + "\n")]
    return block


def manage_commands(text: str) -> list[list[str]]:
    """Every ``python manage.py …`` line of the section's bash blocks, comments dropped."""
    commands = []
    for block in code_blocks(text, "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("python manage.py "):
                commands.append(shlex.split(line, comments=True)[2:])
    return commands


def curl_request(text: str) -> tuple[str, dict, bytes]:
    """The path, headers and body of the section's ``curl -X POST`` example."""
    (line,) = [
        li
        for b in code_blocks(text, "bash")
        for li in b.replace("\\\n", " ").splitlines()
        if li.startswith("curl ")
    ]
    args = shlex.split(line)
    url = args[args.index("-X") + 2]
    headers = dict(args[i + 1].split(": ", 1) for i, a in enumerate(args) if a == "-H")
    body = args[args.index("-d") + 1].encode()
    return re.sub(r"^https?://[^/]+", "", url), headers, body


def newest_python() -> str | None:
    """A Python >= 3.12 (Django 6.x needs it): this one, else pyenv's."""
    if sys.version_info >= (3, 12):
        return sys.executable
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python")))
    return found[-1] if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, cwd, env, timeout=600) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def test_readme_snippets_are_found():
    """Fast guard (no wheel): the blocks the slow test pastes exist and say what it needs."""
    text = install_section()
    assert "INSTALLED_APPS +=" in block_starting(text, "python", "# settings.py")
    assert "urlpatterns" in block_starting(text, "python", "# urls.py")
    names = [c[0] for c in manage_commands(text)]
    assert {"check", "migrate", "leadfollow_make_rep", "leadfollow_api_key"} <= set(names)
    path, headers, body = curl_request(text)
    assert path == "/api/leads/" and headers["Authorization"].startswith("Api-Key ")
    json.loads(body)


def test_fresh_project_from_the_readme(tmp_path):
    python = newest_python()
    if python is None:
        pytest.skip("needs a Python >= 3.12 for the newest Django (~/.pyenv/versions/3.12*)")
    text = install_section()

    # 1. The wheel, built from a clean copy of the checkout.
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
            "*.sqlite3*", "artifacts",
        ),
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTHON"))}
    env.pop("DATABASE_URL", None)
    env.pop("VIRTUAL_ENV", None)
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
         str(tmp_path / "dist")], cwd=src, env=env)  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("django_leadfollow-*.whl")

    # 2. A fresh virtualenv with the newest Django.
    venv = tmp_path / "venv"
    run([python, "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    bin_ = venv / "bin"
    run([str(bin_ / "python"), "-m", "pip", "install", "-q", "--upgrade", str(wheel), "django"],
        cwd=tmp_path, env=env)  # fmt: skip
    version = run([str(bin_ / "python"), "-c", "import django; print(django.__version__)"],
                  cwd=tmp_path, env=env).strip()  # fmt: skip
    assert tuple(map(int, version.split(".")[:2])) >= (6, 1), version

    # 3. startproject, then the README's settings and URLs, pasted as they are.
    run([str(bin_ / "django-admin"), "startproject", "mysite"], cwd=tmp_path, env=env)
    project = tmp_path / "mysite"
    settings_py = project / "mysite" / "settings.py"
    settings_py.write_text(
        settings_py.read_text() + "\n" + block_starting(text, "python", "# settings.py")
    )
    (project / "mysite" / "urls.py").write_text(block_starting(text, "python", "# urls.py"))
    env["PATH"] = f"{bin_}:{env.get('PATH', '')}"
    manage = [str(bin_ / "python"), "manage.py"]

    # 4. The README's commands in order; the users it names exist first (createsuperuser
    # is interactive, qcluster runs for ever: both are left out).
    key = None
    for command in manage_commands(text):
        name = command[0]
        if name in ("createsuperuser", "qcluster"):
            continue
        if name == "leadfollow_make_rep":
            usernames = itertools.takewhile(lambda a: not a.startswith("-"), command[1:])
            make_users = "; ".join(
                f"get_user_model().objects.create_user({u!r}, {u + '@example.com'!r}, 'pw')"
                for u in usernames
            )
            run([*manage, "shell", "-c",
                 f"from django.contrib.auth import get_user_model; {make_users}"],
                cwd=project, env=env)  # fmt: skip
        out = run([*manage, *command], cwd=project, env=env)
        if name == "check":
            assert out.strip() == "System check identified no issues (0 silenced).", out
        if name == "leadfollow_make_rep":
            assert "alice: now a rep" in out, out
        if name == "leadfollow_api_key":
            key = re.search(r"^key: (\S+)$", out, flags=re.M).group(1)
    assert key is not None

    # 5. The web server; the README's curl, with the key just printed.
    port = free_port()
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/accounts/login/", server)
        path, headers, body = curl_request(text)
        headers["Authorization"] = f"Api-Key {key}"
        request = urllib.request.Request(base + path, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201
            answer = json.loads(response.read())
        assert answer["created"] is True
        assert answer["owner_username"] in {"alice", "bob"}, answer
        assert answer["first_response_due"]
        # The README's token for reading the API: the owner sees the lead.
        owner = answer["owner_username"]
        assert "python manage.py drf_create_token alice" in text
        out = run([*manage, "drf_create_token", owner], cwd=project, env=env)
        token = re.search(r"Generated token (\S+) for user", out).group(1)
        request = urllib.request.Request(
            base + "/api/leads/", headers={"Authorization": f"Token {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            listed = json.loads(response.read())
        rows = listed["results"] if isinstance(listed, dict) else listed
        assert [row["id"] for row in rows] == [answer["id"]]
        # The docs page and its Swagger UI files come from the installed packages.
        with urllib.request.urlopen(base + "/api/docs/", timeout=30) as response:
            page = response.read().decode()
        bundle = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', page).group(1)
        assert bundle.startswith("/static/"), bundle
        with urllib.request.urlopen(base + bundle, timeout=30) as response:
            assert response.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()


def _wait_for(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail("runserver exited:\n" + server.stdout.read()[-3000:])
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {seconds} s")
