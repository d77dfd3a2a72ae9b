import re
from datetime import timedelta
from types import SimpleNamespace as Namespace

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import connection
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from leadfollow import ownership
from leadfollow.admin.privacy import PrivacyActionsMixin
from leadfollow.admin.readonly import ReadOnlyAdminMixin
from leadfollow.admin.safeinput import SafeInputAdminMixin, SafeLookupsAdminMixin
from leadfollow.admin.widgets import KeyValueField
from leadfollow.models import (
    OPEN_STATUSES,
    Assignment,
    ContactAttempt,
    Lead,
    LeadStatus,
    RepProfile,
    Submission,
)
from leadfollow.people import is_manager
from leadfollow.routing import unavailability
from leadfollow.scoring import score_lead

USER_ID = re.compile(r"[0-9]{1,19}")


class EstimatedCountPaginator(Paginator):
    """On PostgreSQL an unfiltered changelist counts from the planner's statistics:
    an exact COUNT(*) over millions of leads costs more than the page itself."""

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if connection.vendor == "postgresql" and query is not None and not query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [self.object_list.model._meta.db_table],
                )
                estimate = cursor.fetchone()[0]
            if estimate > 100_000:
                return estimate
        return super().count


class RecentSourceFilter(admin.SimpleListFilter):
    """Sources seen in the last 90 days (an index range), not DISTINCT over every lead."""

    title = _("source")
    parameter_name = "source"

    def lookups(self, request, model_admin):
        since = timezone.now() - timedelta(days=90)
        sources = (
            Lead.objects.filter(received_at__gte=since)
            .order_by("source")
            .values_list("source", flat=True)
            .distinct()
        )
        return [(source, source) for source in sources]

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


class RepFilter(admin.SimpleListFilter):
    """Owners to choose from are the reps, not every user of the site."""

    title = _("owner")
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        reps = RepProfile.objects.select_related("user").order_by("user__username")
        return [("none", _("Nobody"))] + [(str(r.user_id), str(r.user)) for r in reps]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(owner__isnull=True)
        # ASCII digits only ("²".isdigit() is true, int("²") fails) and within bigint.
        if self.value() and USER_ID.fullmatch(self.value()) and int(self.value()) < 2**63:
            return queryset.filter(owner_id=int(self.value()))
        if self.value():  # not every lead under a filter the manager believes applied
            raise IncorrectLookupParameters(self.value())
        return queryset


class ManagersMayViewMixin:
    """Managers (leadfollow.manage_leads) work on every lead without per-model grants."""

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or is_manager(request.user)

    def has_module_permission(self, request):
        return super().has_module_permission(request) or is_manager(request.user)


