"""Engagement: what a lead does after intake, the behaviour part of its score, heating up.

The behaviour points of a lead (``Lead.engagement_score``, part of ``Lead.score``) are

* the decaying engagement score: each event in the last ``ENGAGEMENT_WINDOW_DAYS`` earns
  its type's ``ENGAGEMENT_POINTS``, halved for every ``ENGAGEMENT_HALF_LIFE_DAYS`` of its
  age: ``floor(sum of floor(1000 · points · 0.5^(age / half-life)) / 1000)``, age in whole
  seconds (``now`` and ``occurred_at`` each truncated to the second), capped at 64
  half-lives; plus
* every active ``EngagementRule`` "at least N events of type T within D days → P points"
  the lead meets.

Two evaluators give the same answers (tests/test_scoring_property.py): ``engagement_points``
(Python, from a lead's events) and ``engagement_expression`` (SQL, one correlated subquery
per lead row). Each event's share is rounded down to a whole milli-point the same way in
both, so the sum is exact whatever order the database adds in; ``POWER`` is the C
library's ``pow`` on both sides (PostgreSQL's ``dpow``, Python's float power, which
Django's SQLite ``POWER`` calls).

Stored scores are refreshed when events arrive (``record_events``: only the leads they
touch) and by the hourly ``decay_engagement`` pass (only rows whose score changes).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, connections, transaction
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from leadfollow import ownership, routing, rulecache, signals
from leadfollow.bulkwrite import update_rows
from leadfollow.conf import lf_settings
from leadfollow.jobs import enqueue_on_commit
from leadfollow.jsonsafety import validate_json_value
from leadfollow.models import (
    AssignmentReason,
    EngagementEvent,
    EngagementRule,
    EventType,
    Lead,
    Reminder,
    ReminderKind,
)
from leadfollow.urgency import VendorFunc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)
MAX_EXPONENT = 64.0  # half-lives; beyond, an event earns 0 (PostgreSQL raises on underflow)
#: Clocks a minute ahead of ours still send "now".
FUTURE_TOLERANCE = timedelta(minutes=1)
#: The ``source`` of events leadfollow records itself (repeat forms) and of the site's
#: own tracking (``leadfollow.tracking``).
INTERNAL_SOURCE = "leadfollow"
SITE_SOURCE = "site"
EVENT_FIELDS = frozenset(
    {"type", "occurred_at", "id", "properties", "lead_id", "email", "external_id", "lead_source"}
)


def active_rules() -> list[EngagementRule]:
    """The active engagement rules, cached per process (``leadfollow.rulecache``)."""
    return rulecache.cached(
        "engagement",
        lambda: list(EngagementRule.objects.filter(active=True).order_by("name", "pk")),
    )


def weights() -> dict[str, float]:
    """Points per event type (``ENGAGEMENT_POINTS``; unknown types earn 0)."""
    configured = lf_settings.ENGAGEMENT_POINTS or {}
    return {t: float(configured.get(t, 0)) for t in EventType.values}


def whole_seconds(at: datetime) -> int:
    """Unix seconds of ``at``, rounded down: what both evaluators measure ages in."""
    return (at - EPOCH) // SECOND


@dataclass(frozen=True)
class Scorer:
    """The parameters of one evaluation, read once (settings, rules, ``now``)."""

    now: datetime
    rules: tuple[EngagementRule, ...]
    weights: Mapping[str, float]
    half_life_seconds: float
    window_days: int

    @classmethod
    def current(
        cls, now: datetime | None = None, rules: Sequence[EngagementRule] | None = None
    ) -> Scorer:
        return cls(
            now=now or timezone.now(),
            rules=tuple(active_rules() if rules is None else rules),
            weights=weights(),
            half_life_seconds=float(lf_settings.ENGAGEMENT_HALF_LIFE_DAYS) * 86400.0,
            window_days=int(lf_settings.ENGAGEMENT_WINDOW_DAYS),
        )

    @property
    def window_start(self) -> datetime:
        return self.now - timedelta(days=self.window_days)

    def rule_start(self, rule: EngagementRule) -> datetime:
        return self.now - timedelta(days=rule.within_days)

    @property
    def earliest(self) -> datetime:
        """No evaluation reads events older than this."""
        return min([self.window_start, *(self.rule_start(r) for r in self.rules)])

    # --- Python ---------------------------------------------------------------------------

    def milli(self, event_type: str, occurred_at: datetime) -> int:
        """One event's share in milli-points (0 outside the window)."""
        if occurred_at < self.window_start:
            return 0
        weight = self.weights.get(event_type, 0.0) * 1000.0
        age = max(whole_seconds(self.now) - whole_seconds(occurred_at), 0)
        return math.floor(weight * 0.5 ** min(age / self.half_life_seconds, MAX_EXPONENT))

    def rule_counts(self, events: Sequence[tuple[str, datetime]]) -> list[tuple[Any, int]]:
        return [
            (
                rule,
                sum(1 for t, at in events if t == rule.event_type and at >= self.rule_start(rule)),
            )
            for rule in self.rules
        ]

    def points(self, events: Iterable[tuple[str, datetime]]) -> int:
        """The behaviour points of a lead with these (type, occurred_at) events."""
        events = list(events)
        decayed = sum(self.milli(t, at) for t, at in events) // 1000
        earned = sum(r.points for r, n in self.rule_counts(events) if n >= r.min_events)
        return decayed + earned

    # --- SQL --------------------------------------------------------------------------------

    def expression(self, lead_ref: Any = None):
        """The behaviour points of each lead row, as one correlated subquery (0 without
        events). ``lead_ref``: the expression of the lead's id (default ``OuterRef("pk")``)."""
        weight = Case(
            *(When(type=t, then=Value(w * 1000.0)) for t, w in self.weights.items() if w),
            default=Value(0.0),
            output_field=FloatField(),
        )
        milli = _DecayedMilli(
            weight, F("occurred_at"), now_seconds=whole_seconds(self.now),
            half_life_seconds=self.half_life_seconds,
        )  # fmt: skip
        total = Coalesce(
            Sum(milli, filter=Q(occurred_at__gte=self.window_start)), Value(0)
        ) / Value(1000)
        for rule in self.rules:
            if not rule.points:
                continue
            count = Count(
                "pk", filter=Q(type=rule.event_type, occurred_at__gte=self.rule_start(rule))
            )
            total = total + Case(
                When(GreaterThanOrEqual(count, rule.min_events), then=Value(rule.points)),
                default=Value(0),
                output_field=IntegerField(),
            )
        events = (
            EngagementEvent.objects.filter(
                lead_id=OuterRef("pk") if lead_ref is None else lead_ref,
                occurred_at__gte=self.earliest,
            )
            .order_by()
            .values("lead_id")
            .annotate(points=total)
            .values("points")
        )
        return Coalesce(Subquery(events[:1], output_field=IntegerField()), Value(0))


