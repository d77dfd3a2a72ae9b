"""The Python and the SQL evaluator agree, on whatever database DATABASE_URL names."""

import os
from copy import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadfollow.engagement import Scorer
from leadfollow.models import (
    EngagementEvent,
    EngagementRule,
    EventType,
    Lead,
    Operator,
    ScoringRule,
)
from leadfollow.scoring import (
    rescore_leads,
    rescore_rule_changes,
    rule_definition,
    rule_matches,
    score_expression,
    score_lead,
)
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
# Moderate by default (shared CI machines); LF_SCORING_EXAMPLES=2000 for a thorough run.
EXAMPLES = int(os.environ.get("LF_SCORING_EXAMPLES", "150"))

KEYS = st.sampled_from(["a", "b", "size", "Country", "x-y"])
# Case variants, non-ASCII letters whose case the evaluators must not fold, numeric texts.
WORDS = st.sampled_from(
    ["", "de", "DE", "De", "ads", "ADS partner", "é", "É", "straße", "STRASSE", "İx", "ix",
     "5", "05", "-5", "5.0", "5.50", " 5", "5 ", "1e3", "0.1", "250", "true", "null", "%", "_"]
)  # fmt: skip
TEXT = st.one_of(
    WORDS,
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=8),
)  # fmt: skip
NUMBERS = st.one_of(
    st.integers(-1000, 1000),
    st.sampled_from([0, 5, 250, 2**53 + 1, -(2**63), 2**64, 10**301, 0.1, 0.5, -2.5, 1e299]),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)
SCALARS = st.one_of(TEXT, NUMBERS, st.booleans(), st.none())
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=8,
)
ATTRIBUTES = st.dictionaries(KEYS, JSON, max_size=4)

PATHS = st.one_of(
    st.sampled_from(["source", "company", "email", "email_domain", "status", "name"]),
    st.lists(KEYS, min_size=1, max_size=3).map(lambda keys: "attributes." + ".".join(keys)),
)
RULE_VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.just({"a": 1}))


@st.composite
def rules(draw):
    return ScoringRule(
        pk=draw(st.integers(1, 10**6)),
        name="r",
        field_path=draw(PATHS),
        operator=draw(st.sampled_from(Operator.values)),
        value=draw(RULE_VALUES),
        points=draw(st.integers(-50, 50)),
    )


@st.composite
def leads(draw):
    email = draw(st.one_of(st.just(""), st.builds("{}@{}".format, TEXT, TEXT), TEXT))
    return Lead(
        name=draw(TEXT) or "x",
        email=email,
        company=draw(TEXT),
        source=draw(st.sampled_from(["web", "ads", "ADS", "partner", ""])),
        status=draw(st.sampled_from(["new", "working", "qualified"])),
        attributes=draw(ATTRIBUTES),
        # The stored behaviour points count in both evaluators (and in rescoring).
        engagement_score=draw(st.one_of(st.just(0), st.integers(-50, 50))),
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    rule_list=st.lists(rules(), min_size=1, max_size=6),
    lead_list=st.lists(leads(), min_size=1, max_size=5),
)
def test_python_and_database_scores_agree(rule_list, lead_list):
    Lead.objects.all().delete()
    # Before saving, as intake scores: the attributes as they came in.
    python_scores = [(score_lead(lead, rule_list), repr(lead.attributes)) for lead in lead_list]
    saved = Lead.objects.bulk_create(lead_list)
    database = dict(
        Lead.objects.annotate(expected=score_expression(rule_list)).values_list("pk", "expected")
    )
    reloaded = Lead.objects.filter(pk__in=[s.pk for s in saved]).order_by("pk")
    for lead, before_save in zip(reloaded, python_scores, strict=True):
        after_load = score_lead(lead, rule_list)
        detail = [(r.field_path, r.operator, r.value, rule_matches(r, lead)) for r in rule_list]
        assert before_save[0] == after_load, (before_save[1], lead.attributes, detail)
        assert database[lead.pk] == after_load, (lead.email, lead.attributes, detail)
    rescore_leads(Lead.objects.all(), rules=rule_list, batch_size=2)
    assert dict(Lead.objects.values_list("pk", "score")) == database


