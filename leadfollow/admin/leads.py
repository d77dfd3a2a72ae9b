from datetime import timedelta

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from leadfollow.models import Assignment, ContactAttempt, Lead, RepProfile, Submission
from leadfollow.models.lead import MANAGE_PERMISSION


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
        if self.value() and self.value().isdigit():
            return queryset.filter(owner_id=int(self.value()))
        return queryset


class ManagersMayViewMixin:
    """Managers (leadfollow.manage_leads) work on every lead without per-model grants."""

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or request.user.has_perm(MANAGE_PERMISSION)

    def has_module_permission(self, request):
        return super().has_module_permission(request) or request.user.has_perm(MANAGE_PERMISSION)


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


class ContactAttemptInline(admin.TabularInline):
    model = ContactAttempt
    extra = 0
    fields = ["attempted_at", "rep", "channel", "outcome", "automated", "note"]
    autocomplete_fields = ["rep"]
    ordering = ["-attempted_at"]


class AssignmentInline(admin.TabularInline):
    model = Assignment
    fk_name = "lead"
    extra = 0
    can_delete = False
    fields = ["created_at", "from_rep", "to_rep", "reason", "actor", "first_response_due"]
    readonly_fields = fields
    ordering = ["-created_at", "-pk"]

    def has_add_permission(self, request, obj=None):
        return False


class SubmissionInline(admin.TabularInline):
    model = Submission
    extra = 0
    can_delete = False
    fields = ["received_at", "source", "external_id", "message", "attributes"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Lead)
class LeadAdmin(ManagersMayViewMixin, admin.ModelAdmin):
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
    list_filter = [OverdueFilter, "status", RecentSourceFilter, RepFilter, "received_at"]
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
        "score",
        "score_explanation",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "email", "phone", "company", "message"]}),
        (_("Origin"), {"fields": ["source", "external_id", "attributes", "received_at"]}),
        (
            _("Follow-up"),
            {
                "fields": [
                    "status",
                    "owner",
                    "score",
                    "score_explanation",
                    "assigned_at",
                    "first_response_due",
                    "first_contacted_at",
                    "last_contacted_at",
                    "next_follow_up_at",
                    "reassignment_count",
                    "escalated_at",
                    "updated_at",
                ]
            },
        ),
    ]
    inlines = [ContactAttemptInline, AssignmentInline, SubmissionInline]
    # A COUNT(*) over a million leads on every page is what makes big changelists slow.
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    @admin.display(description=_("why this score"))
    def score_explanation(self, lead: Lead):
        """The active rules the lead matches now, with their points and notes."""
        from leadfollow.scoring import explain_score

        rows = explain_score(lead)
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
class ContactAttemptAdmin(admin.ModelAdmin):
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


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