class _DecayedMilli(VendorFunc):
    """``floor(weight · 0.5^min(max(now_s − floor(epoch(occurred_at)), 0) / half-life, 64))``
    as an integer, spelled per database with the same operations as ``Scorer.milli``."""

    output_field = IntegerField()

    def __init__(self, weight, occurred_at, *, now_seconds: int, half_life_seconds: float):
        self.now_seconds, self.half_life_seconds = now_seconds, half_life_seconds
        super().__init__(weight, occurred_at)

    def _parts(self, compiler):
        weight, occurred = (compiler.compile(e) for e in self.source_expressions)
        return weight, occurred

    def as_postgresql(self, compiler, connection, **extra):
        (w_sql, w_params), (t_sql, t_params) = self._parts(compiler)
        sql = (
            f"CAST(FLOOR(({w_sql}) * POWER(CAST(0.5 AS double precision), LEAST("
            f"CAST(GREATEST(%s - FLOOR(EXTRACT(EPOCH FROM {t_sql})), 0) AS double precision)"
            f" / %s, CAST(%s AS double precision)))) AS integer)"
        )
        params = (*w_params, self.now_seconds, *t_params, self.half_life_seconds, MAX_EXPONENT)
        return sql, params

    def as_sqlite(self, compiler, connection, **extra):
        (w_sql, w_params), (t_sql, t_params) = self._parts(compiler)
        # Django stores datetimes in SQLite as UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]".
        # The first 19 characters: strftime() rounds fractions to milliseconds, so
        # ".99966" would count as the next second.
        sql = (
            f"CAST(FLOOR(({w_sql}) * POWER(0.5, MIN("
            f"CAST(MAX(%s - CAST(STRFTIME('%%s', SUBSTR({t_sql}, 1, 19)) AS INTEGER), 0)"
            f" AS REAL)"
            f" / %s, %s))) AS INTEGER)"
        )
        params = (*w_params, self.now_seconds, *t_params, self.half_life_seconds, MAX_EXPONENT)
        return sql, params


