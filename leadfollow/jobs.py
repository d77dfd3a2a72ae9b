"""Queue django-q2 work after the current transaction commits.

A leaf: domain modules name the task (a function in ``leadfollow.tasks``) instead of
importing ``tasks``, which imports them back. Arguments are ids only: task payloads are
stored unencrypted.
"""

from __future__ import annotations

import traceback

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


def describe_error(error: BaseException) -> str:
    """An exception without its message: its type and where it was raised. Messages carry
    data (an SMTP refusal quotes the address); logs and django-q2 failures must not."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    last = frames[-1]
    return (
        f"{type(error).__name__} at {last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"
    )
