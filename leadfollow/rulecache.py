"""Active scoring and routing rules (and API keys), read once per process and invalidated
everywhere.

Intake needs both rule sets and its sender's key for every lead; they change rarely.
Each process keeps what it read together with a token from the shared cache; saving or
deleting a row sets a new token (at once, and again after commit, so other processes
that reloaded in between, still seeing the old rows, reload once more). Within an HTTP
request every token is read in one cache round trip, on first use (an intake needs four:
its key, scoring, routing, webhooks), and kept until the request ends:
the request works with the rules as they were when it began. Elsewhere (tasks, commands)
each use reads its token. When the cache is unreachable the rows come straight from the
database.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)
T = TypeVar("T")
_local: dict[str, tuple[str, object]] = {}

#: Every name ``cached()`` is used with: one request reads all their tokens at once.
NAMES = ("apikeys", "scoring", "routing", "webhooks", "engagement")

# The current request's tokens (None outside a request). A context variable: each thread
# (and each asyncio task) serves its own request.
_request_tokens: ContextVar[dict[str, str] | None] = ContextVar("lf_rule_tokens", default=None)


def _key(name: str) -> str:
    return f"leadfollow:rules:{name}"


def _token(name: str) -> str | None:
    tokens = _request_tokens.get()
    try:
        if tokens is None:
            return _read_tokens((name,)).get(name)
        if name not in tokens:
            tokens.update(_read_tokens(tuple(dict.fromkeys((name, *NAMES)))))
        # None when the cache keeps nothing (DummyCache): read the database every time.
        return tokens.get(name)
    except Exception:  # the cache is down: read the database every time
        logger.warning("leadfollow: cache unavailable, reading %s rules from the database", name)
        return None


def _read_tokens(names: tuple[str, ...]) -> dict[str, str]:
    """The shared tokens of ``names``, one made for each that has none yet."""
    keys = {_key(name): name for name in names}
    found = cache.get_many(list(keys))
    missing = [key for key in keys if key not in found]
    if missing:
        for key in missing:
            cache.add(key, uuid.uuid4().hex, timeout=None)
        found.update(cache.get_many(missing))  # another process may have added it first
    return {keys[key]: token for key, token in found.items()}


def cached(name: str, load: Callable[[], T]) -> T:
    """``load()``'s rules, from this process's copy while the shared token is unchanged."""
    token = _token(name)
    if token is None:
        return load()
    hit = _local.get(name)
    if hit is not None and hit[0] == token:
        return hit[1]
    rules = load()
    _local[name] = (token, rules)
    return rules


def _new_token(name: str) -> None:
    _local.pop(name, None)
    tokens = _request_tokens.get()
    if tokens is not None:
        tokens.clear()  # this request changed a rule: it reads the tokens again
    try:
        cache.set(_key(name), uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning("leadfollow: cache unavailable, %s rules may be stale elsewhere", name)


_after_commit: dict[str, Callable[[], None]] = {}


def invalidate(name: str) -> None:
    """Every process reads ``name``'s rules again (now, and once more after commit; one
    callback per transaction however many rules changed)."""
    _new_token(name)
    callback = _after_commit.setdefault(name, functools.partial(_new_token, name))
    pending = getattr(transaction.get_connection(), "run_on_commit", None) or ()
    if not any(entry[1] is callback for entry in pending):
        transaction.on_commit(callback)


def _request_started(**kwargs) -> None:
    _request_tokens.set({})


def _request_finished(**kwargs) -> None:
    _request_tokens.set(None)


def connect_receivers() -> None:
    """Invalidate the routing rules when a rule or its reps change, and keep each request's
    tokens for that request (called from ready(); the scoring rules' receiver lives in
    ``leadfollow.scoring``, which also rescores)."""
    from django.core.signals import request_finished, request_started
    from django.db.models.signals import m2m_changed, post_delete, post_save

    request_started.connect(_request_started, dispatch_uid="lf_rule_tokens_start")
    request_finished.connect(_request_finished, dispatch_uid="lf_rule_tokens_end")

    from leadfollow.models import RoutingRule

    def routing_changed(**kwargs) -> None:
        invalidate("routing")

    # weak=False: the receiver is a local function, kept alive by the dispatcher.
    for signal, uid in ((post_save, "lf_routing_saved"), (post_delete, "lf_routing_deleted")):
        signal.connect(routing_changed, sender=RoutingRule, weak=False, dispatch_uid=uid)
    m2m_changed.connect(
        routing_changed, sender=RoutingRule.reps.through, weak=False, dispatch_uid="lf_routing_reps"
    )
