"""The shared lead filters plus what only the API offers: ``cold`` and ``ordering``."""

from __future__ import annotations

import django_filters as filters
from django.utils.translation import gettext_lazy as _

from leadfollow.filters import IdFilter, LeadFilterSet
from leadfollow.models import Assignment, Lead, LeadQuerySet

ORDERINGS = {
    "urgency": None,  # Lead.objects.by_urgency(now)
    "received_at": ("received_at", "pk"),
    "-received_at": ("-received_at", "-pk"),
    "score": ("score", "pk"),
    "-score": ("-score", "pk"),
    "first_response_due": ("first_response_due", "pk"),
    "-first_response_due": ("-first_response_due", "-pk"),
}


class LeadApiFilterSet(LeadFilterSet):
    cold = filters.BooleanFilter(
        label=_("Cold"),
        method="filter_cold",
        help_text=_("Open, never contacted and past the first-response deadline."),
    )
    ordering = filters.ChoiceFilter(
        label=_("Order"),
        choices=[(key, key) for key in ORDERINGS],
        method="filter_ordering",
        empty_label=None,
        help_text=_("Default: urgency (missed deadlines first, then the least time left)."),
    )

    class Meta(LeadFilterSet.Meta):
        model = Lead
        fields: list[str] = []

    def filter_cold(self, queryset: LeadQuerySet, name: str, value: bool | None):
        if value is None:
            return queryset
        if value:
            return queryset.cold(self.now)
        return queryset.exclude(pk__in=Lead.objects.cold(self.now).values("pk"))

    def filter_ordering(self, queryset: LeadQuerySet, name: str, value: str):
        return queryset  # applied last, in filter_queryset

    def filter_queryset(self, queryset: LeadQuerySet) -> LeadQuerySet:
        queryset = super().filter_queryset(queryset)
        order = ORDERINGS.get(self.form.cleaned_data.get("ordering") or "urgency")
        return queryset.by_urgency(self.now) if order is None else queryset.order_by(*order)


class AssignmentFilterSet(filters.FilterSet):
    lead = IdFilter(label=_("Lead id"), field_name="lead_id")
    to_rep = IdFilter(label=_("To rep (user id)"), field_name="to_rep_id")
    reason = filters.CharFilter(label=_("Reason"))

    class Meta:
        model = Assignment
        fields: list[str] = []
