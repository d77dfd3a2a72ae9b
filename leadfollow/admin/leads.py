from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadfollow.models import Assignment, ContactAttempt, Lead, Submission


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
class LeadAdmin(admin.ModelAdmin):
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
    list_filter = [OverdueFilter, "status", "source", "owner", "received_at"]
    search_fields = ["name", "email", "company", "phone", "external_id"]
    list_select_related = ["owner"]
    date_hierarchy = "received_at"
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

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(ContactAttempt)
class ContactAttemptAdmin(admin.ModelAdmin):
    list_display = ["lead", "rep", "channel", "outcome", "attempted_at", "automated"]
    list_filter = ["channel", "outcome", "automated", "attempted_at"]
    search_fields = ["lead__name", "lead__email", "note"]
    list_select_related = ["lead", "rep"]
    autocomplete_fields = ["lead", "rep"]
    date_hierarchy = "attempted_at"
    show_full_result_count = False

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
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_queryset(self, request):
        visible = Lead.objects.visible_to(request.user)
        return super().get_queryset(request).filter(lead__in=visible)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