def engagement_points(
    events: Iterable[tuple[str, datetime]],
    *,
    now: datetime | None = None,
    rules: Sequence[EngagementRule] | None = None,
) -> int:
    """Python: the behaviour points of a lead with these (type, occurred_at) events."""
    return Scorer.current(now, rules).points(events)


def engagement_expression(now: datetime | None = None, rules=None):
    """SQL: the behaviour points of each lead row (see ``Scorer.expression``)."""
    return Scorer.current(now, rules).expression()


@dataclass
class Explanation:
    """Which events earned what: per type (count, points with decimals) and per rule."""

    by_type: list[dict] = field(default_factory=list)  # type, label, count, points
    rules: list[dict] = field(default_factory=list)  # rule, count, points (0: not met)
    decayed: int = 0
    total: int = 0


def explain_engagement(lead: Lead, now: datetime | None = None) -> Explanation:
    """The behaviour points of ``lead`` now, itemised (sum = ``Explanation.total``)."""
    scorer = Scorer.current(now)
    events = list(
        lead.engagement_events.filter(occurred_at__gte=scorer.earliest).values_list(
            "type", "occurred_at"
        )
    )
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for event_type, at in events:
        if at >= scorer.window_start:
            by_type[event_type][0] += 1
            by_type[event_type][1] += scorer.milli(event_type, at)
    explanation = Explanation(decayed=sum(m for _n, m in by_type.values()) // 1000)
    for event_type, (count, milli) in sorted(by_type.items()):
        explanation.by_type.append(
            {"type": event_type, "label": EventType(event_type).label, "count": count,
             "points": round(milli / 1000, 1)}
        )  # fmt: skip
    for rule, count in scorer.rule_counts(events):
        met = count >= rule.min_events
        explanation.rules.append(
            {"rule": rule, "count": count, "points": rule.points if met else 0}
        )
    explanation.total = explanation.decayed + sum(r["points"] for r in explanation.rules)
    return explanation


# --- refreshing stored scores ----------------------------------------------------------------


def _cools(lead: Lead, score: int, now: datetime) -> bool:
    """A heated lead cools once the cooldown passed and it is below the hot threshold."""
    if lead.heated_up_at is None:
        return False
    hot = lf_settings.HOT_SCORE_THRESHOLD
    cooldown = timedelta(hours=lf_settings.HEATING_UP_COOLDOWN_HOURS)
    return lead.heated_up_at <= now - cooldown and (hot is None or score < hot)


def _heats_up(before: int, after: int) -> bool:
    hot, jump = lf_settings.HOT_SCORE_THRESHOLD, lf_settings.HEATING_UP_JUMP
    if hot is not None and before < hot <= after:
        return True
    return jump is not None and after - before >= jump


_REFRESHED_FIELDS = ["score", "engagement_score", "heated_up_at", "updated_at"]


def _write_scores(leads: Sequence[Lead], now: datetime) -> None:
    """One UPDATE of the leads' scores and heated state (``bulkwrite``: from arrays on
    PostgreSQL; ``bulk_update``'s CASE per field and row cost more than the rest of a
    500-event batch)."""
    for lead in leads:
        lead.updated_at = now
    update_rows(leads, _REFRESHED_FIELDS)


def _locking(queryset):
    """Row locks in primary-key order (concurrent batches queue, never deadlock). NO KEY
    UPDATE: new events' foreign keys hold KEY SHARE locks on their leads, which a plain
    FOR UPDATE would wait for."""
    return queryset.order_by("pk").select_for_update(of=("self",), no_key=True)


def refresh_leads(lead_ids: Iterable[int], *, now: datetime, locked: bool = False) -> list[Lead]:
    """Recompute the behaviour points of these leads after new events, under row locks
    (taken here unless ``locked``: the caller holds them), and react to the ones that heat
    up. A constant number of statements for any number of leads (plus a move for each
    heated lead whose owner is away). Returns the leads that heated up. Call inside
    ``transaction.atomic()``."""
    ids = sorted(set(lead_ids))
    if not ids:
        return []
    scorer = Scorer.current(now)
    if not locked:
        list(_locking(Lead.objects.filter(pk__in=ids)).values_list("pk", flat=True))
    # A statement after the lock: under READ COMMITTED its snapshot sees the events of
    # every batch that held these rows before us (the locking statement's would not).
    leads = list(
        Lead.objects.filter(pk__in=ids).order_by("pk").annotate(new_engagement=scorer.expression())
    )
    changed, heated = [], []
    for lead in leads:
        before = lead.score
        after = before - lead.engagement_score + lead.new_engagement
        if after == before and lead.new_engagement == lead.engagement_score:
            continue
        lead.score, lead.engagement_score, lead.updated_at = after, lead.new_engagement, now
        if _cools(lead, after, now):
            lead.heated_up_at = None
        if lead.heated_up_at is None and lead.is_open and _heats_up(before, after):
            lead.heated_up_at = now
            heated.append(lead)
        changed.append(lead)
    _write_scores(changed, now)
    if heated:
        react_to_heat_up(heated, now=now)
    return heated


def _hand_over(leads: Sequence[Lead], now: datetime) -> None:
    """Heated leads whose owner cannot call now go to a rep who is working now, by the
    lifecycle's rules: never to one who handed them back; a manager's pick stands."""
    ids = [lead.pk for lead in leads]
    picked = set(
        Lead.objects.filter(ownership.managers_pick(), pk__in=ids).values_list("pk", flat=True)
    )
    missed, handed_back = ownership.passed_over(leads)
    for lead in leads:
        if lead.pk in picked:
            continue
        candidate = ownership.next_rep(
            lead,
            lambda **exclude: routing.pick_rep(now, lead=lead, **exclude),  # noqa: B023
            missed=missed[lead.pk],
            handed_back=handed_back[lead.pk],
        )
        if candidate is not None and candidate.starts_at <= now:
            ownership.move(lead, candidate, reason=AssignmentReason.REP_UNAVAILABLE, now=now)


def react_to_heat_up(leads: Sequence[Lead], *, now: datetime) -> list[Reminder]:
    """What heating up does, for leads whose row lock the caller holds:

    * an uncontacted lead whose owner is unavailable now (absent, paused, not accepting,
      outside working hours; or nobody owns it) goes to a rep who is working now
      (``ownership.next_rep``: never one who handed it back), through ``ownership.move``
      (nothing happens when nobody is; escalated leads and a manager's pick stay put);
    * a contacted lead nobody contacted for ``HEATING_UP_QUIET_HOURS`` gets a follow-up
      due now (``ownership.schedule_follow_ups``);
    * the (new) owner gets one ``heating_up`` reminder, e-mailed after commit
      (``notifications.notify_reminder``); ``signals.lead_heated_up`` is sent.
    """
    owners = {lead.owner_id for lead in leads if lead.owner_id}
    available = routing.available_now(owners, now)
    stranded = [
        lead
        for lead in leads
        if lead.first_contacted_at is None
        and lead.escalated_at is None
        and lead.owner_id not in available
    ]
    if stranded:
        _hand_over(stranded, now)
    quiet_since = now - timedelta(hours=lf_settings.HEATING_UP_QUIET_HOURS)
    quiet = [
        lead
        for lead in leads
        if lead.first_contacted_at is not None
        and (lead.last_contacted_at is None or lead.last_contacted_at <= quiet_since)
        and (lead.next_follow_up_at is None or lead.next_follow_up_at > now)
    ]
    ownership.schedule_follow_ups(quiet, now)
    reminders = Reminder.objects.bulk_create(
        [
            Reminder(lead=lead, kind=ReminderKind.HEATING_UP, due_at=now, rep_id=lead.owner_id)
            for lead in leads
            if lead.owner_id
        ]
    )
    by_lead = {reminder.lead_id: reminder for reminder in reminders}
    for lead in leads:
        reminder = by_lead.get(lead.pk)
        signals.lead_heated_up.send(sender=Lead, lead=lead, reminder=reminder)
        if reminder is not None:
            enqueue_on_commit("notify_reminder", reminder.pk)
    return reminders


def decay_engagement(now: datetime | None = None, *, batch_size: int | None = None) -> int:
    """The periodic pass: recompute the behaviour points of every lead that has some, a
    heat-up to cool, or events in the window; write only the rows whose score (or heated
    state) changes. Rows locked by an ingest are skipped (it computes them fresh). Only
    events heat a lead up, never the passing of time (a negative count rule that stops
    applying can raise a score here, silently). Returns how many rows changed."""
    scorer = Scorer.current(now)
    now = scorer.now
    batch_size = batch_size or lf_settings.ENGAGEMENT_BATCH_SIZE
    recent = EngagementEvent.objects.filter(occurred_at__gte=scorer.earliest).values("lead_id")
    candidates = Lead.objects.filter(
        ~Q(engagement_score=0) | Q(heated_up_at__isnull=False) | Q(pk__in=recent)
    )
    changed_total, last_pk = 0, 0
    while True:
        with transaction.atomic():
            locking = _locking(candidates.filter(pk__gt=last_pk)).select_for_update(
                skip_locked=True, of=("self",), no_key=True
            )
            ids = list(locking.values_list("pk", flat=True)[:batch_size])
            rows = list(
                Lead.objects.filter(pk__in=ids)
                .order_by("pk")
                .annotate(new_engagement=scorer.expression())
                .only("pk", "score", "engagement_score", "heated_up_at")
            )
            changed = []
            for lead in rows:
                after = lead.score - lead.engagement_score + lead.new_engagement
                cooled = _cools(lead, after, now)
                if lead.new_engagement == lead.engagement_score and not cooled:
                    continue
                lead.score, lead.engagement_score, lead.updated_at = (
                    after, lead.new_engagement, now,
                )  # fmt: skip
                if cooled:
                    lead.heated_up_at = None
                changed.append(lead)
            _write_scores(changed, now)
        changed_total += len(changed)
        if len(ids) < batch_size:
            return changed_total
        last_pk = ids[-1]


# --- recording events --------------------------------------------------------------------------


@dataclass
class ItemResult:
    """The answer for one event of a batch: ``status`` is its HTTP-like code."""

    status: int
    body: dict[str, Any]


@dataclass
class _Clean:
    index: int
    type: str
    occurred_at: datetime
    idempotency_id: str | None
    properties: dict
    address: tuple[str, Any]  # ("lead_id", 5) / ("email", "a@b") / ("external_id", (src, id))


def _text(value, name: str, errors: dict, *, max_length: int, numbers: bool = False):
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or len(value) > max_length or "\x00" in value:
        errors[name] = [_("Enter a text of 1 to %(max)d characters.") % {"max": max_length}]
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        errors[name] = [_("Enter valid Unicode text.")]
        return None
    return value


def validate_event(item: Any, *, source: str, index: int, now: datetime) -> _Clean | dict:
    """One event of a request, cleaned, or its errors {field: [messages]}."""
    if not isinstance(item, dict):
        return {"non_field_errors": [_("Send each event as a JSON object.")]}
    errors: dict[str, list] = {}
    unknown = sorted(set(item) - EVENT_FIELDS)
    if unknown:
        errors["non_field_errors"] = [
            _("Unknown field(s): %(names)s.") % {"names": ", ".join(map(str, unknown))}
        ]
    event_type = item.get("type")
    if event_type not in EventType.values:
        errors["type"] = [_("Choose one of: %(types)s.") % {"types": ", ".join(EventType.values)}]
    occurred_at = now
    if item.get("occurred_at") is not None:
        raw = item["occurred_at"]
        parsed = None
        if isinstance(raw, str) and "\x00" not in raw:
            try:
                parsed = parse_datetime(raw)
            except ValueError:
                parsed = None
        if parsed is None or parsed.tzinfo is None:
            errors["occurred_at"] = [_("Enter an ISO 8601 date and time with a UTC offset.")]
        elif parsed > now + FUTURE_TOLERANCE:
            errors["occurred_at"] = [_("An event cannot be in the future.")]
        elif parsed.year < 2000:
            errors["occurred_at"] = [_("An event cannot be before the year 2000.")]
        else:
            occurred_at = parsed
    idempotency_id = None
    if item.get("id") is not None:
        idempotency_id = _text(item["id"], "id", errors, max_length=128, numbers=True)
    properties = item.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, dict):
        errors["properties"] = [_("Properties must be a JSON object.")]
    else:
        try:
            validate_json_value(properties)
            size = len(json.dumps(properties, ensure_ascii=False).encode())
        except Exception as error:  # ValidationError from jsonsafety, or unencodable text
            errors["properties"] = list(getattr(error, "messages", [_("Enter valid JSON.")]))
        else:
            if size > lf_settings.MAX_EVENT_PROPERTIES_BYTES:
                errors["properties"] = [
                    _("Properties are too large (%(size)d bytes; at most %(limit)d).")
                    % {"size": size, "limit": lf_settings.MAX_EVENT_PROPERTIES_BYTES}
                ]
    address = _address(item, source, errors)
    if errors:
        return errors
    return _Clean(index, event_type, occurred_at, idempotency_id, properties, address)


