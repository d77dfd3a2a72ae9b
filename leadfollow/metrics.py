"""Response-time metrics: how fast leads are first contacted, in aggregate queries.

The buckets follow the seeds' audit (37% of firms answer within an hour, 16% within a
day, 24% later, 23% never). Every figure comes from a fixed number of queries,
whatever the number of leads or reps:

* counts per bucket: conditional ``Count(filter=Q(...))`` in one query grouped by
  ``(owner, source)``; the overall, per-rep and per-source counts are sums of those
  rows (counts add up, so one pass over the period serves all three); per day, one
  more query;
* median and 90th percentile of the clock time to first contact: on PostgreSQL one
  ``percentile_cont`` query over the contacted leads with ``GROUPING SETS ((), (owner),
  (source))``; elsewhere one ``values_list`` query of the contacted leads' two
  timestamps, percentiles in Python (SQLite is the small, embedded case);
* median and 90th percentile in *business* time (the owner's calendar): Python over
  one ``values_list`` query of ``(owner, received, first contacted)`` plus one for the
  owners' calendars — above :data:`BUSINESS_SAMPLE_LIMIT` contacted leads, a random
  sample of about that size, so a big period costs about the same as a small one
  (``business["sampled"]`` says when the figures are estimates).

On PostgreSQL the period's queries read only ``received_at``, ``first_contacted_at``,
``owner_id`` and ``source``: the covering index ``leadfollow_lead_report_idx`` turns
them into index-only scans (no heap fetch per lead).

Definitions
-----------
* A lead belongs to the period by ``received_at``; ``start`` and ``end`` are dates in
  the site time zone (``LEADFOLLOW["TIME_ZONE"]``), both included.
* Buckets are exclusive, by ``first_contacted_at - received_at``: ``5m`` (≤ 5 min),
  ``1h`` (5 min – 1 h), ``24h`` (1 h – 24 h), ``later`` (> 24 h), ``never``
  (uncontacted, received ≥ 24 h before ``now``, past its deadline or without one),
  ``waiting`` (the same, but its business-hours deadline is still ahead:
  ``not_yet_due_q``) and ``pending`` (uncontacted, younger than 24 h: it may still land
  in any bucket). Every lead counts, whatever its status. The research comparison's
  "never" is the research's clock time: ``never + waiting``.
* ``outcomes`` (overall, and in every rep and source row): qualification per bucket, from
  the same grouped query; see :mod:`leadfollow.outcomes`. Per day, ``went_cold``
  (``missed_deadline_q``) and ``breaches`` (the sweep's moves and escalations that day).
* Shares are of the *decided* leads (all but pending), so a lead received a minute ago
  does not count as a miss. ``within_1h`` is ``5m + 1h``, the research's first figure.
* Per rep, a lead counts for its current owner; "reassigned away" counts the
  Assignment rows in the period that moved a lead *from* that rep, and "overdue" the
  rep's cold leads right now (not limited to the period).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Random, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadfollow import outcomes, rollups
from leadfollow.businesshours import business_minutes_between
from leadfollow.calendars import CALENDAR_FIELDS, rep_calendar, site_calendar
from leadfollow.conf import lf_settings
from leadfollow.models import Assignment, AssignmentReason, Lead, RepProfile
from leadfollow.models.lead import (
    BREACH_WARNING_MINUTES,
    OPEN_STATUSES,
    REPORT_SAMPLE_EVERY,
    REPORT_SAMPLE_SQL,
    about_to_breach_q,
    cold_q,
    missed_deadline_q,
    not_yet_due_q,
)
from leadfollow.stats import percentile

__all__ = [
    "BUCKETS",
    "RESEARCH",
    "about_to_breach",
    "cold_now",
    "DEFAULT_PERIOD_DAYS",
    "default_period",
    "percentile",
    "period_bounds",
    "response_report",
]

#: Rows of contacted leads read for the business-time percentiles, about. With 2,000
#: draws the sampled median's rank is off by about ±1 percentile point (one standard
#: error); reading and converting the rows costs ~20 ms at 1M leads.
BUSINESS_SAMPLE_LIMIT = 2_000
#: The seeds' audit: how fast firms answer a web lead (shares of all leads).
RESEARCH = {"within_1h": 0.37, "24h": 0.16, "later": 0.24, "never": 0.23}

_5M = timedelta(minutes=5)
_1H = timedelta(hours=1)
_24H = timedelta(hours=24)


@dataclass(frozen=True)
class Bucket:
    key: str
    label: str


BUCKETS: tuple[Bucket, ...] = (
    Bucket("5m", _("within 5 minutes")),
    Bucket("1h", _("5 minutes to 1 hour")),
    Bucket("24h", _("1 to 24 hours")),
    Bucket("later", _("after 24 hours")),
    Bucket("never", _("never")),
    Bucket("waiting", _("waiting, not yet due (over 24 h)")),
    Bucket("pending", _("pending (under 24 h)")),
)
DECIDED_KEYS = ("5m", "1h", "24h", "later", "never", "waiting")


def _db_percentiles(using: str) -> bool:
    return connections[using].vendor == "postgresql"


# --- period -------------------------------------------------------------------------


def site_zone() -> ZoneInfo:
    return ZoneInfo(lf_settings.TIME_ZONE)


def site_time(value: datetime) -> datetime:
    """A time as every report shows it: in the site time zone, whole seconds."""
    return value.astimezone(site_zone()).replace(microsecond=0)


DEFAULT_PERIOD_DAYS = 30  # the report's period when none is asked for (dashboard, API)


def default_period(
    now: datetime | None = None, days: int = DEFAULT_PERIOD_DAYS
) -> tuple[date, date]:
    """The last ``days`` days up to and including today, in the site time zone."""
    today = (now or timezone.now()).astimezone(site_zone()).date()
    return today - timedelta(days=days - 1), today


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """``[start 00:00, end + 1 day 00:00)`` in the site time zone, as aware datetimes."""
    zone = site_zone()
    return (
        datetime.combine(start, time(0), tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone),
    )


# --- expressions --------------------------------------------------------------------

_CONTACTED = Q(first_contacted_at__isnull=False)
_UNCONTACTED = Q(first_contacted_at__isnull=True)


def _bucket_filters(now: datetime) -> dict[str, Q]:
    uncontacted = _UNCONTACTED
    return {
        "5m": Q(first_contacted_at__lte=F("received_at") + _5M),
        "1h": Q(first_contacted_at__gt=F("received_at") + _5M)
        & Q(first_contacted_at__lte=F("received_at") + _1H),
        "24h": Q(first_contacted_at__gt=F("received_at") + _1H)
        & Q(first_contacted_at__lte=F("received_at") + _24H),
        "later": Q(first_contacted_at__gt=F("received_at") + _24H),
        # The research's clock-time "never" (uncontacted for 24 h) splits in two: its
        # business-hours deadline passed (or it has none), or not yet ("waiting").
        "never": uncontacted & Q(received_at__lte=now - _24H) & ~not_yet_due_q(now),
        "waiting": uncontacted & Q(received_at__lte=now - _24H) & not_yet_due_q(now),
        "pending": uncontacted & Q(received_at__gt=now - _24H),
    }


#: What the period's counts count: a NOT NULL column of the covering index (COUNT(id)
#: would fetch every row from the heap just to read its id).
_ROW = "received_at"


def _bucket_index(now: datetime) -> tuple[Case, tuple[str, ...]]:
    """Each lead's bucket as an index into the returned keys: the buckets are exclusive
    and cover every lead, so the first condition that holds is its only one."""
    filters = _bucket_filters(now)
    whens = [When(condition, then=Value(i)) for i, condition in enumerate(filters.values())]
    return Case(*whens, output_field=IntegerField()), tuple(filters)


def _seconds_to_minutes(value: float | None) -> float | None:
    return None if value is None else value / 60


def _share(count: int, whole: int) -> float | None:
    return count / whole if whole else None


_COUNT_KEYS = (
    "received",
    *(b.key for b in BUCKETS),
    *outcomes.outcome_count_keys(b.key for b in BUCKETS),
)


def _summarise(row: dict) -> dict:
    """Counts, decided total, shares and the within-1-hour figure for one group."""
    decided = sum(row[key] for key in DECIDED_KEYS)
    within_1h = row["5m"] + row["1h"]
    return {
        "received": row["received"],
        "decided": decided,
        "counts": {b.key: row[b.key] for b in BUCKETS},
        "shares": {key: _share(row[key], decided) for key in DECIDED_KEYS},
        "within_1h": within_1h,
        "within_1h_share": _share(within_1h, decided),
        "outcomes": outcomes.outcome_table(row),
    }


# --- the report ---------------------------------------------------------------------


def response_report(
    leads: QuerySet | None = None,
    start: date | None = None,
    end: date | None = None,
    now: datetime | None = None,
    *,
    source: str | None = None,
    rep=None,
) -> dict:
    """How fast leads received between ``start`` and ``end`` were first contacted.

    ``leads`` narrows the leads considered (e.g. ``Lead.objects.visible_to(user)``);
    ``source`` (a slug) and ``rep`` (a user or user id) filter further. The period
    defaults to the last 30 days in the site time zone. Returns plain data (dates,
    ints, floats in minutes, None when there is nothing to measure); see the module
    docstring for the definitions.
    """
    now = now or timezone.now()
    if start is None or end is None:
        default_start, default_end = default_period(now)
        start, end = start or default_start, end or default_end
    lo, hi = period_bounds(start, end)
    scope = Lead.objects.all() if leads is None else leads
    if source:
        scope = scope.filter(source=source)
    rep_id = getattr(rep, "pk", rep)
    if rep_id == "":
        rep_id = None
    base = scope if rep_id is None else scope.filter(owner_id=rep_id)
    in_period = base.filter(received_at__gte=lo, received_at__lt=hi)
    on_pg = _db_percentiles(in_period.db)

    rolled_last = _rolled_until(leads, start, end, now, in_period.db)
    moved = None  # (reassigned away per rep, breaches per day) when the rollup has them
    if rolled_last is None:
        counts = _count_rows(in_period, now)
        days = _per_day(in_period, now, start, end, on_pg)
    else:
        counts, days, moved = _rolled_counts(
            in_period, now, start, end, rolled_last, rep_id, source
        )
    overall = _overall(counts)
    moves = Assignment.objects.filter(created_at__gte=lo, created_at__lt=hi)
    if source or (leads is not None and leads.query.has_filters()):
        # Only when narrowed: a subquery over every lead would cost a full scan.
        moves = moves.filter(lead__in=scope.values("pk"))
    if rep_id is not None:
        moves = moves.filter(from_rep_id=rep_id)
    reps = _per_rep(counts, base, moves, now, away=moved[0] if moved else None)
    sources = _per_source(counts)
    # What the clock percentiles (overall, per rep and source) and the medians to
    # qualification were computed from: every contacted lead, or the fixed sample.
    basis = {"sampled": False, "measured": overall["contacted"], "sample_every": None}
    if on_pg and overall["contacted"] > lf_settings.EXACT_PERCENTILES_UP_TO:
        # The same queries over the fixed sample (its partial index) instead of sorting
        # every lead of the period; the counts above stay exact.
        in_sample = in_period.filter(RawSQL(REPORT_SAMPLE_SQL, [], output_field=BooleanField()))
        measured = _pg_clock_percentiles(in_sample, overall, reps, sources)
        medians = outcomes.time_to_qualification(in_sample, _bucket_filters(now), on_pg)
        business = _business_percentiles(in_sample, measured, on_pg, sampled=True)
        basis.update(sampled=True, measured=measured, sample_every=REPORT_SAMPLE_EVERY)
    else:
        medians, business = _exact_percentiles(in_period, now, overall, reps, sources, on_pg)
    _add_breaches(days, moves, start, end, on_pg, found=moved[1] if moved else None)
    for bucket in overall["outcomes"]["buckets"]:
        bucket["median_minutes_to_qualify"] = medians.get(bucket["key"])

    return {
        "period": {"start": start, "end": end, "time_zone": str(site_zone())},
        "now": now,
        "filters": {"source": source or None, "rep": rep_id},
        **overall,
        "business": business,
        "percentiles": basis,
        "research": research_comparison(overall),
        "reps": reps,
        "sources": sources,
        "days": days,
    }


def _count_rows(in_period: QuerySet, now: datetime) -> list[dict]:
    """Bucket and outcome counts per ``(owner_id, source)``: one pass over the period for
    all tables. Each lead's bucket and outcome are computed once (two CASEs, integers so
    that PostgreSQL groups them in a hash table) and the leads counted per owner, source,
    bucket and outcome; a filtered count per bucket and outcome evaluated ~30 conditions
    per lead. The few hundred groups are folded into one row per (owner, source) here."""
    bucket, keys = _bucket_index(now)
    grouped = (
        in_period.order_by()
        .annotate(bucket=bucket, outcome=outcomes.OUTCOME_INDEX)
        .values_list("owner_id", "source", "bucket", "outcome")
        .annotate(n=Count(_ROW))
    )
    rows: dict[tuple, dict] = {}
    for owner_id, source, bucket_index, outcome_index, n in grouped:
        row = rows.get((owner_id, source))
        if row is None:
            row = rows[owner_id, source] = {
                "owner_id": owner_id, "source": source, **dict.fromkeys(_COUNT_KEYS, 0)
            }  # fmt: skip
        row["received"] += n
        if bucket_index is None:
            continue  # no bucket holds (cannot happen while they cover every lead)
        row[keys[bucket_index]] += n
        prefix = outcomes.OUTCOME_PREFIXES[outcome_index]
        if prefix:
            row[f"{prefix}_{keys[bucket_index]}"] += n
    return list(rows.values())


# --- counts from the rollup ---------------------------------------------------------


def _rolled_until(leads: QuerySet | None, start: date, end: date, now: datetime, using: str):
    """The last day of the period whose counts the rollup gives (None: count every lead).

    Only days whose leads are all older than 24 h (none is pending, the one bucket that
    depends on the receipt time and the moment), and only for every lead (a queryset
    narrowed otherwise than by source and rep has no rollup)."""
    if leads is not None and (leads.model is not Lead or leads.query.has_filters()):
        return None
    last = min(end, (now - _24H).astimezone(site_zone()).date() - timedelta(days=1))
    if last < start or not rollups.usable(using):  # usable: PostgreSQL, built for the zone
        return None
    return last


def _rolled_counts(
    in_period: QuerySet, now: datetime, start: date, end: date, last: date, rep_id, source
) -> tuple[list[dict], list[dict], tuple[dict, dict] | None]:
    """The count rows and the days of the period: the rollup's for ``start``…``last``, the
    leads' own for the days after. What depends on ``now`` comes from the few leads whose
    deadline is still ahead (the partial indexes of uncontacted leads). And the period's
    moves from the rollup — reassigned away per rep, breaches per day — unless a source is
    asked for (moves are filed without one): None then."""
    split = period_bounds(start, last)[1]
    rolled = rollups.read(
        start, end, leads_until=last, owner_id=rep_id, source=source, using=in_period.db
    )
    waiting, ahead_by_day = _deadlines_ahead(
        in_period.filter(received_at__lt=split), now, start, last
    )
    moved = None
    if not source:
        away: dict = {}
        for (owner_id, _), sums in rolled.groups.items():
            if sums["moved_away"]:
                away[owner_id] = away.get(owner_id, 0) + sums["moved_away"]
        breaches = {day: sums["breaches"] for day, sums in rolled.days.items()}
        moved = (away, breaches)
    rows: dict[tuple, dict] = {}
    for key, sums in rolled.groups.items():
        if not any(sums[name] for name in rollups.LEAD_COLUMNS):
            continue  # moves only
        row = rows[key] = {"owner_id": key[0], "source": key[1], **dict.fromkeys(_COUNT_KEYS, 0)}
        row["received"] = sums["received"]
        for bucket in ("5m", "1h", "24h", "later"):
            for prefix in ("", "q_", "dq_"):
                row[f"{prefix}{bucket}"] = sums[f"{prefix or 'n_'}{bucket}"]
        # Every uncontacted lead of these days is over 24 h old: waiting while open with
        # its deadline ahead (never qualified or disqualified then), otherwise never.
        row["waiting"] = waiting.get(key, 0)
        row["never"] = sums["n_uncontacted"] - row["waiting"]
        row["q_never"], row["dq_never"] = sums["q_uncontacted"], sums["dq_uncontacted"]
    live = in_period.filter(received_at__gte=split)
    for row in _count_rows(live, now):
        same = rows.get((row["owner_id"], row["source"]))
        if same is None:
            rows[row["owner_id"], row["source"]] = row
        else:
            for name in _COUNT_KEYS:
                same[name] += row[name]
    days = []
    for i in range((last - start).days + 1):
        day = start + timedelta(days=i)
        sums = rolled.days.get(day)
        received = sums["received"] if sums else 0
        within_1h = sums["n_5m"] + sums["n_1h"] if sums else 0
        # Went cold by now: contacted after the deadline, or not contacted and past it.
        cold = sums["late"] + sums["uncontacted_due"] - ahead_by_day.get(day, 0) if sums else 0
        days.append(_day_row(day, received, received, within_1h, cold))
    if last < end:
        days += _per_day(live, now, last + timedelta(days=1), end, on_pg=True)
    return list(rows.values()), days, moved


def _deadlines_ahead(leads: QuerySet, now: datetime, start: date, last: date):
    """Uncontacted leads whose deadline is still ahead, among the rolled days' leads:
    the waiting ones per (owner_id, source) and all of them per day."""
    ahead = _UNCONTACTED & Q(first_response_due__gte=now)
    open_ = Q(status__in=OPEN_STATUSES)
    # Two arms, each the predicate of a partial index (open / closed uncontacted leads),
    # so neither reads the period's leads.
    found = (
        leads.filter((ahead & open_) | (ahead & ~open_))
        .order_by()
        .annotate(
            day=_day_expression("received_at", start, last, on_pg=True),
            is_waiting=Case(When(not_yet_due_q(now), then=Value(1)), default=Value(0)),
        )
        .values_list("owner_id", "source", "day", "is_waiting")
        .annotate(n=Count(_ROW))
    )
    waiting: dict[tuple, int] = {}
    by_day: dict[date, int] = {}
    for owner_id, source, day_index, is_waiting, n in found:
        day = start + timedelta(days=day_index - 1)
        by_day[day] = by_day.get(day, 0) + n
        if is_waiting:
            waiting[owner_id, source] = waiting.get((owner_id, source), 0) + n
    return waiting, by_day


def _sum_by(rows: list[dict], field: str | None) -> dict:
    """The count rows added up per value of ``field`` (everything when None)."""
    totals: dict = {}
    for row in rows:
        key = None if field is None else row[field]
        total = totals.get(key)
        if total is None:
            total = totals[key] = dict.fromkeys(_COUNT_KEYS, 0)
        for name in _COUNT_KEYS:
            total[name] += row[name]
    return totals


def _overall(counts: list[dict]) -> dict:
    row = _sum_by(counts, None).get(None) or dict.fromkeys(_COUNT_KEYS, 0)
    summary = _summarise(row)
    summary["contacted"] = sum(row[key] for key in ("5m", "1h", "24h", "later"))
    summary["clock"] = {"median_minutes": None, "p90_minutes": None}
    return summary


def _grouped(counts: list[dict], field: str) -> dict:
    out = {}
    for key, row in _sum_by(counts, field).items():
        summary = _summarise(row)
        summary[field] = key
        summary["median_minutes"] = summary["p90_minutes"] = None
        out[key] = summary
    return out


def _per_rep(
    counts: list[dict], base: QuerySet, moves: QuerySet, now: datetime, away: dict | None = None
) -> list[dict]:
    rows = _grouped(counts, "owner_id")
    # The rep queue's "overdue" (a missed deadline or follow-up), so both pages agree.
    overdue = dict(
        base.overdue(now)
        .order_by()
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "n")
    )
    if away is None:
        # to_rep may be NULL (nobody available): exclude(to_rep=from_rep) keeps those rows.
        moves = moves.filter(from_rep__isnull=False).exclude(to_rep_id=F("from_rep_id"))
        away = dict(
            moves.order_by()
            .values("from_rep_id")
            .annotate(n=Count("pk"))
            .values_list("from_rep_id", "n")
        )
    ids = set(rows) | set(overdue) | set(away)
    user_ids = [pk for pk in ids if pk is not None]
    User = get_user_model()
    names = {
        user.pk: (user.get_full_name() or user.get_username())
        for user in User.objects.filter(pk__in=user_ids)
    }
    empty = _summarise(dict.fromkeys(_COUNT_KEYS, 0))
    table = []
    for pk in ids:
        row = rows.get(pk) or {**empty, "owner_id": pk, "median_minutes": None, "p90_minutes": None}
        row["rep_id"] = pk
        row["name"] = names.get(pk, "") if pk is not None else str(_("(nobody)"))
        row["overdue"] = overdue.get(pk, 0)
        row["reassigned_away"] = away.get(pk, 0)
        table.append(row)
    table.sort(key=lambda r: (r["rep_id"] is None, str(r["name"]).lower(), r["rep_id"] or 0))
    return table


def _per_source(counts: list[dict]) -> list[dict]:
    rows = _grouped(counts, "source")
    return [rows[key] for key in sorted(rows)]


#: Overall, per owner and per source in one pass over the contacted leads;
#: GROUPING(owner_id, source) tells which row is which (3: overall, 1: per owner, 2: per
#: source), and both percentiles of a group share one sort. The delay is sorted as
#: float8 seconds (a by-value sort, ~15% cheaper than intervals). ``OFFSET 0`` keeps
#: the planner from reading the period in owner_id-index order for the first grouping
#: (a random heap read per lead: 3.6 s instead of 1.4 s for a year of 1M leads); it
#: scans the covering index and sorts instead.
_PG_PERCENTILES = """
SELECT GROUPING(owner_id, source), owner_id, source,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds),
    percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds),
    count(*)
