"""The outcome report: how often leads qualified, by how fast they were first contacted.

The research behind leadfollow: a lead contacted within an hour is about 7× likelier to
qualify than one contacted an hour later, and about 60× likelier than after 24 hours.
This module shows a team its own version, from the same rows as the response report
(:func:`leadfollow.metrics.response_report` adds the outcome counts to its one grouped
query, so the outcome report costs no query per bucket, rep or source):

* buckets by clock time to first contact, the research's definition (``5m``, ``1h``,
  ``within_1h`` = both, ``24h``, ``later``, ``never`` = uncontacted for 24 h or more,
  including those whose business-hours deadline has not passed yet, ``pending`` =
  uncontacted, under 24 h);
* per bucket: leads, *decided* (qualified or disqualified), qualified, still undecided
  (open, counted apart so a fresh week does not read as failure), the qualification rate
  ``qualified / decided`` with its 95% Wilson interval, and the reference bucket's rate
  divided by this bucket's ("within 1 h qualified 4.2× as often as after 24 h") with its
  95% Katz interval, next to the research's figure;
* a ratio needs at least ``LEADFOLLOW["OUTCOME_MIN_DECIDED"]`` decided leads (default
  20) in both buckets; below that ``ratio_note`` is ``"too_few"`` and no ratio is given;
* the median time from receipt to qualification of the qualified leads, per bucket (one
  more query).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import (
    Aggregate,
    Case,
    CharField,
    DurationField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils.translation import gettext_lazy as _

from leadfollow import stats
from leadfollow.conf import lf_settings
from leadfollow.models import LeadStatus

__all__ = [
    "OUTCOME_BUCKETS",
    "RESEARCH_RATIOS",
    "OUTCOME_INDEX",
    "OUTCOME_PREFIXES",
    "outcome_table",
    "time_to_qualification",
]

#: The research's "N× likelier to qualify than" for the within-1-hour reference. Its
#: "an hour later" is the second hour; ``24h`` (1 to 24 hours) is the nearest bucket.
RESEARCH_RATIOS = {"24h": 7.0, "later": 60.0}

_QUALIFIED = Q(status=LeadStatus.QUALIFIED)
_DISQUALIFIED = Q(status=LeadStatus.DISQUALIFIED)


@dataclass(frozen=True)
class OutcomeBucket:
    key: str
    label: str
    #: The response report's exclusive buckets this one adds up.
    parts: tuple[str, ...]


OUTCOME_BUCKETS: tuple[OutcomeBucket, ...] = (
    OutcomeBucket("5m", _("within 5 minutes"), ("5m",)),
    OutcomeBucket("1h", _("5 minutes to 1 hour"), ("1h",)),
    OutcomeBucket("within_1h", _("within 1 hour"), ("5m", "1h")),
    OutcomeBucket("24h", _("1 to 24 hours"), ("24h",)),
    OutcomeBucket("later", _("after 24 hours"), ("later",)),
    OutcomeBucket("never", _("never (24 h and more)"), ("never", "waiting")),
    OutcomeBucket("pending", _("not yet (under 24 h)"), ("pending",)),
)
OUTCOME_KEYS = tuple(b.key for b in OUTCOME_BUCKETS)


#: A lead's outcome for the grouped counts, as an index into ``OUTCOME_PREFIXES`` (the
#: counts' key prefixes: qualified ``q_<bucket>``, disqualified ``dq_<bucket>``;
#: undecided leads have no count of their own).
OUTCOME_INDEX = Case(
    When(_QUALIFIED, then=Value(1)),
    When(_DISQUALIFIED, then=Value(2)),
    default=Value(0),
    output_field=IntegerField(),
)
OUTCOME_PREFIXES = (None, "q", "dq")


def outcome_count_keys(bucket_keys) -> tuple[str, ...]:
    return tuple(f"{prefix}_{key}" for key in bucket_keys for prefix in OUTCOME_PREFIXES[1:])


def _rate(qualified: int, decided: int) -> dict:
    interval = stats.wilson_interval(qualified, decided)
    return {
        "rate": qualified / decided if decided else None,
        "rate_low": interval.low if interval else None,
        "rate_high": interval.high if interval else None,
    }


def outcome_table(row: dict) -> dict:
    """The outcome figures of one group (everything, a rep, a source) from its counts;
    ``median_minutes_to_qualify`` is filled in for the overall table only (one query)."""
    reference = lf_settings.OUTCOME_REFERENCE_BUCKET
    min_decided = lf_settings.OUTCOME_MIN_DECIDED
    buckets = []
    for bucket in OUTCOME_BUCKETS:
        leads = sum(row[part] for part in bucket.parts)
        qualified = sum(row[f"q_{part}"] for part in bucket.parts)
        disqualified = sum(row[f"dq_{part}"] for part in bucket.parts)
        decided = qualified + disqualified
        buckets.append(
            {
                "key": bucket.key,
                "label": bucket.label,
                "parts": bucket.parts,
                "leads": leads,
                "decided": decided,
                "qualified": qualified,
                "undecided": leads - decided,
                **_rate(qualified, decided),
                "enough": decided >= min_decided,
                "median_minutes_to_qualify": None,
            }
        )
    by_key = {b["key"]: b for b in buckets}
    ref = by_key[reference]
    for bucket in buckets:
        bucket.update(_ratio(ref, bucket, reference))
    totals = {
        "leads": sum(b["leads"] for b in buckets if b["key"] in _EXCLUSIVE),
    }
    totals["qualified"] = sum(b["qualified"] for b in buckets if b["key"] in _EXCLUSIVE)
    totals["decided"] = sum(b["decided"] for b in buckets if b["key"] in _EXCLUSIVE)
    totals["undecided"] = totals["leads"] - totals["decided"]
    totals.update(_rate(totals["qualified"], totals["decided"]))
    return {
        "reference": reference,
        "min_decided": min_decided,
        **totals,
        "buckets": buckets,
    }


#: The outcome buckets that do not overlap: they add up to every lead of the group.
_EXCLUSIVE = frozenset(OUTCOME_KEYS) - {"within_1h"}


def _ratio(ref: dict, bucket: dict, reference: str) -> dict:
    """The reference's rate ÷ this bucket's, or why there is none."""
    research = RESEARCH_RATIOS.get(bucket["key"]) if reference == "within_1h" else None
    out = {"ratio": None, "ratio_low": None, "ratio_high": None, "ratio_note": None}
    out["research_ratio"] = research
    if bucket["key"] == reference:
        out["ratio_note"] = "reference"
    elif set(bucket["parts"]) & set(ref["parts"]):
        # Overlapping groups (5 min within "within 1 h"): not two samples to compare.
        out["ratio_note"] = "overlaps_reference"
    elif not (ref["enough"] and bucket["enough"]):
        out["ratio_note"] = "too_few"
    else:
        found = stats.rate_ratio(
            ref["qualified"], ref["decided"], bucket["qualified"], bucket["decided"]
        )
        if found is None:
            out["ratio_note"] = (
                "reference_none_qualified" if not ref["qualified"] else "none_qualified"
            )
        else:
            out.update(ratio=found.ratio, ratio_low=found.low, ratio_high=found.high)
    return out


# --- time to qualification ----------------------------------------------------------


class _Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)``: an ordered-set aggregate (FILTER allowed)."""

    function = "percentile_cont"
    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def _to_qualify():
    return F("decided_at") - F("received_at")


