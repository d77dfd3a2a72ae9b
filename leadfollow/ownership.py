"""A lead's lifecycle: who owns it, until when, and why.

The only code that writes a lead's ``owner``, ``first_response_due``, ``assigned_at``,
``first_contacted_at``, ``escalated_at`` and ``reassignment_count``, and the only code
that writes ``Assignment`` rows. Every door calls it: intake, the sweep, the rep pages,
the API, the admin's forms and bulk actions, commands.

Each change writes exactly one Assignment row (from → to, reason, actor, deadline) and
queues its notification after commit. Routing only answers "who may take this lead".

The rules that keep people and the sweep from fighting:

- a rep who handed a lead back never gets it again from leadfollow (a manager may still
  give it to them); a rep who missed its deadline gets it again only when nobody else can;
- a manager's pick stands until the lead's new deadline: the sweep's handover skips it;
- an escalated lead belongs to the managers (no owner) until one of them assigns it;
- attempts are never before the lead arrived nor in the future.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import Case, Exists, F, OuterRef, QuerySet, Value, When
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from leadfollow import signals
from leadfollow.bulkwrite import insert_rows, update_rows
from leadfollow.businesshours import add_business_minutes
from leadfollow.calendars import rep_calendar, site_calendar
from leadfollow.conf import lf_settings
from leadfollow.jobs import enqueue_on_commit
from leadfollow.models import (
    OPEN_STATUSES,
    Assignment,
    AssignmentReason,
    ContactAttempt,
    Lead,
    LeadStatus,
    Outcome,
    RepProfile,
    WebhookEvent,
)
from leadfollow.prepared import PreparedUpdate
from leadfollow.routing import (
    Candidate,
    open_load_of_rep,
    pick_rep,
    sla_minutes,
    unavailability,
)
from leadfollow.webhooks import events

# The one place that says which outcomes close a lead.
OUTCOME_STATUS: dict[str, str] = {
    Outcome.DECISION_MAKER: LeadStatus.QUALIFIED,
    Outcome.MEETING_BOOKED: LeadStatus.QUALIFIED,
    Outcome.NOT_INTERESTED: LeadStatus.DISQUALIFIED,
}

# Closing a lead is an event for webhooks (reopening is not).
CLOSED_EVENTS: dict[str, str] = {
    LeadStatus.QUALIFIED: WebhookEvent.QUALIFIED,
    LeadStatus.DISQUALIFIED: WebhookEvent.DISQUALIFIED,
}

# A clock a minute ahead of the server's is still "now" (a rep's laptop, a phone).
FUTURE_TOLERANCE = timedelta(minutes=1)


class LifecycleError(ValidationError):
    """A change the lead's state does not allow. A ``ValidationError``, so forms show it
    and the API answers 400 with the message; nothing was changed."""


class LeadClosed(LifecycleError):
    def __init__(self, lead: Lead):
        super().__init__(
            _("This lead is %(status)s: reopen it before changing its owner."),
            code="closed",
            params={"status": lead.get_status_display()},
        )


class NotAssigned(LifecycleError):
    def __init__(self, lead: Lead):
        super().__init__(_("This lead is not assigned to anyone."), code="not_assigned")


class RepUnavailable(LifecycleError):
    """The chosen rep cannot take leads now; ``reasons`` say why. Confirm to assign anyway."""

    def __init__(self, profile: RepProfile, reasons: list[str]):
        self.reasons = reasons
        super().__init__(
            _("%(rep)s is unavailable (%(reasons)s). Confirm to assign anyway."),
            code="rep_unavailable",
            params={"rep": str(profile), "reasons": "; ".join(str(r) for r in reasons)},
        )


# --- reading the history ----------------------------------------------------------------------


def passed_over(leads: Collection[Lead]) -> tuple[dict[int, list], dict[int, set]]:
    """Per lead id: the reps it was taken from after a missed deadline (one entry per
    miss), and the reps who handed it back. One query, through the index on ``lead_id``,
    for the leads that were ever moved off a rep: every such move (a breach, a hand-back)
    counts in ``reassignment_count``, so a lead still at 0 — a sweep's usual first miss —
    has no such row and costs nothing.

    Not an ``Exists`` on the leads' query: PostgreSQL may hash such a subquery over every
    breach row ever written, a cost that grows with the history."""
    missed: dict[int, list] = defaultdict(list)
    handed_back: dict[int, set] = defaultdict(set)
    lead_ids = [lead.pk for lead in leads if lead.reassignment_count]
    if not lead_ids:
        return missed, handed_back
    rows = Assignment.objects.filter(
        lead_id__in=lead_ids,
        reason__in=[AssignmentReason.SLA_BREACH, AssignmentReason.HANDED_BACK],
    ).values_list("lead_id", "reason", "from_rep_id")
    for lead_id, reason, rep_id in rows:
        # Skipped here, not filtered in SQL: "from_rep IS NOT NULL" tempts PostgreSQL into
        # that column's index, which holds every breach ever written.
        if rep_id is None:
            continue
        if reason == AssignmentReason.SLA_BREACH:
            missed[lead_id].append(rep_id)
        else:
            handed_back[lead_id].add(rep_id)
    return missed, handed_back


def next_rep(
    lead: Lead,
    pick: Callable[..., Candidate | None],
    *,
    missed: Collection[int] = (),
    handed_back: Collection[int] = (),
) -> Candidate | None:
    """Who leadfollow gives ``lead`` to next (a hand-back, the sweep, a heat-up, a
    manager's "next available rep"): not its owner, never a rep who handed it back, and a
    rep who missed it (``missed``, from :func:`passed_over`) only when nobody else can.
    ``pick(exclude_user_ids=…)`` is routing's choice (``pick_rep`` or a sweep's pool)."""
    keep_off = {*handed_back, *([lead.owner_id] if lead.owner_id else [])}
    return pick(exclude_user_ids=keep_off | set(missed)) or pick(exclude_user_ids=keep_off)


def managers_pick() -> Exists:
    """The lead's current owner was picked by a manager: their latest row is ``manual``
    (``assigned_at`` is that row's time). The pick stands until its deadline: leadfollow
    moves such a lead only when it breaches (the sweep's breach path)."""
    return Exists(
        Assignment.objects.filter(
            lead=OuterRef("pk"),
            reason=AssignmentReason.MANUAL,
            created_at=OuterRef("assigned_at"),
            to_rep=OuterRef("owner"),
        )
    )


# --- the one writer ----------------------------------------------------------------------------


def _note_pick(profile: RepProfile, candidate: Candidate | None, now: datetime) -> None:
    """The strategy's state, in memory at once (the next pick in a batch sees it): who was
    picked last, and the weighted router's clock. Saved by the caller."""
    profile.last_assigned_at = now
    if candidate is not None and candidate.routing_pass is not None:
        profile.routing_pass = candidate.routing_pass


_PICK_FIELDS = ["last_assigned_at", "routing_pass"]


def _picked(profile: RepProfile) -> dict:
    """The pick's columns of a rep's row, as routing left them on ``profile``."""
    return {name: getattr(profile, name) for name in _PICK_FIELDS}


_LEAD_FIELDS = [
    "owner",
    "first_response_due",
    "assigned_at",
    "escalated_at",
    "reassignment_count",
    "updated_at",
]


def _stage(
    lead: Lead,
    to: RepProfile | Candidate | None,
    *,
    reason: str,
    now: datetime,
    actor=None,
    sla: int | None = None,
    keep_deadline: bool = False,
    note: str = "",
    escalated_at: datetime | None = None,
) -> tuple[Assignment, RepProfile | None]:
    """Apply the change to ``lead`` in memory and return its (unsaved) Assignment row and
    the new owner's profile: give it to ``to`` (a profile, a routing candidate or nobody),
    with a deadline in the new owner's business hours unless ``keep_deadline``."""
    candidate = to if isinstance(to, Candidate) else None
    profile = candidate.profile if candidate is not None else to
    previous_owner_id = lead.owner_id
    if not keep_deadline:
        minutes = sla if sla is not None else sla_minutes(lead)
        if candidate is not None and candidate.calendar is not None:
            calendar = candidate.calendar  # routing read it for this pick
        else:
            calendar = rep_calendar(profile) if profile is not None else site_calendar()
        if not calendar.has_hours:
            # A rep saved with no working window (before validation refused that) can only
            # be chosen by a manager who confirmed "no working hours": count the deadline in
            # the site's hours rather than fail the assignment.
            calendar = site_calendar()
        lead.first_response_due = add_business_minutes(now, minutes, calendar)
    lead.owner = profile.user if profile is not None else None
    if profile is not None:
        _note_pick(profile, candidate, now)
    lead.assigned_at = now
    lead.escalated_at = escalated_at
    lead.updated_at = now
    assignment = Assignment(
        lead=lead,
        from_rep_id=previous_owner_id,
        to_rep=lead.owner,
        reason=reason,
        actor=actor,
        created_at=now,
        first_response_due=lead.first_response_due,
        note=note[:200],
    )
    return assignment, profile


def _announce(lead: Lead, assignment: Assignment) -> None:
    """Signals now (receivers run in the transaction); notifications after commit. The
    webhook event is the caller's (``events.emit_assignments``: once per batch)."""
    if assignment.reason == AssignmentReason.ESCALATION:
        signals.lead_escalated.send(sender=Lead, lead=lead, assignment=assignment)
        enqueue_on_commit("notify_escalation", assignment.pk)
        return
    signals.lead_assigned.send(sender=Lead, lead=lead, assignment=assignment)
    if assignment.from_rep_id is not None or assignment.reason != AssignmentReason.INTAKE:
        signals.lead_reassigned.send(sender=Lead, lead=lead, assignment=assignment)
    if lead.owner_id and lf_settings.NOTIFY_ON_ASSIGNMENT:
        enqueue_on_commit("notify_assignment", assignment.pk)


def _write(lead: Lead, to, *, slot_taken: bool = False, **change) -> Assignment:
    """One change, written at once: the rep's pick (unless ``_take_slot`` wrote it), the
    lead, its Assignment row."""
    assignment, profile = _stage(lead, to, **change)
    if profile is not None and not slot_taken:
        RepProfile.objects.filter(pk=profile.pk).update(**_picked(profile))
    if lead.pk is None:
        # A new lead (intake) is inserted with its owner and deadline: no UPDATE after.
        lead.save(force_insert=True)
        signals.lead_received.send(sender=Lead, lead=lead, created=True)
    else:
        lead.save(update_fields=_LEAD_FIELDS)
    assignment.save()
    events.emit_assignments([(lead, assignment)])  # delivery rows commit with the change
    _announce(lead, assignment)
    return assignment


class MoveBatch:
    """The sweep's moves of one locked batch, written in a constant number of statements:
    one UPDATE of the leads, one INSERT of their Assignment rows, one UPDATE of the reps.
    Each ``move()`` changes the lead and the rep in memory at once (routing sees it for
    the next lead); ``flush()`` writes them and then signals and notifies per lead."""

    def __init__(self, *, reason: str, now: datetime):
        self.reason, self.now = reason, now
        self._staged: list[tuple[Lead, Assignment]] = []
        self._profiles: dict[int, RepProfile] = {}

    def move(self, lead: Lead, candidate: Candidate) -> None:
        sla = _handover_sla(lead)
        if lead.owner_id:
            lead.reassignment_count += 1
        assignment, profile = _stage(lead, candidate, reason=self.reason, now=self.now, sla=sla)
        self._staged.append((lead, assignment))
        self._profiles[profile.pk] = profile

    def __len__(self) -> int:
        return len(self._staged)

    def flush(self) -> list[Assignment]:
        if not self._staged:
            return []
        leads = [lead for lead, _ in self._staged]
        update_rows(leads, _LEAD_FIELDS)
        rows = insert_rows([row for _, row in self._staged])
        update_rows(list(self._profiles.values()), _PICK_FIELDS)
        pairs = list(zip(leads, rows, strict=True))
        events.emit_assignments(pairs)  # one read of the endpoints, one INSERT
        for lead, row in pairs:
            _announce(lead, row)
        self._staged, self._profiles = [], {}
        return rows


def _handover_sla(lead: Lead) -> int | None:
    """A lead taken from someone gets the (shorter) handover deadline; a first owner the
    usual one."""
    return lf_settings.REASSIGNMENT_SLA_MINUTES if lead.owner_id else None


def _locked(lead: Lead) -> Lead:
    """Lock the row and refresh ``lead`` from it: the caller's copy may be stale."""
    fresh = Lead.objects.select_for_update(of=("self",)).get(pk=lead.pk)
    for field in Lead._meta.concrete_fields:
        setattr(lead, field.attname, getattr(fresh, field.attname))
    lead._state.fields_cache.clear()
    return lead


def _require_open(lead: Lead) -> None:
    if not lead.is_open:
        raise LeadClosed(lead)


# --- the doors --------------------------------------------------------------------------------


def assign_at_intake(lead: Lead, *, now: datetime, actor=None) -> Assignment:
    """A new lead's first owner (routing's choice; nobody when nobody can take it) and its
    first-response deadline in that owner's business hours. An unsaved ``lead`` (intake)
    is inserted here, owner and deadline set, after the rep's row is locked; then
    ``lead_received`` is sent.

    The loads are read with the rep locks (one statement) and the chosen rep's slot is
    taken by an UPDATE that counts again; only when that fails (a concurrent intake filled
    it) or nobody seemed to have room does routing count again after the locks."""
    candidate = pick_rep(now, lead=lead, exact=False)
    if candidate is None or not _take_slot(candidate, now):
        candidate = pick_rep(now, lead=lead)
        if candidate is not None:
            _take_slot(candidate, now, recount=False)
    return _write(
        lead, candidate, reason=AssignmentReason.INTAKE, now=now, actor=actor, slot_taken=True
    )


def _take_slot(candidate: Candidate, now: datetime, *, recount: bool = True) -> bool:
    """Record the pick on the rep's row (their lock is held) if they still have room,
    counted by this statement: it starts after the lock was granted, so it sees every
    lead committed to them before."""
    profile = candidate.profile
    _note_pick(profile, candidate, now)
    shape = (recount, lf_settings.DEFAULT_REP_CAPACITY)
    using = router.db_for_write(RepProfile)
    return _TAKE_SLOT(shape, using, pk=profile.pk, **_picked(profile)) == 1


def _slot_update(shape: tuple, *, pk, **values) -> tuple[QuerySet, dict]:
    recount, default_capacity = shape
    rows = RepProfile.objects.filter(pk=pk)
    if recount:
        room = Coalesce(F("capacity"), Value(default_capacity))
        rows = rows.alias(load=open_load_of_rep()).filter(load__lt=room)
    return rows, values


# Intake takes a slot for every lead: compiled once (building the recount's subquery
# cost Django more CPU than the database spends on the statement).
_TAKE_SLOT = PreparedUpdate(_slot_update)


def move(lead: Lead, candidate: Candidate, *, reason: str, now: datetime, actor=None):
    """Give an open lead to ``candidate`` after a breach, an absence or a manager's
    "next rep": the handover deadline, one more reassignment on the count. The caller
    holds the lead's row lock (the sweep's batch, or ``reassign_to_next``)."""
    if lead.owner_id:
        lead.reassignment_count += 1
    return _write(lead, candidate, reason=reason, now=now, actor=actor, sla=_handover_sla(lead))


def escalate(lead: Lead, *, now: datetime, actor=None) -> Assignment:
    """Hand the lead to the managers: no owner, ``escalated_at`` stamped, managers told.

    It leaves "cold now" (people must act, the sweep stops moving it) and waits in the
    managers' escalations list until one of them assigns it."""
    return _write(
        lead,
        None,
        reason=AssignmentReason.ESCALATION,
        now=now,
        actor=actor,
        keep_deadline=True,
        escalated_at=now,
    )


@transaction.atomic
def hand_back(lead: Lead, *, actor, note: str = "", now: datetime | None = None) -> Assignment:
    """The owner gives the lead back ("wrong territory"): it goes at once to another rep
    who can take it (the handover deadline), or to nobody, keeping its deadline, until
    someone can. leadfollow never gives it back to this rep; ``note`` says why."""
    now = now or timezone.now()
    _locked(lead)
    _require_open(lead)
    if lead.owner_id is None:
        raise NotAssigned(lead)
    missed, handed_back = passed_over([lead])
    candidate = next_rep(
        lead,
        lambda **exclude: pick_rep(now, lead=lead, **exclude),
        missed=missed[lead.pk],
        handed_back=handed_back[lead.pk],
    )
    lead.reassignment_count += 1
    if candidate is None:
        return _write(
            lead, None, reason=AssignmentReason.HANDED_BACK, now=now, actor=actor,
            keep_deadline=True, note=note,
        )  # fmt: skip
    return _write(
        lead, candidate, reason=AssignmentReason.HANDED_BACK, now=now, actor=actor,
        sla=lf_settings.REASSIGNMENT_SLA_MINUTES, note=note,
    )  # fmt: skip


@transaction.atomic
def assign_by_manager(
    lead: Lead,
    profile: RepProfile,
    *,
    actor,
    now: datetime | None = None,
    confirm_unavailable: bool = False,
) -> Assignment | None:
    """A manager gives the lead to ``profile``'s rep. Returns None when they own it already.

    A rep who cannot take leads now (absent, off hours, not accepting, full) needs
    ``confirm_unavailable``; otherwise ``RepUnavailable`` says why. The pick stands until
    the new deadline: the sweep's handover leaves it alone. Clears an escalation."""
    now = now or timezone.now()
    _locked(lead)
    _require_open(lead)
    if lead.owner_id == profile.user_id and lead.escalated_at is None:
        return None
    reasons = unavailability(profile, now)
    if reasons and not confirm_unavailable:
        raise RepUnavailable(profile, reasons)
    if lead.owner_id:
        lead.reassignment_count += 1
    return _write(
        lead, profile, reason=AssignmentReason.MANUAL, now=now, actor=actor,
        sla=_handover_sla(lead),
    )  # fmt: skip


# --- contact ---------------------------------------------------------------------------------


def attempt_time_error(lead: Lead, at: datetime, now: datetime | None = None):
    """Why ``at`` cannot be when someone tried to reach ``lead`` (None when it can)."""
    now = now or timezone.now()
    if at < lead.received_at:
        return _("An attempt cannot be before the lead arrived (%(received)s).") % {
            "received": date_format(timezone.localtime(lead.received_at), "DATETIME_FORMAT")
        }
    if at > now + FUTURE_TOLERANCE:
        return _("An attempt cannot be in the future.")
    return None


def stops_clock(attempt: ContactAttempt) -> bool:
    return not attempt.automated or lf_settings.AUTOMATED_ATTEMPTS_STOP_CLOCK


@transaction.atomic
def record_attempt(
    lead: Lead,
    *,
    rep,
    channel: str,
    outcome: str,
    note: str = "",
    attempted_at: datetime | None = None,
    automated: bool = False,
    next_follow_up_at: datetime | None = None,
) -> ContactAttempt:
    """Store an attempt and stamp the lead's contact times; ``ValidationError`` (nothing
    stored) when ``attempted_at`` is before the lead arrived or in the future.

    The stamps are computed in SQL (earliest first contact, latest last contact) under a
    row lock, so two attempts logged at once, or one logged late, leave the right times.
    """
    now = timezone.now()
    attempted_at = attempted_at or now
    _locked(lead)
    if error := attempt_time_error(lead, attempted_at, now):
        raise LifecycleError({"attempted_at": [error]}, code="invalid_time")
    was_contacted = lead.first_contacted_at is not None
    attempt = ContactAttempt.objects.create(
        lead=lead,
        rep=rep,
        channel=channel,
        outcome=outcome,
        note=note,
        attempted_at=attempted_at,
        automated=automated,
    )
    at = Value(attempt.attempted_at)
    changes = {"last_contacted_at": Coalesce(Greatest(F("last_contacted_at"), at), at)}
    first = stops_clock(attempt) and not was_contacted
    if stops_clock(attempt):
        changes["first_contacted_at"] = Coalesce(Least(F("first_contacted_at"), at), at)
        # Only a person working the lead makes it "working"; an auto-reply does not.
        changes["status"] = Case(
            When(status=LeadStatus.NEW, then=Value(LeadStatus.WORKING)), default=F("status")
        )
    if next_follow_up_at is not None:
        changes["next_follow_up_at"] = next_follow_up_at
    Lead.objects.filter(pk=lead.pk).update(**changes, updated_at=now)
    lead.refresh_from_db()
    signals.lead_contacted.send(sender=Lead, lead=lead, attempt=attempt, first=first)
    if first:
        events.emit_contacted(lead, attempt)
    return attempt


@transaction.atomic
def log_attempt(
    lead: Lead,
    *,
    rep,
    channel: str,
    outcome: str,
    note: str = "",
    next_follow_up_at: datetime | None = None,
    attempted_at: datetime | None = None,
    automated: bool = False,
) -> ContactAttempt:
    """What a person logs (rep page, API, admin): the attempt, then its outcome. An outcome
    in ``OUTCOME_STATUS`` closes the lead; a follow-up that was already due counts as done,
    unless the rep scheduled the next one."""
    attempt = record_attempt(
        lead,
        rep=rep,
        channel=channel,
        outcome=outcome,
        note=note,
        attempted_at=attempted_at,
        automated=automated,
        next_follow_up_at=next_follow_up_at,
    )
    if outcome in OUTCOME_STATUS:
        set_status(lead, OUTCOME_STATUS[outcome], at=attempt.attempted_at)
    if (
        next_follow_up_at is None
        and lead.next_follow_up_at is not None
        and lead.next_follow_up_at <= attempt.attempted_at
    ):
        schedule_follow_up(lead, None)
    return attempt


@transaction.atomic
def correct_attempt(attempt: ContactAttempt, fields: Collection[str]) -> None:
    """Save a logged attempt's corrected ``fields`` (channel, outcome, note; never its
    lead, rep or time, which the lead's contact times come from). An outcome corrected to
    one in ``OUTCOME_STATUS`` settles the lead as logging it would have."""
    attempt.save(update_fields=list(fields))
    if "outcome" in fields and attempt.outcome in OUTCOME_STATUS:
        set_status(attempt.lead, OUTCOME_STATUS[attempt.outcome], at=attempt.attempted_at)


def set_status(lead: Lead, status: str, *, at: datetime | None = None) -> None:
    """Close (qualified, disqualified) or reopen (new, working) a lead. Closing stamps
    ``decided_at`` (``at``, default now: the outcome report's time to qualification)."""
    LeadStatus(status)  # ValueError on anything else
    now = timezone.now()
    changed = lead.status != status
    if status in OPEN_STATUSES:
        decided_at = None
    elif not changed and lead.decided_at is not None:
        decided_at = lead.decided_at  # saying "qualified" twice keeps the first time
    else:
        decided_at = at or now
    Lead.objects.filter(pk=lead.pk).update(status=status, decided_at=decided_at, updated_at=now)
    lead.status, lead.decided_at, lead.updated_at = status, decided_at, now
    if changed and status in CLOSED_EVENTS:
        events.emit(CLOSED_EVENTS[status], lead, now=now)


def schedule_follow_up(lead: Lead, at: datetime | None) -> None:
    """Set (or with ``None`` clear) the next follow-up time."""
    now = timezone.now()
    Lead.objects.filter(pk=lead.pk).update(next_follow_up_at=at, updated_at=now)
    lead.next_follow_up_at, lead.updated_at = at, now


def schedule_follow_ups(leads: Collection[Lead], at: datetime) -> int:
    """``schedule_follow_up`` for many leads in one UPDATE (a heat-up: "call them now")."""
    if not leads:
        return 0
    now = timezone.now()
    count = Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(
        next_follow_up_at=at, updated_at=now
    )
    for lead in leads:
        lead.next_follow_up_at, lead.updated_at = at, now
    return count
