from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from leadfollow.admin.leads import ManagersMayViewMixin
from leadfollow.admin.safeinput import SafeLookupsAdminMixin
from leadfollow.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from leadfollow.people import is_manager
from leadfollow.webhooks import delivery


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=WebhookEvent.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "secret", "events", "active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(SafeLookupsAdminMixin, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "url", "active", "consecutive_failures", "disabled_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]
    readonly_fields = ["consecutive_failures", "disabled_at", "created_at"]
    fields = ["name", "url", "secret", "events", "active", *readonly_fields]

    def save_model(self, request, obj, form, change):
        if change and "active" in form.changed_data and obj.active:
            # Switched back on: a fresh count, and the pending deliveries are retried.
            obj.consecutive_failures, obj.disabled_at = 0, None
        super().save_model(request, obj, form, change)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(SafeLookupsAdminMixin, ManagersMayViewMixin, admin.ModelAdmin):
    """The delivery log: one row per event and endpoint. Read-only but for "send again".
    Managers read it without a per-model grant, like the other logs (engagement events,
    erasures): "send again" is theirs, so the page must be too."""

    list_display = [
        "created_at",
        "event",
        "endpoint",
        "lead_id",
        "status",
        "response_status",
        "duration_ms",
        "attempts",
        "next_attempt_at",
        "error",
    ]
    list_filter = ["status", "event", "endpoint"]
    search_fields = ["event_id", "=lead__id"]
    list_select_related = ["endpoint"]
    show_full_result_count = False
    date_hierarchy = "created_at"
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_send_permission(self, request) -> bool:
        return is_manager(request.user)

    @admin.action(description=_("Send again"), permissions=["send"])
    def send_again(self, request, queryset):
        count = delivery.send_again(queryset, user=request.user)
        skipped = queryset.count() - count
        self.message_user(
            request,
            ngettext("%(n)s delivery queued.", "%(n)s deliveries queued.", count) % {"n": count},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)s delivery skipped: its endpoint is disabled.",
                    "%(n)s deliveries skipped: their endpoints are disabled.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )
