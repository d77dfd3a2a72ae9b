#!/usr/bin/env python
"""What `make demo` runs: migrate, seed, print the logins, serve with a django-q2 cluster.

    python demo_project/run.py          # serve until Ctrl-C
    python demo_project/run.py --check  # or DEMO_CHECK=1: start, prove it works, stop

PORT sets the web port (default 8000); DEMO_ADMIN_PASSWORD fixes the admin password,
otherwise a new one is generated on every start; DEMO_LEADS sets how many leads a fresh
database gets (default 300); DEMO_DB_PATH moves the SQLite file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "demo_project" / "manage.py"
CHECK_TIMEOUT = 60  # seconds for --check to see the login page and a finished task
STOP_TIMEOUT = 15  # seconds a child gets after SIGTERM before its process group is killed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the leadfollow demo site.")
    parser.add_argument("--check", action="store_true", help="start, check it works, stop")
    args = parser.parse_args(argv)
    check = args.check or os.environ.get("DEMO_CHECK") == "1"
    port = int(os.environ.get("PORT", "8000"))
    sys.stdout.reconfigure(line_buffering=True)  # keep our lines ordered with the children's

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
    import django

    django.setup()
    try:
        password = prepare()
    except KeyboardInterrupt:
        return 130
    print_logins(port, password)
    return supervise(port, check=check)


def prepare() -> str:
    """Migrate, seed once, schedule the sweep, reset the admin login; returns its password."""
    from django.core.management import call_command
    from django.db import connections

    from demo_project.seed import DEFAULT_LEADS, ensure_admin

    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo", leads=int(os.environ.get("DEMO_LEADS", DEFAULT_LEADS)))
    call_command("leadfollow_schedules")
    password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(9)
    ensure_admin(password)
    connections.close_all()  # the children open their own; SQLite dislikes idle writers
    return password


def print_logins(port: int, password: str) -> None:
    from django.urls import NoReverseMatch, reverse

    from demo_project.seed import ABSENT_REP, MANAGER_USERNAME, PAUSED_REP, REP_PASSWORD, REPS

    site = f"http://127.0.0.1:{port}"
    notes = {ABSENT_REP: " (on holiday)", PAUSED_REP: " (not taking leads)"}
    reps = ", ".join(r.username + notes.get(r.username, "") for r in REPS)
    lines = [
        "",
        "leadfollow demo",
        f"  Admin      {site}/admin/",
        "    login    admin",
        f"    password {password}",
        f"  Manager    {MANAGER_USERNAME} / {REP_PASSWORD} (admin; sees every rep's leads)",
    ]
    with contextlib.suppress(NoReverseMatch):  # a site without leadfollow's rep pages
        # Through the site's login page: the admin's refuses reps, who are not staff.
        queue = f"{site}{reverse('login')}?next={reverse('leadfollow:queue')}"
        lines.append(f"  Rep queue  {queue}")
    lines += [
        f"    reps     {reps}",
        f'    password "{REP_PASSWORD}" for every rep',
        "",
        "Starting the web server and the django-q2 cluster; Ctrl-C stops both.",
        "",
    ]
    print("\n".join(lines))


def supervise(port: int, *, check: bool) -> int:
    """Run runserver and qcluster together; when either ends, or on a signal, stop both."""
    stop_requested: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, frame: stop_requested.append(number))
    children = {
        "web server": _start("runserver", f"127.0.0.1:{port}", "--noreload"),
        "qcluster": _start("qcluster"),
    }
    try:
        if check:
            return _check(port, children, stop_requested)
        while not stop_requested:
            if (failed := _exit_code(children)) is not None:
                return failed
            time.sleep(0.2)
        print("Stopping the web server and the cluster…")
        return 0
    finally:
        _stop(children)


def _start(*command: str) -> subprocess.Popen:
    # A session of its own: the terminal's Ctrl-C reaches only us, and we stop the
    # children in order (qcluster needs SIGTERM on its main process, not on its workers).
    return subprocess.Popen(
        [sys.executable, str(MANAGE), *command],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def _exit_code(children: dict[str, subprocess.Popen]) -> int | None:
    """None while every child runs; else a non-zero code for the demo to exit with."""
    for name, child in children.items():
        if (code := child.poll()) is not None:
            print(f"The {name} exited with code {code}; stopping the demo.", file=sys.stderr)
            return code or 1
    return None


def _check(port: int, children: dict[str, subprocess.Popen], stop_requested: list) -> int:
    """Wait for the admin login page, then for one task through the cluster."""
    from django.db import connections
    from django_q.tasks import async_task, result

    login_page = f"http://127.0.0.1:{port}/admin/login/"
    deadline = time.monotonic() + CHECK_TIMEOUT
    task_id = None
    try:
        while time.monotonic() < deadline and not stop_requested:
            if (failed := _exit_code(children)) is not None:
                return failed
            if task_id is None:
                if _answers_ok(login_page):
                    task_id = async_task("math.floor", 2.5)
            elif result(task_id) == 2:
                print("demo OK")
                return 0
            time.sleep(0.25)
    finally:
        connections.close_all()
    if stop_requested:
        return 130
    waiting_for = "the queued task" if task_id else f"{login_page} to answer 200"
    print(f"demo check failed: waited {CHECK_TIMEOUT} s for {waiting_for}", file=sys.stderr)
    return 1


def _answers_ok(url: str) -> bool:
    # No proxies: an http_proxy in the environment must not intercept 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except OSError:  # refused while starting, or an HTTP error status
        return False


def _stop(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    for name, child in children.items():
        try:
            child.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"The {name} did not stop within {STOP_TIMEOUT} s; killing it.", file=sys.stderr)
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


if __name__ == "__main__":
    sys.exit(main())