FROM (
    SELECT owner_id, source, date_part('epoch', first_contacted_at - received_at) AS seconds
    FROM ({contacted}) AS contacted
    OFFSET 0
) AS delays
GROUP BY GROUPING SETS ((), (owner_id), (source))
"""


def _pg_clock_percentiles(
    in_period: QuerySet, overall: dict, reps: list[dict], sources: list[dict]
) -> int:
    """PostgreSQL: ``percentile_cont`` over the contacted leads, one grouping-sets query;
    returns how many there were."""
    contacted = (
        in_period.filter(_CONTACTED)
        .order_by()
        .values_list("owner_id", "source", "received_at", "first_contacted_at")
    )
    try:
        sql, params = contacted.query.get_compiler(using=contacted.db).as_sql()
    except EmptyResultSet:  # e.g. Lead.objects.none(): nothing to measure
        return 0
    with connections[contacted.db].cursor() as cursor:
        cursor.execute(_PG_PERCENTILES.format(contacted=sql), params)
        rows = cursor.fetchall()
    by_rep, by_source = {}, {}
    measured = 0
    for grouping, owner_id, source, median, p90, n in rows:
        figures = (_seconds_to_minutes(median), _seconds_to_minutes(p90))
        if grouping == 3:
            overall["clock"]["median_minutes"], overall["clock"]["p90_minutes"] = figures
            measured = n
        elif grouping == 1:
            by_rep[owner_id] = figures
        else:
            by_source[source] = figures
    for row in reps:
        row["median_minutes"], row["p90_minutes"] = by_rep.get(row["rep_id"], (None, None))
    for row in sources:
        row["median_minutes"], row["p90_minutes"] = by_source.get(row["source"], (None, None))
    return measured


def _exact_percentiles(in_period, now, overall, reps, sources, on_pg) -> tuple[dict, dict]:
    """Every contacted lead's delay: clock percentiles, time to qualification, and the
    business-hours figures (those from a random sample above BUSINESS_SAMPLE_LIMIT)."""
    if on_pg:
        _pg_clock_percentiles(in_period, overall, reps, sources)
    else:
        _python_clock_percentiles(in_period, overall, reps, sources)
    medians = outcomes.time_to_qualification(in_period, _bucket_filters(now), on_pg)
    return medians, _business_percentiles(in_period, overall["contacted"], on_pg)


def _python_clock_percentiles(
    in_period: QuerySet, overall: dict, reps: list[dict], sources: list[dict]
) -> None:
    """Portable fallback: one query of the contacted leads' delays, percentiles in Python."""
    delays: dict[tuple, list[float]] = {}
    rows = in_period.filter(_CONTACTED).values_list(
        "owner_id", "source", "received_at", "first_contacted_at"
    )
    for owner_id, source, received, contacted in rows.order_by():
        minutes = (contacted - received).total_seconds() / 60
        delays.setdefault(("all",), []).append(minutes)
        delays.setdefault(("rep", owner_id), []).append(minutes)
        delays.setdefault(("source", source), []).append(minutes)
    for values in delays.values():
        values.sort()

    def fill(key: tuple) -> tuple[float | None, float | None]:
        values = delays.get(key, [])
        return percentile(values, 0.5), percentile(values, 0.9)

    overall["clock"]["median_minutes"], overall["clock"]["p90_minutes"] = fill(("all",))
    for row in reps:
        row["median_minutes"], row["p90_minutes"] = fill(("rep", row["rep_id"]))
    for row in sources:
        row["median_minutes"], row["p90_minutes"] = fill(("source", row["source"]))


