"""The one HTTP client for URLs people typed (webhook endpoints, chat and alert URLs).

Safe against server-side request forgery: the host is resolved once, every address is
checked (private, loopback, link-local, multicast, reserved and unspecified addresses are
refused unless ``LEADFOLLOW["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]``), and the connection goes
to the checked address (no second lookup that DNS rebinding could answer differently).
Redirects are never followed; connect and read time out after
``WEBHOOK_TIMEOUT_SECONDS`` and reading the answer's body is bounded by twice that (the
status line and headers only by the read timeout per read); at most
``WEBHOOK_MAX_RESPONSE_BYTES`` of the response are read.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.utils.translation import gettext

from leadfollow.conf import lf_settings

CHUNK = 8192
USER_AGENT = "leadfollow-webhooks/1"


@dataclass(frozen=True)
class Response:
    status: int | None  # None: no HTTP answer (refused, timeout, connection error)
    duration_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and not self.error


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def url_error(url: str, *, resolve: bool = True) -> str | None:
    """Why leadfollow will not post to ``url`` (None when it will). Without ``resolve``
    only the URL itself is checked (forms: the name may resolve differently later)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return gettext("This is not a valid URL.")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return gettext("Only http:// and https:// URLs can receive webhooks.")
    if lf_settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return None
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if literal is not None or resolve:
        try:
            addresses = [str(literal)] if literal else _resolve(parts.hostname, port, parts.scheme)
        except OSError:
            return gettext("The host name does not resolve.")
        if any(_refused(address) for address in addresses):
            return gettext(
                "This URL points to a private, loopback or link-local address, which "
                "leadfollow does not call (WEBHOOK_ALLOW_PRIVATE_ADDRESSES allows it)."
            )
    return None


def _resolve(host: str, port: int | None, scheme: str) -> list[str]:
    port = port or (443 if scheme == "https" else 80)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST ``body`` to ``url``; never raises for network trouble, answers a Response."""
    started = time.monotonic()

    def done(status=None, error="") -> Response:
        return Response(status, int((time.monotonic() - started) * 1000), error[:200])

    if error := url_error(url, resolve=False):
        return done(error=f"refused: {error}")
    parts = urlsplit(url)
    try:
        addresses = _resolve(parts.hostname, parts.port, parts.scheme)
    except OSError as exc:
        return done(error=f"DNS: {exc}")
    allow_private = lf_settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES
    if not allow_private and any(_refused(address) for address in addresses):
        return done(error="refused: a private, loopback or link-local address")
    seconds = lf_settings.WEBHOOK_TIMEOUT_SECONDS
    address = addresses[0]
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
            maxsize=1,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, maxsize=1)
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in parts.hostname:  # an IPv6 literal
        host_header = parts.netloc.rpartition("@")[2]
    request_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
        "Host": host_header,
    }
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            preload_content=False,
            timeout=urllib3.Timeout(connect=seconds, read=seconds),
        )
        try:
            _drain(response, started + 2 * seconds)
        finally:
            response.release_conn()
    except TimeoutError:
        return done(error="timeout")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return done(error=f"{type(exc).__name__}: {exc}")
    finally:
        pool.close()
    if 300 <= response.status < 400:
        return done(response.status, "redirect not followed")
    if not 200 <= response.status < 300:
        return done(response.status, f"HTTP {response.status}")
    return done(response.status)


def _drain(response, deadline: float) -> None:
    """Read (and drop) at most WEBHOOK_MAX_RESPONSE_BYTES before ``deadline``. ``read1``
    returns after one socket read: ``read(n)`` would wait for all n bytes, so an answer
    trickling in a byte at a time (never idle for a read timeout) held a worker for hours."""
    left = lf_settings.WEBHOOK_MAX_RESPONSE_BYTES
    while left > 0:
        if time.monotonic() > deadline:
            raise TimeoutError
        chunk = response.read1(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