class OverdueFilter(admin.SimpleListFilter):
    title = _("deadline")
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [
            ("cold", _("Cold: deadline missed, never contacted")),
            ("overdue", _("Any missed action (deadline or follow-up)")),
            ("waiting", _("Waiting for first contact, still in time")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "cold":
            return queryset.cold(now)
        if self.value() == "overdue":
            return queryset.overdue(now)
        if self.value() == "waiting":
            return queryset.open().uncontacted().filter(first_response_due__gte=now)
        return queryset


class AttemptAdminForm(forms.ModelForm):
    """An attempt as a person enters it: not before the lead arrived, not in the future,
    only on leads the user may see. Saved through ``ownership.log_attempt``."""

    class Meta:
        model = ContactAttempt
        fields = ["lead", "rep", "channel", "outcome", "attempted_at", "automated", "note"]

    def clean(self):
        data = super().clean()
        lead = data.get("lead") or getattr(self, "parent_lead", None)
        at = data.get("attempted_at")
        adding = self.instance._state.adding
        if adding and lead is not None and at is not None:
            error = ownership.attempt_time_error(lead, at)
            if error:
                self.add_error("attempted_at", error)
        return data


def record_from_form(form, lead: Lead) -> ContactAttempt:
    """Log the attempt as the rep pages do: its outcome may close the lead."""
    data = form.cleaned_data
    return ownership.log_attempt(
        lead,
        rep=data.get("rep"),
        channel=data["channel"],
        outcome=data["outcome"],
        note=data.get("note", ""),
        attempted_at=data.get("attempted_at"),
        automated=data.get("automated", False),
    )


class ContactAttemptInline(SafeInputAdminMixin, admin.TabularInline):
    """New attempts only; logged ones are history (they set the lead's contact times)."""

    model = ContactAttempt
    form = AttemptAdminForm
    extra = 0
    fields = ["attempted_at", "rep", "channel", "outcome", "automated", "note"]
    autocomplete_fields = ["rep"]
    ordering = ["-attempted_at"]
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return False

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = type("LeadAttemptForm", (formset.form,), {"parent_lead": obj})
        return formset


NOBODY = _("nobody")


def person(user, nobody=NOBODY) -> str:
    """A user as a manager knows them: full name, else user name."""
    if user is None:
        return str(nobody)
    return user.get_full_name() or user.get_username()


class AssignmentInline(admin.TabularInline):
    """The lead's history in words: who had it, who got it, why, who did it, when and until
    when (one query for all rows)."""

    model = Assignment
    fk_name = "lead"
    extra = 0
    can_delete = False
    fields = ["created_at", "previous_owner", "new_owner", "reason", "done_by", "deadline"]
    readonly_fields = fields
    ordering = ["-created_at", "-pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("from_rep", "to_rep", "actor")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("from"))
    def previous_owner(self, assignment: Assignment) -> str:
        return person(assignment.from_rep)

    @admin.display(description=pgettext_lazy("assignment: the new owner", "to"))
    def new_owner(self, assignment: Assignment) -> str:
        return person(assignment.to_rep, nobody=_("nobody (managers)"))

    @admin.display(description=_("by"))
    def done_by(self, assignment: Assignment) -> str:
        return person(assignment.actor, nobody=_("leadfollow (automatic)"))

    @admin.display(description=_("deadline set"))
    def deadline(self, assignment: Assignment) -> str:
        if assignment.first_response_due is None:
            return "–"
        return date_format(timezone.localtime(assignment.first_response_due), "DATETIME_FORMAT")


class SubmissionInline(admin.TabularInline):
    model = Submission
    extra = 0
    can_delete = False
    fields = ["received_at", "source", "external_id", "message", "attributes"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class LeadAdminForm(forms.ModelForm):
    """The owner must be a rep; a rep who cannot take leads now needs a confirmation. An
    owner is changed, never cleared (to pass a lead on, use the cold list's actions)."""

    LIFECYCLE_FIELDS = frozenset({"owner", "status", "confirm_unavailable"})

    attributes = KeyValueField(
        label=_("attributes"),
        required=False,
        help_text=_("Interest signals: pages viewed, company size, budget, UTM…"),
    )
    confirm_unavailable = forms.BooleanField(
        label=_("Assign even if this rep is unavailable"),
        required=False,
        help_text=_("Needed when the chosen owner is absent, off hours, not accepting or full."),
    )

    class Meta:
        model = Lead
        fields = [
            *("name", "email", "phone", "company", "message", "source", "external_id"),
            *("attributes", "status", "owner", "next_follow_up_at"),
        ]

    def clean(self):
        data = super().clean()
        owner = data.get("owner")
        adding = self.instance._state.adding
        reopens = "status" in self.changed_data and data.get("status") in OPEN_STATUSES
        owner_changed = "owner" in self.changed_data
        if owner_changed and not adding and not self.instance.is_open and not reopens:
            self.add_error("owner", ownership.LeadClosed(self.instance))
        if "owner" in self.changed_data or (adding and owner is not None):
            if owner is None:
                self.add_error(
                    "owner",
                    _("Choose a rep. To pass a lead on, use “Reassign to the next available "
                      "rep” on the cold leads list."),
                )  # fmt: skip
            elif not data.get("confirm_unavailable"):
                reasons = unavailability(owner.leadfollow_rep, timezone.now())
                if reasons:
                    self.add_error(
                        "confirm_unavailable",
                        ownership.RepUnavailable(owner.leadfollow_rep, reasons),
                    )
        return data


@admin.register(Lead)
class LeadAdmin(PrivacyActionsMixin, SafeInputAdminMixin, ManagersMayViewMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "company",
        "source",
        "status",
        "owner",
        "score",
        "received_at",
        "first_response_due",
        "first_contacted_at",
        "reassignment_count",
    ]
    # No date_hierarchy and no DISTINCT-over-everything filters: each would scan the table.
    list_filter = [OverdueFilter, "status", RecentSourceFilter, RepFilter, "received_at",
                   "phone_unparsed"]  # fmt: skip
    search_fields = ["name", "email", "company", "phone", "external_id"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    readonly_fields = [
        "received_at",
        "assigned_at",
        "first_response_due",
        "first_contacted_at",
        "last_contacted_at",
        "reassignment_count",
        "escalated_at",
        "decided_at",
        "score",
        "score_explanation",
        "engagement_score",
        "heated_up_at",
        "updated_at",
        "consent_purpose",
        "consent_text",
        "consent_at",
        "erased_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "email", "phone", "company", "message"]}),
        (_("Origin"), {"fields": ["source", "external_id", "attributes", "received_at"]}),
        (_("Consent"), {"fields": ["consent_purpose", "consent_text", "consent_at", "erased_at"]}),
        (
            _("Follow-up"),
            {
                "fields": [
                    "status",
                    "owner",
                    "score",
                    "score_explanation",
                    "engagement_score",
                    "heated_up_at",
                    "assigned_at",
                    "first_response_due",
                    "first_contacted_at",
                    "last_contacted_at",
                    "next_follow_up_at",
                    "reassignment_count",
                    "escalated_at",
                    "decided_at",
                    "updated_at",
                ]
            },
        ),
    ]
    inlines = [ContactAttemptInline, AssignmentInline, SubmissionInline]
    actions = ["erase_personal_data", "export_personal_data"]
    # A COUNT(*) over a million leads on every page is what makes big changelists slow.
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    form = LeadAdminForm
    json_objects = ("attributes",)  # the rep's lead page lists them as key/value

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # Choosing the owner is a manager's decision (a rep passes a lead on by handing it
        # back on the lead page); a lead added by anyone else is routed.
        return fields if is_manager(request.user) else [*fields, "owner"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not is_manager(request.user):
            return fieldsets
        name, options = fieldsets[-1]
        fields = list(options["fields"])
        fields.insert(fields.index("owner") + 1, "confirm_unavailable")
        return [*fieldsets[:-1], (name, {**options, "fields": fields})]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = get_user_model().objects.filter(leadfollow_rep__isnull=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        """Plain fields are saved here; owner, deadline and status go through
        ``leadfollow.ownership`` (an Assignment row, a deadline, the owner told)."""
        data, now = form.cleaned_data, timezone.now()
        obj.email = obj.email.strip().lower()
        if not change:
            chosen, status = obj.owner, obj.status
            obj.owner, obj.status = None, LeadStatus.NEW
            obj.score = score_lead(obj)
            obj.save()
            if chosen is None:
                ownership.assign_at_intake(obj, now=now, actor=request.user)
            else:
                ownership.assign_by_manager(
                    obj, chosen.leadfollow_rep, actor=request.user, now=now,
                    confirm_unavailable=True,  # the form asked for the confirmation
                )  # fmt: skip
            if status != LeadStatus.NEW:  # e.g. a deal closed on the phone: decided now
                ownership.set_status(obj, status)
            return
        plain = [f for f in form.changed_data if f not in LeadAdminForm.LIFECYCLE_FIELDS]
        if plain:
            obj.save(update_fields=[*plain, "updated_at"])
        status = data.get("status") if "status" in form.changed_data else None
        if status in OPEN_STATUSES:  # reopen before changing the owner
            ownership.set_status(obj, status)
        if "owner" in form.changed_data:
            ownership.assign_by_manager(
                obj, data["owner"].leadfollow_rep, actor=request.user, now=now,
                confirm_unavailable=True,
            )  # fmt: skip
        if status is not None and status not in OPEN_STATUSES:
            ownership.set_status(obj, status)

    def save_formset(self, request, form, formset, change):
        if formset.model is not ContactAttempt:
            return super().save_formset(request, form, formset, change)
        for attempt_form in formset.extra_forms:
            if attempt_form.has_changed() and not attempt_form.cleaned_data.get("DELETE"):
                record_from_form(attempt_form, form.instance)
        formset.new_objects = formset.changed_objects = formset.deleted_objects = []
        return None

    @admin.display(description=_("why this score"))
    def score_explanation(self, lead: Lead):
        """The active rules the lead matches now, with their points and notes."""
        from leadfollow.scoring import explain_score

        rows = explain_score(lead)
        if lead.engagement_score:
            # Behaviour points as one line: the rep's lead page itemises them by event.
            rows.append((Namespace(name=_("Engagement events"), note=""), lead.engagement_score))
        if not rows:
            return _("No active scoring rule matches.")
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("rule"),
            _("points"),
            _("note for reps"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((r.name, f"{p:+d}", r.note) for r, p in rows),
            ),
        )


@admin.register(ContactAttempt)
class ContactAttemptAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    """Attempts are history: added (through ``ownership.log_attempt``, so the lead's
    contact times and status follow, as on the rep pages), their outcome and note
    corrected (``ownership.correct_attempt``), never moved or deleted."""

    form = AttemptAdminForm
    list_display = ["lead", "rep", "channel", "outcome", "attempted_at", "automated"]
    list_filter = ["channel", "outcome", "automated", "attempted_at"]
    search_fields = ["lead__name", "lead__email", "note"]
    list_select_related = ["lead", "rep"]
    autocomplete_fields = ["lead", "rep"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_queryset(self, request):
        visible = Lead.objects.visible_to(request.user)
        return super().get_queryset(request).filter(lead__in=visible)

    def get_readonly_fields(self, request, obj=None):
        return ["lead", "rep", "attempted_at", "automated"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Only leads the user may see; a rep logs their own attempts, a manager anyone's.
        if db_field.name == "lead":
            kwargs["queryset"] = Lead.objects.visible_to(request.user)
        if db_field.name == "rep" and not is_manager(request.user):
            kwargs["queryset"] = get_user_model().objects.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            ownership.correct_attempt(obj, form.changed_data)
        else:
            form.instance = record_from_form(form, form.cleaned_data["lead"])

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Assignment)
class AssignmentAdmin(SafeLookupsAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: assignment history is append-only."""

    list_display = ["created_at", "lead", "from_rep", "to_rep", "reason", "actor"]
    list_filter = ["reason", "created_at", "to_rep"]
    search_fields = ["lead__name", "lead__email"]
    list_select_related = ["lead", "from_rep", "to_rep", "actor"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_queryset(self, request):
        visible = Lead.objects.visible_to(request.user)
        return super().get_queryset(request).filter(lead__in=visible)