class _DayIndex(Func):
    """PostgreSQL: ``width_bucket(ts, bounds)``, the 1-based day of the period a timestamp
    falls in, by binary search over the local midnights (cheaper than converting every
    row to the site time zone; the bounds carry the DST shifts)."""

    output_field = IntegerField()

    def __init__(self, expression, bounds: list[datetime]):
        super().__init__(expression)
        self.bounds = bounds

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"width_bucket({sql}, %s::timestamptz[])", (*params, self.bounds)


def _per_day(
    in_period: QuerySet, now: datetime, start: date, end: date, on_pg: bool = False
) -> list[dict]:
    filters = _bucket_filters(now)
    decided = ~filters["pending"]
    ndays = (end - start).days + 1
    rows = (
        in_period.order_by()
        .annotate(day=_day_expression("received_at", start, end, on_pg))
        .values("day")
        .annotate(
            received=Count(_ROW),
            decided=Count(_ROW, filter=decided),
            within_1h=Count(_ROW, filter=filters["5m"] | filters["1h"]),
            went_cold=Count(_ROW, filter=missed_deadline_q(now)),
        )
    )
    if on_pg:
        by_day = {start + timedelta(days=row["day"] - 1): row for row in rows}
    else:
        by_day = {row["day"]: row for row in rows}
    days = []
    for i in range(ndays):
        day = start + timedelta(days=i)
        row = by_day.get(day, {"received": 0, "decided": 0, "within_1h": 0, "went_cold": 0})
        days.append(
            _day_row(day, row["received"], row["decided"], row["within_1h"], row["went_cold"])
        )
    return days