def _address(item: dict, source: str, errors: dict) -> tuple[str, Any] | None:
    given = [name for name in ("lead_id", "email", "external_id") if item.get(name) is not None]
    if len(given) != 1:
        errors["lead"] = [_("Name the lead with exactly one of lead_id, email or external_id.")]
        return None
    name = given[0]
    value = item[name]
    if name == "lead_id":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
            errors["lead_id"] = [_("Enter a lead id (a positive integer).")]
            return None
        return ("lead_id", value)
    if name == "email":
        email = _text(value, "email", errors, max_length=254)
        if email is None or "@" not in email:
            errors["email"] = [_("Enter a valid e-mail address.")]
            return None
        return ("email", email.strip().lower())
    external_id = _text(value, "external_id", errors, max_length=128, numbers=True)
    lead_source = item.get("lead_source", source)
    lead_source = _text(lead_source, "lead_source", errors, max_length=64)
    if external_id is None or lead_source is None:
        return None
    return ("external_id", (lead_source, external_id))


def _resolve(
    cleaned: Sequence[_Clean], only_source: str | None = None
) -> dict[tuple[str, Any], int]:
    """{address: lead id} for every address a lead answers to: one query. An e-mail
    names its open lead (the oldest, as intake deduplicates), else its latest lead.
    ``only_source``: only that source's leads answer (the others as if unknown)."""
    ids, emails, external = set(), set(), defaultdict(set)
    for clean in cleaned:
        kind, value = clean.address
        if kind == "lead_id":
            ids.add(value)
        elif kind == "email":
            emails.add(value)
        else:
            external[value[0]].add(value[1])
    condition = Q(pk__in=ids) if ids else Q()
    if emails:
        condition |= Q(email__in=emails)
    for lead_source, external_ids in external.items():
        condition |= Q(source=lead_source, external_id__in=external_ids)
    if not condition:
        return {}
    if only_source is not None:
        condition &= Q(source=only_source)
    found: dict[tuple[str, Any], int] = {}
    best_by_email: dict[str, tuple] = {}
    # Locked here, before the events go in (see refresh_leads).
    # An erased lead is nobody: its person's browser or mail clicks add nothing about them.
    rows = _locking(Lead.objects.filter(condition, erased_at__isnull=True)).values_list(
        "pk", "email", "source", "external_id", "status", "received_at"
    )
    for pk, email, lead_source, external_id, status, received_at in rows:
        if pk in ids:
            found[("lead_id", pk)] = pk
        if external_id is not None and external_id in external.get(lead_source, ()):
            found[("external_id", (lead_source, external_id))] = pk
        if email in emails:
            is_open = status in ("new", "working")
            # Open first, then oldest open / latest closed.
            rank = (
                (0, received_at.timestamp(), pk) if is_open else (1, -received_at.timestamp(), -pk)
            )
            if email not in best_by_email or rank < best_by_email[email]:
                best_by_email[email] = rank
                found[("email", email)] = pk
    return found


