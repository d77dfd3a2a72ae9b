"""Queue django-q2 work after the current transaction commits.

A leaf: domain modules name the task (a function in ``leadfollow.tasks``) instead of
importing ``tasks``, which imports them back. Arguments are ids only: task payloads are
stored unencrypted.
"""

from __future__ import annotations

from django.db import transaction


def enqueue(name: str, *args) -> None:
    """Queue ``leadfollow.tasks.<name>(*args)`` now."""
    from django_q.tasks import async_task

    async_task(f"leadfollow.tasks.{name}", *args, group="leadfollow")


def enqueue_on_commit(name: str, *args, using: str | None = None) -> None:
    """Queue the task once the transaction commits (at once outside one).

    ``robust``: a broker outage must not undo the change that asked for the task; the
    rows it notifies about keep ``notified_at`` empty, and the sweep queues them again.
    """
    transaction.on_commit(lambda: enqueue(name, *args), using=using, robust=True)
