"""The sweep's set-based writer: the same rows as ``bulk_update`` and ``bulk_create``, in one
statement."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leadfollow.bulkwrite import insert_rows, update_rows
from leadfollow.models import Assignment, AssignmentReason, Lead
from tests.factories import LeadFactory, RepFactory

pytestmark = pytest.mark.django_db


def test_writes_each_rows_own_values_including_nulls_in_one_statement(django_assert_num_queries):
    rep = RepFactory()
    now = timezone.now().replace(microsecond=0)
    leads = [LeadFactory(owner=rep.user if i % 2 else None) for i in range(5)]
    untouched = LeadFactory(name="untouched", owner=rep.user)
    for i, lead in enumerate(leads):
        lead.owner = None if i % 2 else rep.user  # swap: NULLs and ids in one column
        lead.first_response_due = now + timedelta(minutes=i) if i != 3 else None
        lead.reassignment_count = i * 7
        lead.name = "renamed in memory only"  # not in the field list: not written
    with django_assert_num_queries(1):
        assert update_rows(leads, ["owner", "first_response_due", "reassignment_count"]) == 5
    for i, lead in enumerate(leads):
        stored = Lead.objects.get(pk=lead.pk)
        assert stored.owner_id == (None if i % 2 else rep.user_id)
        assert stored.first_response_due == (now + timedelta(minutes=i) if i != 3 else None)
        assert stored.reassignment_count == i * 7
        assert stored.name != "renamed in memory only"
    assert Lead.objects.get(pk=untouched.pk).owner_id == rep.user_id


def test_nothing_to_write_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert update_rows([], ["owner"]) == 0


def test_a_column_with_one_value_for_every_row_is_written_to_each(django_assert_num_queries):
    rep = RepFactory()
    now = timezone.now().replace(microsecond=0)
    leads = [LeadFactory(owner=None, reassignment_count=i) for i in range(4)]
    for lead in leads:
        lead.owner, lead.updated_at, lead.escalated_at = rep.user, now, None
    with django_assert_num_queries(1):
        assert update_rows(leads, ["owner", "updated_at", "escalated_at"]) == 4
    stored = Lead.objects.filter(pk__in=[lead.pk for lead in leads]).order_by("pk")
    assert [(x.owner_id, x.updated_at, x.escalated_at) for x in stored] == [
        (rep.user_id, now, None)
    ] * 4
    assert [x.reassignment_count for x in stored] == [0, 1, 2, 3]


def test_inserts_rows_in_one_statement_and_gives_them_their_keys(django_assert_num_queries):
    alice, bob = RepFactory(), RepFactory()
    now = timezone.now().replace(microsecond=0)
    leads = [LeadFactory() for _ in range(5)]
    rows = [
        Assignment(
            lead=lead,
            from_rep=alice.user if i % 2 else None,  # NULLs and ids in one column
            to_rep=bob.user,  # the same for every row
            reason=AssignmentReason.SLA_BREACH,
            created_at=now,
            first_response_due=now + timedelta(minutes=i) if i != 3 else None,
            note=f"row {i}",
        )
        for i, lead in enumerate(leads)
    ]
    with django_assert_num_queries(1):
        assert insert_rows(rows) == rows
    assert all(row.pk and not row._state.adding for row in rows)
    for i, row in enumerate(rows):
        stored = Assignment.objects.get(pk=row.pk)
        assert stored.lead_id == leads[i].pk
        assert stored.from_rep_id == (alice.user_id if i % 2 else None)
        assert stored.to_rep_id == bob.user_id
        assert stored.first_response_due == (now + timedelta(minutes=i) if i != 3 else None)
        assert (stored.note, stored.reason, stored.created_at) == (f"row {i}", "sla_breach", now)
        assert stored.notified_at is None


def test_one_new_row_takes_defaults_and_a_related_object_saved_after_it_was_set():
    lead = LeadFactory.build()
    row = Assignment(lead=lead, reason=AssignmentReason.INTAKE)  # created_at: its default
    lead.save()  # after ``row.lead = lead``: the key is read at insert time
    before = timezone.now()
    (inserted,) = insert_rows([row])
    stored = Assignment.objects.get(pk=inserted.pk)
    assert stored.lead_id == lead.pk
    assert stored.to_rep_id is None
    assert before - timedelta(seconds=5) <= stored.created_at <= timezone.now()


def test_no_new_rows_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert insert_rows([]) == []