def _day_row(day: date, received: int, decided: int, within_1h: int, went_cold: int) -> dict:
    return {
        "day": day,
        "received": received,
        "decided": decided,
        "within_1h": within_1h,
        "within_1h_share": _share(within_1h, decided),
        "went_cold": went_cold,
        "breaches": 0,
    }


def _day_expression(field: str, start: date, end: date, on_pg: bool):
    zone = site_zone()
    if on_pg:
        bounds = [
            datetime.combine(start + timedelta(days=i), time(0), tzinfo=zone).astimezone(UTC)
            for i in range((end - start).days + 2)
        ]
        return _DayIndex(field, bounds)
    return TruncDate(field, tzinfo=zone)


def _add_breaches(
    days: list[dict], moves: QuerySet, start: date, end: date, on_pg: bool, found=None
) -> None:
    """Missed first-response deadlines per day (the sweep's ``sla_breach`` moves and
    escalations in the period, by the day they happened; a manager's escalation is not a
    miss): one query, or ``found`` (per day, from the rollup). The rollup's triggers
    define the same moves (``rollups._breach``)."""
    if found is not None:
        for row in days:
            row["breaches"] = found.get(row["day"], 0)
        return
    rows = (
        moves.filter(
            Q(reason=AssignmentReason.SLA_BREACH)
            | Q(reason=AssignmentReason.ESCALATION, actor__isnull=True)
        )
        .order_by()
        .annotate(day=_day_expression("created_at", start, end, on_pg))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    by_day = {row["day"]: row for row in days}
    for day, n in rows:
        if on_pg:
            day = start + timedelta(days=day - 1)
        if day in by_day:
            by_day[day]["breaches"] = n


class _Epoch(Func):
    """PostgreSQL: a timestamp as float seconds since 1970, read back exactly with
    ``datetime.fromtimestamp(value, UTC)`` (a double keeps the microseconds of these
    dates). Django reads a timestamptz through a loader written in Python, ~4 µs a
    value: most of the time of reading the business-hours sample."""

    template = "date_part('epoch', %(expressions)s)"
    output_field = FloatField()


def _business_percentiles(
    in_period: QuerySet, contacted: int, on_pg: bool = False, sampled: bool = False
) -> dict:
    """Median and p90 in the owner's business minutes: Python over one column query.

    Above :data:`BUSINESS_SAMPLE_LIMIT` contacted leads, a random sample of about that
    size is read instead (``sampled`` is then True, as it is when ``in_period`` is itself
    a sample): the percentiles are estimates.
    """
    contacted_qs = in_period.filter(_CONTACTED).order_by()
    if contacted > BUSINESS_SAMPLE_LIMIT:
        sampled = True
        contacted_qs = contacted_qs.annotate(_draw=Random()).filter(
            _draw__lt=BUSINESS_SAMPLE_LIMIT / contacted
        )
    if on_pg:
        rows = [
            (owner_id, datetime.fromtimestamp(received, UTC), datetime.fromtimestamp(first, UTC))
            for owner_id, received, first in contacted_qs.values_list(
                "owner_id", _Epoch("received_at"), _Epoch("first_contacted_at")
            )
        ]
    else:
        rows = list(contacted_qs.values_list("owner_id", "received_at", "first_contacted_at"))
    owners = {owner_id for owner_id, _, _ in rows if owner_id is not None}
    calendars = (
        {
            profile.user_id: rep_calendar(profile)
            for profile in RepProfile.objects.filter(user_id__in=owners).only(
                "user_id", *CALENDAR_FIELDS
            )
        }
        if owners
        else {}
    )
    site = site_calendar()
    minutes = sorted(
        max(0.0, business_minutes_between(received, first, calendars.get(owner_id, site)))
        for owner_id, received, first in rows
    )
    return {
        "median_minutes": percentile(minutes, 0.5),
        "p90_minutes": percentile(minutes, 0.9),
        "measured": len(minutes),
        "sampled": sampled,
    }


def research_comparison(summary: dict) -> list[dict]:
    """Rows of "you vs. research" for the audit's four figures."""
    shares = summary["shares"]
    never = summary["counts"]["never"] + summary["counts"]["waiting"]
    return [
        {
            "key": "within_1h",
            "label": _("within 1 hour"),
            "you": summary["within_1h_share"],
            "count": summary["within_1h"],
            "research": RESEARCH["within_1h"],
        },
        {
            "key": "24h",
            "label": _("1 to 24 hours"),
            "you": shares["24h"],
            "count": summary["counts"]["24h"],
            "research": RESEARCH["24h"],
        },
        {
            "key": "later",
            "label": _("after 24 hours"),
            "you": shares["later"],
            "count": summary["counts"]["later"],
            "research": RESEARCH["later"],
        },
        {
            "key": "never",
            "label": _("never"),
            # The research's clock time: uncontacted for 24 h, due or not.
            "you": _share(never, summary["decided"]),
            "count": never,
            "research": RESEARCH["never"],
        },
    ]


# --- cold leads ---------------------------------------------------------------------


def cold_now(leads: QuerySet | None = None, now: datetime | None = None) -> QuerySet:
    """Open, uncontacted leads past their deadline, oldest breach first."""
    base = Lead.objects.all() if leads is None else leads
    return (
        base.cold(now or timezone.now())
        .select_related("owner")
        .order_by("first_response_due", "pk")
    )


def about_to_breach(
    leads: QuerySet | None = None,
    now: datetime | None = None,
    minutes: int = BREACH_WARNING_MINUTES,
) -> QuerySet:
    """Leads whose deadline falls within the next ``minutes`` (``about_to_breach_q``)."""
    base = Lead.objects.all() if leads is None else leads
    return (
        base.about_to_breach(now or timezone.now(), minutes)
        .select_related("owner")
        .order_by("first_response_due", "pk")
    )


def cold_summary(leads: QuerySet | None = None, now: datetime | None = None) -> dict:
    """Counts for the cold list header: cold now and about to breach, one query."""
    now = now or timezone.now()
    base = Lead.objects.all() if leads is None else leads
    # Both imply open and uncontacted: saying so lets PostgreSQL read the partial cold
    # index (the open, uncontacted few) instead of every lead ever received.
    return (
        base.open()
        .uncontacted()
        .aggregate(
            cold=Count("pk", filter=cold_q(now)), soon=Count("pk", filter=about_to_breach_q(now))
        )
    )


#: The report CSV's columns; a row leaves blank what its section does not measure.
CSV_HEADER = [
    "section",
    "key",
    "received",
    "decided",
    "count",
    "share",
    "research",
    "median_minutes",
    "p90_minutes",
    # Outcome rows (sections outcome, rep outcome, source outcome; "group" names the rep
    # or source): "received" is the bucket's leads, "decided" its qualified + disqualified.
    "group",
    "qualified",
    "undecided",
    "rate",
    "rate_low",
    "rate_high",
    "ratio",
    "ratio_low",
    "ratio_high",
    "ratio_note",
    "research_ratio",
    "median_minutes_to_qualify",
    # Day rows.
    "went_cold",
    "breaches",
]


def _csv_row(**cells) -> list:
    return [cells.get(name) for name in CSV_HEADER]


def _outcome_rows(section: str, group, outcome: dict) -> Iterable[list]:
    for b in outcome["buckets"]:
        yield _csv_row(
            section=section,
            key=b["key"],
            group=group,
            received=b["leads"],
            decided=b["decided"],
            qualified=b["qualified"],
            undecided=b["undecided"],
            rate=b["rate"],
            rate_low=b["rate_low"],
            rate_high=b["rate_high"],
            ratio=b["ratio"],
            ratio_low=b["ratio_low"],
            ratio_high=b["ratio_high"],
            ratio_note=b["ratio_note"],
            research_ratio=b["research_ratio"],
            median_minutes_to_qualify=b["median_minutes_to_qualify"],
        )


def iter_rows(report: dict) -> Iterable[list]:
    """The report as CSV-ready rows: :data:`CSV_HEADER`, then one row per figure."""
    yield list(CSV_HEADER)
    received, decided = report["received"], report["decided"]
    for bucket in BUCKETS:
        key = bucket.key
        yield _csv_row(
            section="bucket",
            key=key,
            received=received,
            decided=decided,
            count=report["counts"][key],
            share=report["shares"].get(key),
        )
    for row in report["research"]:
        yield _csv_row(
            section="research",
            key=row["key"],
            received=received,
            decided=decided,
            count=row["count"],
            share=row["you"],
            research=row["research"],
        )
    yield _csv_row(
        section="clock",
        key="all",
        received=received,
        decided=decided,
        count=report["contacted"],
        median_minutes=report["clock"]["median_minutes"],
        p90_minutes=report["clock"]["p90_minutes"],
    )
    business = report["business"]
    yield _csv_row(
        section="business",
        key="all",
        received=received,
        decided=decided,
        count=business["measured"],
        median_minutes=business["median_minutes"],
        p90_minutes=business["p90_minutes"],
    )
    for kind, rows, label in (
        ("rep", report["reps"], "name"),
        ("source", report["sources"], "source"),
    ):
        for row in rows:
            yield _csv_row(
                section=kind,
                key=row[label],
                received=row["received"],
                decided=row["decided"],
                count=row["within_1h"],
                share=row["within_1h_share"],
                median_minutes=row["median_minutes"],
                p90_minutes=row["p90_minutes"],
            )
    for row in report["days"]:
        yield _csv_row(
            section="day",
            key=row["day"].isoformat(),
            received=row["received"],
            decided=row["decided"],
            count=row["within_1h"],
            share=row["within_1h_share"],
            went_cold=row["went_cold"],
            breaches=row["breaches"],
        )
    yield from _outcome_rows("outcome", None, report["outcomes"])
    for row in report["reps"]:
        yield from _outcome_rows("rep outcome", row["name"], row["outcomes"])
    for row in report["sources"]:
        yield from _outcome_rows("source outcome", row["source"], row["outcomes"])