def record_events(
    items: Sequence[Any],
    *,
    source: str,
    now: datetime | None = None,
    only_own_leads: bool = False,
) -> list[ItemResult]:
    """Store a batch of events from ``source`` (an API key's, or "site"); never creates
    leads. Per item: 201 stored, 200 already stored (same ``id`` from this source), 404 no
    such lead, 422 invalid. ``only_own_leads``: only leads of ``source`` are found, another
    source's answer 404 like unknown ones (an API key without ``events_any_source``). A
    constant number of queries for the batch (see ``refresh_leads``). Call inside
    ``transaction.atomic()``."""
    now = now or timezone.now()
    results: list[ItemResult | None] = [None] * len(items)
    cleaned: list[_Clean] = []
    for index, item in enumerate(items):
        outcome = validate_event(item, source=source, index=index, now=now)
        if isinstance(outcome, dict):
            results[index] = ItemResult(422, {"index": index, "status": 422, "errors": outcome})
        else:
            cleaned.append(outcome)
    leads = _resolve(cleaned, only_source=source if only_own_leads else None)
    known = []
    for clean in cleaned:
        if clean.address not in leads:
            results[clean.index] = ItemResult(
                404,
                {
                    "index": clean.index,
                    "status": 404,
                    "detail": str(_("No lead matches this event.")),
                },
            )
        else:
            known.append(clean)
    for attempt in range(2):
        try:
            with transaction.atomic():
                stored = _store(known, leads, source=source, now=now, results=results)
            break
        except IntegrityError:
            if attempt:  # a concurrent twin of the twin: let the caller retry the request
                raise
    refresh_leads({event.lead_id for event in stored}, now=now, locked=True)
    return results  # type: ignore[return-value]


