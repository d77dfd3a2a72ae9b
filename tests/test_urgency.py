"""Lead.objects.by_urgency(now): overdue first, then time left brought forward by fresh score."""

from datetime import timedelta

import pytest
from django.test import override_settings

from leadfollow.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


@pytest.fixture
def now(monday_10):
    return monday_10


def lead(now, *, due=None, score=0, age=timedelta(0), **kwargs) -> Lead:
    return LeadFactory(
        first_response_due=None if due is None else now + due,
        score=score,
        received_at=now - age,
        **kwargs,
    )


def order(now) -> list[Lead]:
    return list(Lead.objects.by_urgency(now))


def test_a_fresh_high_score_brings_a_lead_forward(now):
    plain = lead(now, due=20 * MINUTE)
    hot = lead(now, due=25 * MINUTE, score=40)  # 40 × 0.25 min: as if due at +15 min
    assert order(now) == [hot, plain]


def test_the_score_head_start_halves_with_each_half_life_of_age(now):
    plain = lead(now, due=20 * MINUTE)
    hot_but_old = lead(now, due=25 * MINUTE, score=40, age=3 * HOUR)  # 10 min / 8: +23.75
    assert order(now) == [plain, hot_but_old]
    with override_settings(LEADFOLLOW={"URGENCY_HALF_LIFE_HOURS": 10}):  # 10 × 0.81: +16.9
        assert order(now) == [hot_but_old, plain]


def test_without_points_per_score_the_deadline_alone_decides(now):
    plain = lead(now, due=20 * MINUTE)
    lead(now, due=25 * MINUTE, score=1000)
    with override_settings(LEADFOLLOW={"URGENCY_MINUTES_PER_POINT": 0}):
        assert order(now)[0] == plain


def test_the_urgency_annotation_is_seconds_to_the_effective_deadline(now):
    lead(now, due=25 * MINUTE, score=40, age=HOUR)  # 40 × 15 s × 0.5 = 300 s
    assert Lead.objects.by_urgency(now).get().urgency == pytest.approx(25 * 60 - 300, abs=0.01)


def test_missed_deadlines_come_first_whatever_the_score(now):
    in_time_hot = lead(now, due=MINUTE, score=10_000)
    late_cold_score = lead(now, due=-MINUTE, score=-50)
    later_breach = lead(now, due=-2 * MINUTE, score=-50)
    assert order(now) == [later_breach, late_cold_score, in_time_hot]


def test_contacted_leads_follow_by_their_next_follow_up_and_undated_leads_go_last(now):
    undated = lead(now)
    waiting = lead(now, due=3 * HOUR)
    follow_up_missed = lead(now, due=-9 * HOUR, first_contacted_at=now - 8 * HOUR,
                            next_follow_up_at=now - HOUR)  # fmt: skip
    follow_up_soon = lead(now, due=-9 * HOUR, first_contacted_at=now - 8 * HOUR,
                          next_follow_up_at=now + HOUR)  # fmt: skip
    no_follow_up = lead(now, due=-9 * HOUR, first_contacted_at=now - 8 * HOUR, score=90)
    assert order(now) == [waiting, undated, follow_up_missed, follow_up_soon, no_follow_up]


def test_equal_urgency_goes_to_the_higher_score_then_the_older_row(now):
    first = lead(now, due=HOUR, age=30 * 24 * HOUR)
    second = lead(now, due=HOUR, age=30 * 24 * HOUR)
    higher = lead(now, due=HOUR, age=30 * 24 * HOUR, score=3)
    with override_settings(LEADFOLLOW={"URGENCY_MINUTES_PER_POINT": 0}):
        assert order(now) == [higher, first, second]


def test_extreme_ages_neither_overflow_nor_underflow(now):
    ancient = lead(now, due=HOUR, score=50, age=24 * 365 * 10 * HOUR)  # decays to ~0
    from_the_future = lead(now, due=HOUR, score=50, age=-48 * HOUR)  # counts as fresh
    assert order(now) == [from_the_future, ancient]
    assert Lead.objects.by_urgency(now).get(pk=ancient.pk).urgency == pytest.approx(3600)


def test_sorting_is_one_query(now, django_assert_num_queries):
    Lead.objects.bulk_create(
        Lead(name=f"lead {i}", email=f"l{i}@example.org", score=i % 50,
             received_at=now - (i % 300) * MINUTE, first_response_due=now + (i % 97 - 20) * MINUTE)
        for i in range(2000)
    )  # fmt: skip
    with django_assert_num_queries(1):
        ordered = list(Lead.objects.by_urgency(now).values_list("breached", "urgency"))
    assert ordered[0][0] == 1
    cold = [u for c, u in ordered if c]
    assert cold == sorted(cold) and all(u < 0 for u in cold)


def test_closed_uncontacted_leads_do_not_outrank_open_ones(monday_10):
    open_lead = LeadFactory(first_response_due=monday_10 + timedelta(minutes=30))
    closed = LeadFactory(status="disqualified", first_response_due=monday_10 + timedelta(minutes=5))
    ordered = list(Lead.objects.by_urgency(monday_10))
    assert ordered.index(open_lead) < ordered.index(closed)
    assert all(not isinstance(lead.is_cold, int) for lead in ordered)
    assert not ordered[0].is_cold(monday_10)
