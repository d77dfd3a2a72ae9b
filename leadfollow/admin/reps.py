from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from leadfollow import availability
from leadfollow.admin.safeinput import SafeInputAdminMixin
from leadfollow.admin.widgets import WorkingHoursField
from leadfollow.conf import lf_settings
from leadfollow.models import Absence, PauseReason, RepProfile
from leadfollow.routing import absent_until, open_loads, unavailability


class AbsenceInline(admin.TabularInline):
    model = Absence
    extra = 0


class RepProfileForm(forms.ModelForm):
    working_hours = WorkingHoursField(
        label=_("working hours"),
        required=False,
        help_text=_("Each day's time ranges in the rep's time zone; empty: the site's hours."),
    )

    class Meta:
        model = RepProfile
        fields = [
            *("user", "accepting_leads", "timezone", "working_hours"),
            *("holiday_country", "holiday_subdivision", "capacity", "weight"),
            *("alert_channel", "alert_url", "alert_secret"),
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["working_hours"].widget.zone = self.instance.timezone


@admin.register(RepProfile)
class RepProfileAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    form = RepProfileForm
    list_display = [
        "user",
        "availability",
        "absent",
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
        # One grouped count for the page's load column, not one per rep; the current
        # absence's end comes with the rows (get_queryset).
        self._loads, self._now = open_loads(), timezone.now()
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            queryset = queryset.annotate(absent_until=absent_until(timezone.now()))
        return queryset

    @admin.display(description=_("absent now"))
    def absent(self, profile: RepProfile) -> str:
        ends = getattr(profile, "absent_until", None)
        if ends is None:
            return "–"
        until = date_format(timezone.localtime(ends, profile.zone), "DATETIME_FORMAT")
        return gettext("until %(until)s") % {"until": until}

    @admin.display(description=_("open uncontacted / capacity"))
    def load(self, profile: RepProfile) -> str:
        return f"{self._loads.get(profile.user_id, 0)}/{profile.effective_capacity}"

    @admin.display(description=_("available now"))
    def availability(self, profile: RepProfile) -> str:
        """Why the rep gets no leads now (absent until, paused, off hours, full), or “yes”."""
        reasons = unavailability(
            profile,
            self._now,
            load=self._loads.get(profile.user_id, 0),
            absence_ends=getattr(profile, "absent_until", None),
        )
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


@admin.action(description=_("Make the selected users reps (they get leads)"))
def make_users_reps(modeladmin, request, queryset):
    """Added to the User admin (when the user model is registered on ``admin.site``)."""
    created = availability.make_reps(queryset)
    modeladmin.message_user(
        request,
        ngettext("%(n)s user is now a rep.", "%(n)s users are now reps.", len(created))
        % {"n": len(created)},
        messages.SUCCESS,
    )


def add_user_admin_action(site=admin.site) -> None:
    """Offer "Make the selected users reps" on the site's User changelist. Called from
    ``AppConfig.ready()``, after every app's admin module registered its ModelAdmins."""
    user_admin = site._registry.get(get_user_model())
    if user_admin is not None and make_users_reps not in (user_admin.actions or ()):
        user_admin.actions = [*(user_admin.actions or ()), make_users_reps]
