"""Engagement events (read-only history) and the rules that score them."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from leadfollow.admin.leads import ManagersMayViewMixin
from leadfollow.admin.safeinput import SafeInputAdminMixin, SafeLookupsAdminMixin
from leadfollow.models import EngagementEvent, EngagementRule


@admin.register(EngagementEvent)
class EngagementEventAdmin(SafeLookupsAdminMixin, ManagersMayViewMixin, admin.ModelAdmin):
    """Append-only: events are what happened; erase a lead's data by blanking properties."""

    list_display = ["occurred_at", "type", "lead", "source", "idempotency_id", "recorded_at"]
    list_filter = ["type", "source"]
    search_fields = ["idempotency_id", "lead__email", "lead__name"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead"]
    readonly_fields = [
        "lead", "type", "occurred_at", "recorded_at", "source", "idempotency_id", "properties",
    ]  # fmt: skip
    show_full_result_count = False
    ordering = ["-occurred_at", "-pk"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EngagementRule)
class EngagementRuleAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    list_display = ["name", "event_type", "min_events", "within_days", "points", "active", "note"]
    list_filter = ["active", "event_type"]
    list_editable = ["active"]
    search_fields = ["name", "note"]
    fieldsets = [
        (None, {"fields": ["name", "active", "note"]}),
        (
            _("At least N events of a type within D days earn the points"),
            {"fields": ["event_type", "min_events", "within_days", "points"]},
        ),
    ]
