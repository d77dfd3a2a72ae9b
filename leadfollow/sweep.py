"""The every-minute sweep: move leads nobody touched in time, hand over, remind, warn.

Every step selects what still needs doing from the database state and changes that
state in the same transaction, so a lost run is made up by the next one and a
duplicated run finds nothing left to do. Rows are locked with ``SKIP LOCKED`` in
batches: concurrent sweeps (several django-q2 clusters) split the work instead of
doing it twice. SQLite ignores the locks, and needs none: it has a single writer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from leadfollow import availability, ownership
from leadfollow.businesshours import business_minutes_between
from leadfollow.calendars import rep_calendar
from leadfollow.conf import lf_settings
from leadfollow.jobs import enqueue_on_commit
from leadfollow.models import (
    Assignment,
    AssignmentReason,
    Lead,
    Reminder,
    ReminderKind,
    RepProfile,
)
from leadfollow.models.lead import OPEN_STATUSES
from leadfollow.prepared import Prepared
from leadfollow.routing import Candidate, RepPool, candidates
from leadfollow.webhooks import events


@dataclass
class SweepReport:
    handed_over: int = 0  # owner became unavailable (or there was none): moved
    reassigned: int = 0  # first-response deadline missed: moved to another rep
    escalated: int = 0  # missed too often, or nobody else can take it: managers told
    paused: int = 0  # reps paused after PAUSE_AFTER_MISSES misses: managers told
    warned: int = 0  # early warnings sent to owners
    reminded: int = 0  # follow-up reminders sent to owners
    renotified: int = 0  # notifications whose task was lost, queued again

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def reassign_overdue(now: datetime | None = None) -> SweepReport:
    """One pass of the sweep. Safe to run twice, or from several processes at once."""
    now = now or timezone.now()
    report = SweepReport()
    # Handover first: a lead whose owner went on leave moves without a miss on record.
    report.handed_over = hand_over_unavailable(now)
    report.reassigned, report.escalated, report.paused = move_breached(now)
    report.warned = warn_before_deadline(now)
    report.reminded = remind_follow_ups(now)
    # Last: rows written by this pass are too young to count as lost.
    report.renotified = renotify_lost(now)
    return report


# --- batching -------------------------------------------------------------------------------


def _in_batches(queryset: QuerySet, order: Sequence[str], handle: Callable[[list], int]) -> int:
    """Lock rows batch by batch (each its own transaction) and let ``handle`` change them.

    Paging by key (not offset) so rows left unchanged (nobody to take them) are not
    selected again in this run; rows another sweep holds are skipped, not waited for.
    """
    size = lf_settings.SWEEP_BATCH_SIZE

    def page(rows: QuerySet) -> QuerySet:
        return rows.select_for_update(skip_locked=True, of=("self",)).order_by(*order)[:size]

    # The pages after the first differ only by the key they start after: compiled once per
    # pass, then run with each batch's key (building and compiling cost more than running).
    names = [f"k{i}" for i in range(len(order))]
    after = Prepared(lambda _, **key: page(queryset.filter(_after(order, [key[n] for n in names]))))
    using = page(queryset).db
    done, last = 0, None
    while True:
        with transaction.atomic():
            if last is None:
                batch = list(page(queryset))
            else:
                batch = after(None, using, **dict(zip(names, last, strict=True)))
            if not batch:
                return done
            # The key as selected: handle() may change these fields (a new deadline).
            last = tuple(getattr(batch[-1], name) for name in order)
            done += handle(batch)
        if len(batch) < size:
            return done


def _after(order: Sequence[str], key: tuple) -> Q:
    """Rows strictly after ``key`` in ``order`` (the last field must be unique: pk)."""
    condition = Q()
    for i in reversed(range(len(order))):
        equal = dict(zip(order[:i], key[:i], strict=True))
        step = Q(**equal, **{f"{order[i]}__gt": key[i]})
        condition = step if i == len(order) - 1 else step | (Q(**equal) & condition)
    return condition


# --- moving leads ---------------------------------------------------------------------------


def _next_rep(pool: RepPool, lead: Lead, missed: list, handed_back: set) -> Candidate | None:
    return ownership.next_rep(
        lead,
        lambda **exclude: pool.pick(lead, **exclude),
        missed=missed,
        handed_back=handed_back,
    )


def move_breached(now: datetime) -> tuple[int, int, int]:
    """Reassign or escalate open, uncontacted, not yet escalated leads past their deadline."""
    counts = {"reassigned": 0, "escalated": 0, "paused": 0}
    pool: RepPool | None = None

    def handle(batch: list[Lead]) -> int:
        nonlocal pool
        pool = RepPool.lock(now) if pool is None else pool.relock()
        missed, handed_back = ownership.passed_over(batch)
        missed_now = {lead.owner_id for lead in batch if lead.owner_id}
        moves = ownership.MoveBatch(reason=AssignmentReason.SLA_BREACH, now=now)
        for lead in batch:
            outcome = _handle_breach(pool, moves, lead, now, missed[lead.pk], handed_back[lead.pk])
            counts[outcome] += 1
        moves.flush()
        # Counted with this batch's rows: the Nth miss pauses the rep for the next leads.
        counts["paused"] += len(availability.pause_non_responders(missed_now, now))
        return len(batch)

    queryset = Lead.objects.cold(now)
    _in_batches(queryset, ("first_response_due", "pk"), handle)
    return counts["reassigned"], counts["escalated"], counts["paused"]


def _handle_breach(
    pool: RepPool,
    moves: ownership.MoveBatch,
    lead: Lead,
    now: datetime,
    earlier_misses: list,
    handed_back: set,
) -> str:
    # A miss by nobody (an unowned lead nobody could take) is no rep's miss.
    misses = len(earlier_misses) + (1 if lead.owner_id else 0)
    if misses >= lf_settings.MAX_MISSES:
        ownership.escalate(lead, now=now)
        return "escalated"
    candidate = _next_rep(pool, lead, earlier_misses, handed_back)
    if candidate is None:
        # Nobody at all can take it (all full, absent or not accepting): people must act.
        ownership.escalate(lead, now=now)
        return "escalated"
    moves.move(lead, candidate)
    return "reassigned"


def _unavailable_owner(now: datetime) -> Q:
    """Owned by a rep (a user with a rep profile) who cannot work leads right now."""
    is_rep = RepProfile.objects.filter(user_id=OuterRef("owner_id"))
    available = RepProfile.objects.accepting().present(now).filter(user_id=OuterRef("owner_id"))
    return Q(Exists(is_rep)) & ~Q(Exists(available))


def hand_over_unavailable(now: datetime) -> int:
    """Move uncontacted leads and overdue follow-ups off reps who stopped accepting, are
    absent or paused, and give
    unowned leads (nobody was available at intake, or it was handed back) to whoever can
    take them now. Escalated leads wait for a manager; a manager's pick stands."""
    if not candidates(now):
        return 0  # nobody to hand over to: skip locking every stranded lead each minute

    pool: RepPool | None = None

    def handle(batch: list[Lead]) -> int:
        nonlocal pool
        pool = RepPool.lock(now) if pool is None else pool.relock()
        missed, handed_back = ownership.passed_over(batch)
        moves = ownership.MoveBatch(reason=AssignmentReason.REP_UNAVAILABLE, now=now)
        for lead in batch:
            candidate = _next_rep(pool, lead, missed[lead.pk], handed_back[lead.pk])
            if candidate is not None:
                moves.move(lead, candidate)
        return len(moves.flush())

    unavailable = _unavailable_owner(now)
    uncontacted = Q(first_contacted_at__isnull=True) & (Q(owner__isnull=True) | unavailable)
    # A follow-up an absent or paused rep cannot make is handed over like a first response.
    follow_up = Q(next_follow_up_at__lt=now) & unavailable
    queryset = (
        Lead.objects.open()
        .filter(escalated_at__isnull=True)
        .filter(uncontacted | follow_up)
        .exclude(ownership.managers_pick())
    )
    return _in_batches(queryset, ("pk",), handle)


