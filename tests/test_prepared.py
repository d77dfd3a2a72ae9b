"""leadfollow.prepared: a queryset compiled once, run again with other values."""

from decimal import Decimal

import pytest
from django.db.models import BooleanField, ExpressionWrapper, Q

from leadfollow.intake import _earlier_leads
from leadfollow.models import Lead, RepProfile
from leadfollow.prepared import Prepared, PreparedUpdate
from tests.factories import LeadFactory, RepFactory

pytestmark = pytest.mark.django_db


def by_source_and_email(shape, *, source, email=None):
    leads = Lead.objects.filter(source=source)
    if email is not None:
        leads = leads.filter(email=email)
    flag = ExpressionWrapper(Q(status="new"), output_field=BooleanField())
    return leads.annotate(is_new=flag).order_by(shape)


def test_it_returns_what_the_queryset_returns_with_each_call_s_values():
    built = []
    prepared = Prepared(
        lambda *args, **kwargs: built.append(1) or by_source_and_email(*args, **kwargs)
    )
    ads = LeadFactory.create_batch(2, source="ads", status="working")
    web = LeadFactory(source="web", email="jo@example.org")
    for source, expected in (("ads", ads), ("web", [web]), ("none", [])):
        rows = prepared("pk", "default", source=source)
        assert rows == expected == list(by_source_and_email("pk", source=source))
        assert all(isinstance(row, Lead) and row.is_new == (row.status == "new") for row in rows)
    assert prepared("pk", "default", source="web", email="jo@example.org") == [web]
    assert prepared("-pk", "default", source="ads") == ads[::-1]
    # Compiled once per shape — (pk, source), (pk, both), (-pk, source) — with two probes.
    assert len(built) == 2 * 3


def test_values_are_parameters_never_sql():
    odd = LeadFactory(source="ads", email="o'brien%_\\@example.org")
    prepared = Prepared(by_source_and_email)
    assert prepared("pk", "default", source="ads", email=odd.email) == [odd]
    assert prepared("pk", "default", source="ads", email="o'brien") == []
    assert prepared("pk", "default", source="x' OR '1'='1") == []


def test_a_lookup_that_transforms_its_value_is_refused_when_first_compiled():
    prepared = Prepared(lambda shape, *, email: Lead.objects.filter(email__icontains=email))
    with pytest.raises(ValueError, match="email"):
        prepared(None, "default", email="jo")


def test_a_value_changed_before_the_lookup_is_refused_when_first_compiled():
    for build in (
        lambda shape, *, email: Lead.objects.filter(email=email.lower()),
        lambda shape, *, email: Lead.objects.filter(email=email, name=email.lower()),
        lambda shape, *, email: Lead.objects.filter(email=email, name=f"{email} (2)"),
    ):
        with pytest.raises(ValueError, match="unchanged"):
            Prepared(build)(None, "default", email="Jo@Example.org")


def test_intake_finds_earlier_leads_in_one_statement(django_assert_num_queries):
    first = LeadFactory(source="ads", external_id="A-1", email="jo@example.org", status="working")
    cleaned = {"source": "ads", "external_id": "A-1", "email": "jo@example.org"}
    with django_assert_num_queries(1):
        assert _earlier_leads(cleaned) == (first, None)
    other = {"source": "web", "external_id": "W-9", "email": "jo@example.org"}
    with django_assert_num_queries(1):
        assert _earlier_leads(other) == (None, first)  # the open lead with that address
    with django_assert_num_queries(1):
        assert _earlier_leads(other, within_source=True) == (None, None)


def test_integers_and_datetimes_take_their_places_and_nothing_else_changes(monday_10):
    from datetime import timedelta

    leads = [
        LeadFactory(received_at=monday_10 + timedelta(minutes=i), source="ads") for i in range(6)
    ]
    prepared = Prepared(
        lambda shape, *, when, after: Lead.objects.filter(
            source="ads", received_at__gte=when, pk__gt=after
        ).order_by(shape)
    )
    for when, after in ((monday_10, 0), (monday_10 + timedelta(minutes=2), leads[3].pk)):
        expected = list(
            Lead.objects.filter(source="ads", received_at__gte=when, pk__gt=after).order_by("pk")
        )
        assert prepared("pk", "default", when=when, after=after) == expected
    assert prepared("pk", "default", when=monday_10, after=leads[-1].pk) == []


