"""Fixed-window counters per client address in the default cache (shared between workers:
system check leadfollow.E022). Best effort, like DRF's throttles: real rate limiting belongs
at the proxy. A cache outage never refuses a request: a lead matters more than a limit.
"""

from __future__ import annotations

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/hour"`` → ``(10, 3600)`` (DRF's syntax: the period's first letter counts)."""
    count, period = rate.split("/", 1)
    return int(count), PERIODS[period[0]]


def client_address(request) -> str:
    # REMOTE_ADDR, never X-Forwarded-For (any client can write that); behind a proxy, let
    # the proxy set REMOTE_ADDR (e.g. gunicorn's --forwarded-allow-ips) or limit there.
    return request.META.get("REMOTE_ADDR") or "unknown"


def _key(scope: str, ident: str) -> str:
    return f"leadfollow:rate:{scope}:{ident}"


def exceeded(scope: str, ident: str, rate: str | None) -> bool:
    """Whether ``ident`` already used up ``rate`` in the current window."""
    if rate is None:
        return False
    limit, _period = parse_rate(rate)
    try:
        return (cache.get(_key(scope, ident)) or 0) >= limit
    except Exception:
        logger.exception("Rate limit %s skipped: the cache is unavailable", scope)
        return False


def hit(scope: str, ident: str, rate: str | None) -> None:
    """Count one event for ``ident``; the window starts with the first one."""
    if rate is None:
        return
    _limit, period = parse_rate(rate)
    key = _key(scope, ident)
    try:
        if not cache.add(key, 1, timeout=period):
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=period)
    except Exception:
        logger.exception("Rate limit %s skipped: the cache is unavailable", scope)