# --- reminders ------------------------------------------------------------------------------


def _not_reminded(kind: str, due_field: str) -> Q:
    sent = Reminder.objects.filter(lead=OuterRef("pk"), kind=kind, due_at=OuterRef(due_field))
    return ~Q(Exists(sent))


def _remind(batch: list[Lead], kind: str, due_field: str, now: datetime) -> int:
    reminders = Reminder.objects.bulk_create(
        Reminder(
            lead=lead,
            kind=kind,
            due_at=getattr(lead, due_field),
            rep_id=lead.owner_id,
            created_at=now,
        )
        for lead in batch
    )
    for reminder in reminders:
        enqueue_on_commit("notify_reminder", reminder.pk)
    if kind == ReminderKind.SLA_WARNING:
        events.emit_deadline_warnings(zip(batch, reminders, strict=True))
    return len(reminders)


def remind_follow_ups(now: datetime) -> int:
    """One reminder to the owner per follow-up date that has passed."""
    queryset = (
        Lead.objects.follow_up_due(now)
        .filter(owner__isnull=False)
        .filter(_not_reminded(ReminderKind.FOLLOW_UP, "next_follow_up_at"))
    )
    return _in_batches(
        queryset,
        ("pk",),
        lambda batch: _remind(batch, ReminderKind.FOLLOW_UP, "next_follow_up_at", now),
    )


