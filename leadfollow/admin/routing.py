from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from leadfollow.admin.safeinput import SafeInputAdminMixin
from leadfollow.admin.widgets import ListField
from leadfollow.models import RoutingRule


class RoutingRuleForm(forms.ModelForm):
    sources = ListField(
        label=_("sources"),
        required=False,
        help_text=_("Lead sources this rule applies to, one per line (e.g. ads); empty: any."),
    )
    attribute_values = ListField(
        label=_("attribute values"),
        required=False,
        help_text=_("Values that match, one per line (case-insensitive), e.g. de, at, ch."),
    )

    class Meta:
        model = RoutingRule
        fields = [
            "name",
            "priority",
            "active",
            "sources",
            "attribute",
            "attribute_values",
            "min_score",
            "max_score",
            "reps",
            "fallback_to_all",
            "sla_minutes",
        ]

    def clean(self):
        data = super().clean()
        # The model's clean() cannot see many-to-many values; the form can.
        if data.get("active") and not data.get("reps") and not data.get("fallback_to_all"):
            self.add_error(
                "reps",
                _("Choose at least one rep, or allow falling back to all reps."),
            )
        return data


@admin.register(RoutingRule)
class RoutingRuleAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = [
        "name",
        "priority",
        "active",
        "sources",
        "attribute",
        "min_score",
        "max_score",
        "sla_minutes",
        "fallback_to_all",
    ]
    list_editable = ["priority", "active"]
    list_filter = ["active", "fallback_to_all"]
    search_fields = ["name", "attribute"]
    filter_horizontal = ["reps"]
    fieldsets = [
        (None, {"fields": ["name", "priority", "active"]}),
        (
            _("Leads this rule applies to (all conditions must hold)"),
            {"fields": ["sources", "attribute", "attribute_values", "min_score", "max_score"]},
        ),
        (_("Where they go"), {"fields": ["reps", "fallback_to_all", "sla_minutes"]}),
    ]
