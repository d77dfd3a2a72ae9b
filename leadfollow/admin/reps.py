from django.contrib import admin

from leadfollow.admin.safeinput import SafeInputAdminMixin
from leadfollow.models import Absence, RepProfile


class AbsenceInline(admin.TabularInline):
    model = Absence
    extra = 0


@admin.register(RepProfile)
class RepProfileAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    json_objects = ("working_hours",)
    list_display = ["user", "accepting_leads", "timezone", "capacity", "weight", "last_assigned_at"]
    list_filter = ["accepting_leads", "timezone"]
    list_editable = ["accepting_leads", "capacity", "weight"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user"]
    readonly_fields = ["last_assigned_at"]
    list_select_related = ["user"]
    inlines = [AbsenceInline]


@admin.register(Absence)
class AbsenceAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    list_display = ["rep", "starts_at", "ends_at", "reason"]
    list_filter = ["starts_at"]
    search_fields = ["rep__user__username", "reason"]
    autocomplete_fields = ["rep"]
    list_select_related = ["rep__user"]