def _store(known, leads, *, source: str, now: datetime, results: list) -> list[EngagementEvent]:
    ids = {clean.idempotency_id for clean in known if clean.idempotency_id is not None}
    existing = dict(
        EngagementEvent.objects.filter(source=source, idempotency_id__in=ids).values_list(
            "idempotency_id", "pk"
        )
    ) if ids else {}  # fmt: skip
    new, first_of = [], {}
    for clean in known:
        key = clean.idempotency_id
        if key is not None and (key in existing or key in first_of):
            results[clean.index] = ("duplicate", key)
            continue
        event = EngagementEvent(
            lead_id=leads[clean.address],
            type=clean.type,
            occurred_at=clean.occurred_at,
            recorded_at=now,
            source=source,
            idempotency_id=key,
            properties=clean.properties,
        )
        if key is not None:
            first_of[key] = event
        new.append((clean, event))
    stored = EngagementEvent.objects.bulk_create([event for _clean, event in new], batch_size=500)
    for (clean, _event), event in zip(new, stored, strict=True):
        results[clean.index] = ItemResult(
            201, {"index": clean.index, "status": 201, "id": event.pk, "duplicate": False}
        )
    for index, result in enumerate(results):
        if isinstance(result, tuple):
            key = result[1]
            pk = existing[key] if key in existing else first_of[key].pk
            results[index] = ItemResult(
                200, {"index": index, "status": 200, "id": pk, "duplicate": True}
            )
    return stored