def time_to_qualification(in_period: QuerySet, bucket_filters: dict[str, Q], on_pg: bool) -> dict:
    """Median minutes from receipt to qualification per outcome bucket: one query."""
    qualified = in_period.filter(_QUALIFIED, decided_at__isnull=False).order_by()
    conditions = {b.key: _any(bucket_filters[part] for part in b.parts) for b in OUTCOME_BUCKETS}
    if on_pg:
        found = qualified.aggregate(
            **{
                key: _Median(_to_qualify(), filter=condition)
                for key, condition in conditions.items()
            }
        )
        return {key: _minutes(value) for key, value in found.items()}
    # Elsewhere (SQLite, the small embedded case): the bucket from the same expressions,
    # the median in Python.
    exclusive = Case(
        *(When(condition, then=Value(key)) for key, condition in bucket_filters.items()),
        output_field=CharField(),
    )
    delays: dict[str, list[float]] = {}
    for part, received, decided in qualified.annotate(_bucket=exclusive).values_list(
        "_bucket", "received_at", "decided_at"
    ):
        minutes = (decided - received).total_seconds() / 60
        for bucket in OUTCOME_BUCKETS:
            if part in bucket.parts:
                delays.setdefault(bucket.key, []).append(minutes)
    return {key: stats.percentile(sorted(values), 0.5) for key, values in delays.items()}


def _any(conditions) -> Q:
    combined = Q()
    for condition in conditions:
        combined = condition if not combined else combined | condition
    return combined


def _minutes(value: timedelta | float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds() / 60
    return float(value) / 60_000_000  # microseconds, where intervals come back as numbers