def _sla_share_elapsed(lead: Lead, now: datetime) -> float:
    """How much of the lead's current SLA has elapsed, in its owner's business time."""
    calendar = rep_calendar(getattr(lead.owner, "leadfollow_rep", None))
    total = business_minutes_between(lead.assigned_at, lead.first_response_due, calendar)
    if total <= 0:
        return 1.0
    return business_minutes_between(lead.assigned_at, now, calendar) / total


def warn_before_deadline(now: datetime) -> int:
    """Warn the owner once when ``EARLY_WARNING_SHARE`` of the SLA has elapsed."""
    share = lf_settings.EARLY_WARNING_SHARE
    if not share:
        return 0
    pending = (
        Lead.objects.open()
        .uncontacted()
        .filter(
            owner__isnull=False,
            escalated_at__isnull=True,
            assigned_at__isnull=False,
            first_response_due__gt=now,
        )
        .filter(_not_reminded(ReminderKind.SLA_WARNING, "first_response_due"))
    )
    # Business-time shares need the owner's calendar, so decide in Python without locks,
    # then lock only the leads that qualify (the filter is re-applied under the lock).
    due_ids = [
        lead.pk
        for lead in pending.select_related("owner__leadfollow_rep").iterator(chunk_size=2000)
        if _sla_share_elapsed(lead, now) >= share
    ]
    if not due_ids:
        return 0
    return _in_batches(
        pending.filter(pk__in=due_ids),
        ("pk",),
        lambda batch: _remind(batch, ReminderKind.SLA_WARNING, "first_response_due", now),
    )


# --- lost notifications ---------------------------------------------------------------------

# A notification still unclaimed this long after its row was written is taken for lost
# (the Redis broker is at most once; a broker outage drops the enqueue): queue it again.
RENOTIFY_AFTER = timedelta(minutes=2)
# Older ones are left alone: the news is stale, and the sweep has acted on the lead since.
RENOTIFY_WITHIN = timedelta(hours=24)
# Per kind and pass, newest first: after a long outage the backlog drains over a few passes
# instead of one pass queueing everything inside the sweep's task timeout.
RENOTIFY_LIMIT = 1000


def _unclaimed(now: datetime) -> Q:
    return Q(
        notified_at__isnull=True,
        created_at__lt=now - RENOTIFY_AFTER,
        created_at__gte=now - RENOTIFY_WITHIN,
    )


def _ids(queryset: QuerySet) -> list[int]:
    return list(
        queryset.order_by("-created_at", "-pk").values_list("pk", flat=True)[:RENOTIFY_LIMIT]
    )


def renotify_lost(now: datetime) -> int:
    """Queue again the notification tasks of rows still unclaimed after ``RENOTIFY_AFTER``.

    Only news that still holds: an assignment that is the lead's latest row, to the rep
    who still owns the open lead (an escalation row: the managers' e-mail); a reminder to
    the owner of an open lead. Changes nothing, so it needs no locks: the notification
    functions claim their row with a conditional UPDATE, and a task that was only slow,
    or queued twice by two sweeps, sends once. Ids only, after commit.
    """
    is_open = Q(lead__status__in=OPEN_STATUSES)
    later = Assignment.objects.filter(lead=OuterRef("lead"), pk__gt=OuterRef("pk"))
    latest = Assignment.objects.filter(_unclaimed(now), is_open).exclude(Exists(later))
    tasks: list[tuple[str, int]] = []
    if lf_settings.NOTIFY_ON_ASSIGNMENT:
        assigned = latest.exclude(reason=AssignmentReason.ESCALATION).filter(
            to_rep__isnull=False, lead__owner=F("to_rep")
        )
        tasks += [("notify_assignment", pk) for pk in _ids(assigned)]
    escalated = latest.filter(reason=AssignmentReason.ESCALATION)
    tasks += [("notify_escalation", pk) for pk in _ids(escalated)]
    reminders = Reminder.objects.filter(
        _unclaimed(now), is_open, rep__isnull=False, lead__owner=F("rep")
    )
    tasks += [("notify_reminder", pk) for pk in _ids(reminders)]
    if tasks:
        with transaction.atomic():
            for task, object_id in tasks:
                enqueue_on_commit(task, object_id)
    return len(tasks)
