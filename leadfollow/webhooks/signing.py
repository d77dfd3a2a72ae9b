"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

The signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"``; the signature is
``v1,`` + base64 of its HMAC-SHA256 under the secret's key (the base64 after ``whsec_``).
Receivers can use any Standard Webhooks verifier, or :func:`verify` below.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

from leadfollow.models.webhooks import SECRET_PREFIX

TOLERANCE_SECONDS = 5 * 60


class InvalidSignature(Exception):
    """Missing headers, a timestamp outside the tolerance or no matching signature."""


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict:
    """The three Standard Webhooks headers for ``body``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise :class:`InvalidSignature` unless ``body`` was signed with ``secret`` recently.

    Several space-separated signatures are accepted (secret rotation)."""
    headers = {name.lower(): value for name, value in headers.items()}
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp", "")
    passed = headers.get("webhook-signature", "")
    if not (msg_id and stamp and passed):
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    if not stamp.isascii() or not stamp.isdigit():
        raise InvalidSignature("webhook-timestamp is not a Unix time")
    now = time.time() if now is None else now
    if abs(now - int(stamp)) > tolerance:
        raise InvalidSignature("webhook-timestamp outside the tolerance")
    expected = signature(secret, msg_id, int(stamp), body).encode()
    if not any(hmac.compare_digest(expected, sig.encode()) for sig in passed.split()):
        raise InvalidSignature("no matching signature")