def test_a_shifted_datetime_or_sql_that_depends_on_the_value_is_refused(monday_10):
    from datetime import timedelta

    shifted = Prepared(
        lambda shape, *, when: Lead.objects.filter(received_at__gte=when - timedelta(1))
    )
    with pytest.raises(ValueError, match="unchanged"):
        shifted(None, "default", when=monday_10)
    branching = Prepared(
        lambda shape, *, n: (
            Lead.objects.filter(pk__gt=n) if n > 0 else Lead.objects.filter(pk__lt=n)
        )
    )
    with pytest.raises(ValueError, match="depends"):
        branching(None, "default", n=5)
    # A float compared with an integer column is truncated on its way: refused too.
    with pytest.raises(ValueError, match="unchanged"):
        Prepared(lambda shape, *, x: Lead.objects.filter(score=x))(None, "default", x=1.5)
    with pytest.raises(TypeError, match="Decimal"):
        Prepared(lambda shape, *, x: Lead.objects.filter(score=x))(None, "default", x=Decimal(1))


def _pass_when_under(shape, *, pk, limit, **fields):
    """An UPDATE of one rep's row, only while ``routing_pass`` is under ``limit``."""
    return RepProfile.objects.filter(pk=pk, routing_pass__lt=limit), fields


def test_an_update_runs_with_each_call_s_values_and_counts_its_rows(monday_10):
    one, two = RepFactory(), RepFactory()
    built = []
    update = PreparedUpdate(lambda *a, **kw: built.append(1) or _pass_when_under(*a, **kw))
    assert update(None, "default", pk=one.pk, limit=1.0, routing_pass=2.5,
                  last_assigned_at=monday_10) == 1  # fmt: skip
    # Now over the limit: the same statement updates nothing.
    assert update(None, "default", pk=one.pk, limit=1.0, routing_pass=0.5,
                  last_assigned_at=monday_10) == 0  # fmt: skip
    assert update(None, "default", pk=two.pk, limit=9.0, routing_pass=0.75,
                  last_assigned_at=monday_10) == 1  # fmt: skip
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.routing_pass, one.last_assigned_at) == (2.5, monday_10)
    assert (two.routing_pass, two.last_assigned_at) == (0.75, monday_10)
    assert len(built) == 2  # one shape: compiled once, with its two probes


def test_an_update_whose_value_changes_on_its_way_is_refused(monday_10):
    rep = RepFactory()
    update = PreparedUpdate(
        lambda shape, *, pk, x: (RepProfile.objects.filter(pk=pk), {"weight": x})
    )
    with pytest.raises(ValueError, match="unchanged"):
        update(None, "default", pk=rep.pk, x=1.5)  # an integer column truncates it


def test_a_prepared_query_forgets_its_shapes_beyond_its_bound():
    built = []
    prepared = Prepared(
        lambda shape, *, source: built.append(shape) or Lead.objects.filter(source=source),
        max_shapes=2,
    )
    for shape in ("pk", "-pk", "pk", "name", "pk"):
        prepared(shape, "default", source="ads")
    # pk, -pk compiled; name clears them; pk again: three shapes compiled twice each.
    assert built == [s for s in ("pk", "-pk", "name", "pk") for _ in (0, 1)]


def test_rows_arrive_as_the_orm_reads_them_fields_converted_others_deferred():
    lead = LeadFactory(source="ads", attributes={"pages": ["/pricing"], "n": 2})
    full = Prepared(lambda shape, *, source: Lead.objects.filter(source=source))
    (row,) = full(None, "default", source="ads")
    expected = Lead.objects.get(pk=lead.pk)
    for field in Lead._meta.concrete_fields:  # JSON as dicts, datetimes aware, and so on
        assert getattr(row, field.attname) == getattr(expected, field.attname), field.name
    assert row._state.db == "default" and not row._state.adding

    some = Prepared(lambda shape, *, source: Lead.objects.filter(source=source).only("email"))
    (row,) = some(None, "default", source="ads")
    assert (
        row.get_deferred_fields()
        == expected.__class__.objects.only("email").get(pk=lead.pk).get_deferred_fields()
    )
    assert row.attributes == lead.attributes  # a deferred field loads on access

    keyless = Prepared(lambda shape, *, source: Lead.objects.filter(source=source).values("email"))
    with pytest.raises(ValueError, match="primary key"):
        keyless(None, "default", source="ads")
