"""django-q2 entry points: each one call into a module; arguments are ids, never personal data."""

from django_q.tasks import async_task


def enqueue(name: str, *args) -> None:
    async_task(f"leadfollow.tasks.{name}", *args, group="leadfollow")


def notify_assignment(assignment_id: int) -> bool:
    from leadfollow.notifications import notify_assignment as notify

    return notify(assignment_id)
