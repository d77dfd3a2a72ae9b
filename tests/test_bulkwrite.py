"""The sweep's set-based writer: the same rows as ``bulk_update``, in one statement."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leadfollow.bulkwrite import update_rows
from leadfollow.models import Lead
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