@settings(
    max_examples=EXAMPLES // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    rule_list=st.lists(rules(), min_size=1, max_size=5),
    lead_list=st.lists(leads(), min_size=1, max_size=5),
    edit=st.sampled_from(["change", "create", "delete", "deactivate"]),
    replacement=rules(),
)
def test_rescoring_after_a_rule_change_equals_a_full_rescore(rule_list, lead_list, edit,
                                                             replacement):  # fmt: skip
    """What the rule-change task writes (only the leads the old or new definition scores)
    is what rescoring every lead would write."""
    first, rest = rule_list[0], rule_list[1:]
    old_rules, new_rules = rule_list, [replacement, *rest]
    history = [rule_definition(first), rule_definition(replacement)]
    if edit == "create":
        old_rules, history = rest, [None, rule_definition(replacement)]
    elif edit == "delete":
        new_rules, history = rest, [rule_definition(first), None]
    elif edit == "deactivate":
        off = copy(first)
        off.active = False
        new_rules, history = rest, [rule_definition(first), rule_definition(off)]
    Lead.objects.all().delete()
    Lead.objects.bulk_create(lead_list)
    rescore_leads(Lead.objects.all(), rules=old_rules, batch_size=2)
    rescore_rule_changes([history], rules=new_rules, queryset=Lead.objects.all(), batch_size=2)
    expected = {lead.pk: score_lead(lead, new_rules) for lead in Lead.objects.all()}
    assert dict(Lead.objects.values_list("pk", "score")) == expected, history


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=rules(), lead=leads())
def test_each_rule_alone_agrees(rule, lead):
    """One rule at a time: a disagreement names the operator and value directly."""
    Lead.objects.all().delete()
    lead.save()
    lead.refresh_from_db()
    database = Lead.objects.annotate(expected=score_expression([rule])).get().expected
    assert database == score_lead(lead, [rule]), (rule.field_path, rule.operator, rule.value)


@pytest.mark.parametrize("number", [-(2**63), 2**63 - 1, -1e299])
def test_extreme_integers_score_alike(db, number):
    """JSON integers at the edges of 64 bits (SQLite's ABS() overflowed on -2**63)."""
    rule = ScoringRule(
        name="big", field_path="attributes.n", operator="gt", value=0, points=5, active=True
    )
    lead = LeadFactory.build(attributes={"n": number})
    lead.save()
    lead.refresh_from_db()
    database = Lead.objects.annotate(expected=score_expression([rule])).get().expected
    assert database == score_lead(lead, [rule]) == (5 if number > 0 else 0)


# --- behaviour points: engagement.Scorer.points (Python) and .expression (SQL) -------------------

NOW = datetime(2026, 11, 23, 9, 0, 0, 250_000, tzinfo=UTC)
DAY_US = 86_400 * 10**6
EVENT_TYPES = st.sampled_from(EventType.values)
# Ages in microseconds: any, whole days and half-lives exactly, the window's edge, the future.
AGES = st.one_of(
    st.integers(-120 * 10**6, 100 * DAY_US),
    st.sampled_from([0, 1, 250_000, 999_999, 10**6, DAY_US, 7 * DAY_US, 90 * DAY_US,
                     90 * DAY_US + 1, 90 * DAY_US - 1, 30 * DAY_US - 250_000]),
)  # fmt: skip
WEIGHTS = st.dictionaries(
    EVENT_TYPES,
    st.one_of(st.integers(0, 30), st.floats(0, 30, allow_nan=False), st.just(0.1)),
    max_size=7,
)
HALF_LIVES = st.one_of(st.sampled_from([0.5, 1.0, 7.0, 30.0]), st.floats(0.01, 100.0))


@st.composite
def engagement_rules(draw):
    return EngagementRule(
        pk=draw(st.integers(1, 10**6)),
        name="r",
        event_type=draw(EVENT_TYPES),
        min_events=draw(st.integers(1, 4)),
        within_days=draw(st.integers(1, 120)),
        points=draw(st.integers(-20, 20)),
    )


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    histories=st.lists(st.lists(st.tuples(EVENT_TYPES, AGES), max_size=8), min_size=1, max_size=4),
    rule_list=st.lists(engagement_rules(), max_size=4),
    weights=WEIGHTS,
    half_life_days=HALF_LIVES,
    window_days=st.sampled_from([1, 30, 90]),
    now_shift=st.integers(0, 10**6),
)
def test_python_and_database_engagement_points_agree(
    histories, rule_list, weights, half_life_days, window_days, now_shift
):
    EngagementEvent.objects.all().delete()
    Lead.objects.all().delete()
    now = NOW + timedelta(microseconds=now_shift)
    scorer = Scorer(
        now=now,
        rules=tuple(rule_list),
        weights={t: float(weights.get(t, 0)) for t in EventType.values},
        half_life_seconds=half_life_days * 86400.0,
        window_days=window_days,
    )
    leads = Lead.objects.bulk_create(LeadFactory.build() for _ in histories)
    EngagementEvent.objects.bulk_create(
        EngagementEvent(lead=lead, type=t, occurred_at=now - timedelta(microseconds=age),
                        source="p")
        for lead, history in zip(leads, histories, strict=True)
        for t, age in history
    )  # fmt: skip
    database = dict(Lead.objects.annotate(e=scorer.expression()).values_list("pk", "e"))
    for lead in leads:
        events = list(lead.engagement_events.values_list("type", "occurred_at"))
        detail = [(t, (now - at).total_seconds()) for t, at in events]
        assert database[lead.pk] == scorer.points(events), (detail, weights, half_life_days)
