"""Scoring rules: a live "matches N open leads" column and a preview before saving."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from leadfollow.admin.safeinput import SafeInputAdminMixin
from leadfollow.admin.widgets import RuleValueField
from leadfollow.models import ScoringRule
from leadfollow.scoring import match_counts, preview_rule_change


class ScoringRuleForm(forms.ModelForm):
    value = RuleValueField(
        label=_("value"),
        help_text=_(
            "Its type, then the value: a text, a number, true or false, or a list one per "
            "line for “is one of”. “is present” takes no value."
        ),
    )

    class Meta:
        model = ScoringRule
        fields = ["name", "field_path", "operator", "value", "points", "active", "note"]


@admin.register(ScoringRule)
class ScoringRuleAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    form = ScoringRuleForm
    list_display = [
        "name",
        "field_path",
        "operator",
        "value",
        "points",
        "active",
        "open_matches",
        "note",
    ]
    list_filter = ["active", "operator"]
    list_editable = ["active"]
    search_fields = ["name", "field_path", "note"]
    change_form_template = "admin/leadfollow/scoringrule/change_form.html"
    preview_template = "admin/leadfollow/scoringrule/preview.html"

    def get_changelist_instance(self, request):
        """Count the page's matches in one aggregate query over the open leads."""
        changelist = super().get_changelist_instance(request)
        rules = list(changelist.result_list)  # fills the cache the page then renders from
        counts = match_counts(rules)
        for rule in rules:
            rule.open_matches = counts.get(rule.pk, 0)
        return changelist

    @admin.display(description=_("matches open leads"))
    def open_matches(self, rule: ScoringRule):
        return getattr(rule, "open_matches", "–")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and "_preview" in request.POST:
            response = self.preview_view(request, object_id)
            if response is not None:
                return response
        return super().changeform_view(request, object_id, form_url, extra_context)

    def preview_view(self, request, object_id=None):
        """The score changes the posted rule would cause; saves nothing. Returns None for
        an invalid form, so the normal change form shows the errors."""
        rule = self.get_object(request, unquote(object_id)) if object_id else None
        if object_id and rule is None:
            return None
        allowed = (
            self.has_change_permission(request, rule)
            if rule is not None
            else self.has_add_permission(request)
        )
        if not allowed:
            raise PermissionDenied
        form_class = self.get_form(request, rule, change=rule is not None)
        form = form_class(request.POST, request.FILES, instance=rule)
        if not form.is_valid():
            return None
        proposed = form.save(commit=False)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Preview: %(rule)s") % {"rule": proposed},
            "rule": proposed,
            "original": rule,
            "form": form,
            "preview": preview_rule_change(proposed),
        }
        return TemplateResponse(request, self.preview_template, context)