def record_event(
    lead: Lead,
    event_type: str,
    *,
    source: str,
    now: datetime,
    idempotency_id: str | None = None,
    properties: dict | None = None,
) -> None:
    """Store one event leadfollow itself saw (a repeat form) and rescore its lead."""  # fmt: skip
    EngagementEvent.objects.create(
        lead=lead, type=event_type, occurred_at=now, recorded_at=now, source=source,
        idempotency_id=idempotency_id, properties=properties or {},
    )  # fmt: skip
    refresh_leads([lead.pk], now=now, locked=True)


# --- keeping scores current when rules change --------------------------------------------


def _enqueue_refresh() -> None:
    from leadfollow.jobs import enqueue

    enqueue("decay_engagement")


@receiver(post_save, sender=EngagementRule, dispatch_uid="leadfollow_engagement_rule_saved")
@receiver(post_delete, sender=EngagementRule, dispatch_uid="leadfollow_engagement_rule_deleted")
def rule_changed(sender, using: str = "default", **kwargs) -> None:
    """Refresh behaviour points once the change is committed (one task per transaction)."""
    rulecache.invalidate("engagement")
    pending = getattr(connections[using], "run_on_commit", None) or ()
    if any(entry[1] is _enqueue_refresh for entry in pending):
        return
    transaction.on_commit(_enqueue_refresh, using=using)
