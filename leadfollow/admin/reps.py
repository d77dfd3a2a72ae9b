from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from leadfollow import availability
from leadfollow.admin.safeinput import SafeInputAdminMixin
from leadfollow.conf import lf_settings
from leadfollow.models import Absence, PauseReason, RepProfile
from leadfollow.routing import open_loads, unavailability


class AbsenceInline(admin.TabularInline):
    model = Absence
    extra = 0


@admin.register(RepProfile)
class RepProfileAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    json_objects = ("working_hours",)
    list_display = [
        "user",
        "availability",
        "load",
        "accepting_leads",
        "timezone",
        "capacity",
        "weight",
        "alert_channel",
        "last_assigned_at",
    ]
    list_filter = ["accepting_leads", "timezone", "pause_reason"]
    list_editable = ["accepting_leads", "capacity", "weight"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user"]
    readonly_fields = ["last_assigned_at", "paused_at", "paused_until", "pause_reason"]
    list_select_related = ["user"]
    inlines = [AbsenceInline]
    actions = ["pause_reps", "resume_reps"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "alert_channel":  # the keys of LEADFOLLOW["ALERT_CHANNELS"]
            keys = list(lf_settings.ALERT_CHANNELS)
            return forms.ChoiceField(
                label=db_field.verbose_name,
                choices=[(key, key) for key in keys],
                initial=db_field.default,
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def changelist_view(self, request, extra_context=None):
        # One grouped count for the page's load column, not one per rep.
        self._loads, self._now = open_loads(), timezone.now()
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("open uncontacted / capacity"))
    def load(self, profile: RepProfile) -> str:
        return f"{self._loads.get(profile.user_id, 0)}/{profile.effective_capacity}"

    @admin.display(description=_("available now"))
    def availability(self, profile: RepProfile) -> str:
        """Why the rep gets no leads now (absent until, paused, off hours, full), or “yes”."""
        reasons = unavailability(profile, self._now, load=self._loads.get(profile.user_id, 0))
        return "; ".join(reasons) if reasons else gettext("yes")

    @admin.action(description=_("Pause: no new leads until resumed"))
    def pause_reps(self, request, queryset):
        paused = [p for p in queryset if availability.pause(p, reason=PauseReason.MANAGER)]
        self.message_user(
            request,
            ngettext("%(n)s rep paused.", "%(n)s reps paused.", len(paused)) % {"n": len(paused)},
            messages.SUCCESS,
        )

    @admin.action(description=_("Resume: send them leads again"))
    def resume_reps(self, request, queryset):
        resumed = [p for p in queryset if availability.resume(p)]
        self.message_user(
            request,
            ngettext("%(n)s rep resumed.", "%(n)s reps resumed.", len(resumed))
            % {"n": len(resumed)},
            messages.SUCCESS,
        )


@admin.register(Absence)
class AbsenceAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    list_display = ["rep", "starts_at", "ends_at", "reason"]
    list_filter = ["starts_at"]
    search_fields = ["rep__user__username", "reason"]
    autocomplete_fields = ["rep"]
    list_select_related = ["rep__user"]
