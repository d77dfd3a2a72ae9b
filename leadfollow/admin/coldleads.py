"""Cold leads as their own changelist, with the managers' bulk actions and the dashboard."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from leadfollow import interventions
from leadfollow.admin.dashboard import DashboardViews
from leadfollow.admin.safeinput import SafeLookupsAdminMixin
from leadfollow.models import ColdLead, RepProfile
from leadfollow.models.lead import BREACH_WARNING_MINUTES
from leadfollow.routing import absent_until, open_loads, unavailability


class BreachFilter(admin.SimpleListFilter):
    """Cold now (default) or about to breach. The widening happens in get_queryset()."""

    title = _("deadline")
    parameter_name = "breach"

    def lookups(self, request, model_admin):
        return [
            ("soon", _("About to breach (next %(n)s min)") % {"n": BREACH_WARNING_MINUTES}),
            ("at_risk", _("Cold or about to breach")),
        ]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("Cold now"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        return queryset


class EscalatedFilter(admin.SimpleListFilter):
    title = _("escalated")
    parameter_name = "escalated"

    def lookups(self, request, model_admin):
        return [("yes", _("Escalated")), ("no", _("Not escalated"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(escalated_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(escalated_at__isnull=True)
        return queryset


class RepChoiceField(forms.ModelChoiceField):
    """Each rep with what a manager needs to choose: load / capacity and, for a rep who
    cannot take leads now, why (absent until when, off hours, not accepting, full)."""

    def __init__(self, *args, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        self.loads: dict[int, int] = {}

    def unavailability(self, profile) -> list[str]:
        # The absence's end comes with the rows (AssignToRepForm): no query per rep.
        known = {"absence_ends": profile.absent_until} if hasattr(profile, "absent_until") else {}
        return unavailability(profile, self.now, load=self.loads.get(profile.user_id, 0), **known)

    def label_from_instance(self, obj):
        reasons = self.unavailability(obj)
        return gettext("%(rep)s — %(load)s/%(capacity)s open uncontacted, %(state)s") % {
            "rep": obj.user.get_full_name() or obj.user.get_username(),
            "load": self.loads.get(obj.user_id, 0),
            "capacity": obj.effective_capacity,
            "state": gettext("unavailable: %(why)s") % {"why": "; ".join(reasons)}
            if reasons
            else gettext("available"),
        }


class AssignToRepForm(forms.Form):
    rep = RepChoiceField(
        label=_("Assign to"),
        queryset=RepProfile.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
    )
    confirm_unavailable = forms.BooleanField(
        label=_("Assign even if this rep is unavailable"),
        required=False,
        help_text=_(
            "A rep who is absent, off hours, not accepting or full will not call soon; "
            "the lead keeps its new deadline and goes cold if they miss it."
        ),
    )

    def __init__(self, *args, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["rep"]
        field.now = now or timezone.now()
        field.queryset = (
            RepProfile.objects.filter(user__is_active=True)
            .select_related("user")
            .annotate(absent_until=absent_until(field.now))
            .order_by("-accepting_leads", "user__username")
        )
        field.loads = open_loads()

    def clean(self):
        data = super().clean()
        rep = data.get("rep")
        if rep is not None and not data.get("confirm_unavailable"):
            reasons = self.fields["rep"].unavailability(rep)
            if reasons:
                self.add_error(
                    "confirm_unavailable",
                    gettext("%(rep)s is unavailable (%(why)s). Tick the box to assign anyway.")
                    % {"rep": rep, "why": "; ".join(reasons)},
                )
        return data


@admin.register(ColdLead)
class ColdLeadAdmin(SafeLookupsAdminMixin, DashboardViews, admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "source",
        "score",
        "first_response_due",
        "overdue_by",
        "reassignment_count",
        "escalated_at",
        "received_at",
    ]
    list_filter = [
        BreachFilter,
        EscalatedFilter,
        "source",
        ("owner", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["name", "email", "company", "phone"]
    list_select_related = ["owner"]
    ordering = ["first_response_due", "pk"]
    list_per_page = 50
    show_full_result_count = False
    actions = ["reassign_to_next", "assign_to_chosen_rep", "escalate"]
    change_list_template = "admin/leadfollow/coldlead/change_list.html"
    assign_template = "admin/leadfollow/coldlead/assign_to_rep.html"

    def get_urls(self):
        return self.get_dashboard_urls() + super().get_urls()

    def get_queryset(self, request):
        now = timezone.now()
        breach = request.GET.get(BreachFilter.parameter_name)
        if request.GET.get(EscalatedFilter.parameter_name) == "yes":
            # The managers' escalations list: not cold (nobody is on the clock), waiting.
            queryset = ColdLead.all_leads.escalated()
        elif breach in ("soon", "at_risk"):
            queryset = ColdLead.all_leads.at_risk(now)
            if breach == "soon":
                queryset = queryset.filter(first_response_due__gte=now)
        else:
            queryset = ColdLead.objects.all()
        ordering = self.get_ordering(request)
        return queryset.visible_to(request.user).order_by(*ordering)

    # -- permissions: managers only; nothing to add or delete here --------------------

    def has_view_permission(self, request, obj=None):
        return self.has_manage_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_manage_permission(request)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_module_permission(self, request):
        return self.has_manage_permission(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Edit the lead where leads are edited; this list is for triage.
        return HttpResponseRedirect(reverse("admin:leadfollow_lead_change", args=[object_id]))

    def changelist_view(self, request, extra_context=None):
        extra = {"dashboard_url": reverse(f"{self.admin_site.name}:leadfollow_dashboard")}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    @admin.display(description=_("overdue by"), ordering="first_response_due")
    def overdue_by(self, obj):
        from leadfollow.templatetags.leadfollow_dashboard import duration

        minutes = (timezone.now() - obj.first_response_due).total_seconds() / 60
        if minutes < 0:
            return gettext("due in %(t)s") % {"t": duration(-minutes)}
        return duration(minutes)

    # -- bulk actions ----------------------------------------------------------------

    def _report(self, request, result, done: str, **params):
        if result.changed:
            params["n"] = len(result.changed)
            self.message_user(request, done % params, messages.SUCCESS)
        if result.skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)s lead left as it was (closed meanwhile, or nobody could take it).",
                    "%(n)s leads left as they were (closed meanwhile, or nobody could take them).",
                    len(result.skipped),
                )
                % {"n": len(result.skipped)},
                messages.WARNING,
            )

    @admin.action(permissions=["manage"], description=_("Reassign to the next available rep"))
    def reassign_to_next(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        result = interventions.reassign_to_next(ids, actor=request.user)
        self._report(request, result, gettext("Reassigned %(n)s lead(s)."))

    @admin.action(permissions=["manage"], description=_("Assign to a rep I choose…"))
    def assign_to_chosen_rep(self, request, queryset):
        if "apply" in request.POST:
            form = AssignToRepForm(request.POST)
            if form.is_valid():
                rep = form.cleaned_data["rep"]
                ids = list(queryset.values_list("pk", flat=True))
                result = interventions.assign_to_rep(
                    ids, rep, actor=request.user, confirm_unavailable=True
                )
                done = gettext("Assigned %(n)s lead(s) to %(rep)s.")
                self._report(request, result, done, rep=str(rep))
                return None
        else:
            form = AssignToRepForm()
        leads = list(queryset.select_related("owner")[:200])
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Assign cold leads to a rep"),
            "opts": self.model._meta,
            "form": form,
            "leads": leads,
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action": "assign_to_chosen_rep",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "query": request.GET.urlencode(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.assign_template, context)

    @admin.action(permissions=["manage"], description=_("Escalate to managers"))
    def escalate(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        result = interventions.escalate(ids, actor=request.user)
        self._report(request, result, gettext("Escalated %(n)s lead(s)."))
