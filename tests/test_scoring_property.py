"""The Python and the SQL evaluator agree, on whatever database DATABASE_URL names."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadfollow.models import Lead, Operator, ScoringRule
from leadfollow.scoring import rescore_leads, rule_matches, score_expression, score_lead
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
