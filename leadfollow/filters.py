"""FilterSets shared by the rep views and the API (``leadfollow.api.filters`` extends them).

Nothing here knows about views: the filters only narrow a ``LeadQuerySet``. Visibility is not
a filter — callers start from ``Lead.objects.visible_to(user)``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from leadfollow.models import OPEN_STATUSES, Lead, LeadQuerySet, LeadStatus
from leadfollow.people import user_zone


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time converted to UTC: PostgreSQL refuses offsets beyond ±15:59."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError(_("This time is out of range."), code="overflow") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class IdFilter(filters.Filter):
    """An integer primary key, without loading the related model to validate it."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)  # larger ids overflow bigint on PostgreSQL
        super().__init__(*args, **kwargs)


def end_of_day(now: datetime, zone: ZoneInfo) -> datetime:
    """The first instant of the day after ``now`` in ``zone`` (DST-safe: built in local time)."""
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=zone)


class LeadFilterSet(filters.FilterSet):
    """Filters over leads. Pass ``now=`` to pin the clock (tests); otherwise it is read once.

    Boolean filters take ``true``/``false``; leaving one empty does not filter.
    """

    status = filters.MultipleChoiceFilter(
        label=_("Status"), choices=LeadStatus.choices, distinct=False
    )
    source = filters.CharFilter(label=_("Source"), field_name="source")
    owner = IdFilter(label=_("Owner (user id)"), field_name="owner_id")
    unassigned = filters.BooleanFilter(
        label=_("Unassigned"), field_name="owner", lookup_expr="isnull"
    )
    overdue = filters.BooleanFilter(
        label=_("Overdue"),
        method="filter_overdue",
        help_text=_("Open leads past their first-response deadline or a follow-up time."),
    )
    follow_up_due = filters.BooleanFilter(
        label=_("Follow-up due today"),
        method="filter_follow_up_due",
        help_text=_("Open leads with a follow-up scheduled before the end of today."),
    )
    q = filters.CharFilter(
        label=_("Search"), method="filter_search", help_text=_("Name, company or e-mail.")
    )
    received_after = UtcDateTimeFilter(
        label=_("Received from"), field_name="received_at", lookup_expr="gte"
    )
    received_before = UtcDateTimeFilter(
        label=_("Received before"), field_name="received_at", lookup_expr="lt"
    )
    score_min = filters.NumberFilter(
        label=_("Score at least"), field_name="score", lookup_expr="gte"
    )
    score_max = filters.NumberFilter(
        label=_("Score at most"), field_name="score", lookup_expr="lte"
    )

    class Meta:
        model = Lead
        fields: list[str] = []

    def __init__(self, *args, now: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()

    @property
    def zone(self) -> ZoneInfo:
        return user_zone(getattr(self.request, "user", None))

    def filter_overdue(self, queryset: LeadQuerySet, name: str, value: bool | None):
        if value is None:
            return queryset
        if value:
            return queryset.overdue(self.now)
        return queryset.exclude(pk__in=Lead.objects.overdue(self.now).values("pk"))

    def filter_follow_up_due(self, queryset: LeadQuerySet, name: str, value: bool | None):
        if value is None:
            return queryset
        due = Q(status__in=OPEN_STATUSES, next_follow_up_at__lt=end_of_day(self.now, self.zone))
        return queryset.filter(due) if value else queryset.exclude(due)

    def filter_search(self, queryset: LeadQuerySet, name: str, value: str):
        for term in value.split():
            queryset = queryset.filter(
                Q(name__icontains=term) | Q(company__icontains=term) | Q(email__icontains=term)
            )
        return queryset
