from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadfollow.businesshours import validate_hours
from leadfollow.models.webhooks import HttpURLField


class RepProfileQuerySet(models.QuerySet):
    def accepting(self) -> RepProfileQuerySet:
        return self.filter(accepting_leads=True, user__is_active=True)

    def present(self, now: datetime) -> RepProfileQuerySet:
        """Neither absent nor paused at ``now``."""
        absent_now = Absence.objects.filter(
            rep=models.OuterRef("pk"), starts_at__lte=now, ends_at__gt=now
        )
        return self.exclude(models.Exists(absent_now)).exclude(_paused_at(now))

    def paused(self, now: datetime) -> RepProfileQuerySet:
        return self.filter(_paused_at(now))


def _paused_at(now: datetime) -> Q:
    return Q(paused_at__isnull=False, paused_at__lte=now) & (
        Q(paused_until__isnull=True) | Q(paused_until__gt=now)
    )


class PauseReason(models.TextChoices):
    MISSED_DEADLINES = "missed_deadlines", _("Missed several first-response deadlines")
    SELF = "self", _("Paused by the rep")
    MANAGER = "manager", _("Paused by a manager")


def _validate_timezone(value: str) -> None:
    if value and value not in available_timezones():
        raise ValidationError(_("“%(tz)s” is not a known IANA time zone."), params={"tz": value})


def _validate_working_hours(value) -> None:
    if value in (None, {}):
        return
    errors = validate_hours(value)
    if errors:
        raise ValidationError(errors)
    # {"mon": []} is valid shape but no hours at all: such a rep could never be given a
    # deadline. Empty means "the site's hours"; a rep who never works stops accepting leads.
    if not any(value.values()):
        raise ValidationError(
            _(
                "These hours have no working window. Leave the field empty to use the "
                "site's hours, or switch off “accepting leads”."
            ),
            code="no_hours",
        )


class RepProfile(models.Model):
    """A sales rep's availability: who can take a lead right now, and how many."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="leadfollow_rep",
    )
    accepting_leads = models.BooleanField(_("accepting leads"), default=True)
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[_validate_timezone],
        help_text=_("IANA name such as Europe/Berlin; empty uses the site's business calendar."),
    )
    working_hours = models.JSONField(
        _("working hours"),
        default=dict,
        blank=True,
        validators=[_validate_working_hours],
        help_text=_(
            'Weekly windows in local time, e.g. {"mon": [["09:00", "17:00"]]}; '
            "empty uses the site's business hours."
        ),
    )
    holiday_country = models.CharField(
        _("public holidays of (country)"),
        max_length=2,
        blank=True,
        help_text=_(
            "ISO country code such as DE or US (needs the holidays package); empty: the "
            "site's HOLIDAY_COUNTRY. The site's explicit holiday dates apply as well."
        ),
    )
    holiday_subdivision = models.CharField(
        _("state or region"),
        max_length=10,
        blank=True,
        help_text=_("Subdivision code such as BE (Berlin) or NY; empty: the whole country."),
    )
    capacity = models.PositiveIntegerField(
        _("capacity"),
        null=True,
        blank=True,
        help_text=_("Most open, uncontacted leads at once; empty uses the site default."),
    )
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, help_text=_("Relative share of new leads.")
    )
    last_assigned_at = models.DateTimeField(_("last assigned at"), null=True, blank=True)
    # A pause stops new leads (and hands uncontacted ones over) until resumed or until
    # ``paused_until``; written only by leadfollow.availability.
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True, editable=False)
    paused_until = models.DateTimeField(
        _("paused until"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Empty: until resumed."),
    )
    pause_reason = models.CharField(
        _("pause reason"), max_length=32, choices=PauseReason.choices, blank=True, editable=False
    )
    pause_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Alerts (leadfollow.alerts): which channel tells this rep about leads; a failing
    # channel falls back to e-mail. Keys of LEADFOLLOW["ALERT_CHANNELS"].
    alert_channel = models.CharField(
        _("alert channel"),
        max_length=32,
        default="email",
        help_text=_("How leadfollow tells this rep about leads: email, chat or webhook."),
    )
    alert_url = HttpURLField(
        _("alert URL"),
        max_length=500,
        blank=True,
        help_text=_("Chat incoming-webhook URL (Slack, Teams) or a signed webhook receiver."),
    )
    alert_secret = models.CharField(
        _("alert webhook secret"),
        max_length=100,
        blank=True,
        help_text=_("Standard Webhooks secret (whsec_…) signing the generic webhook channel."),
    )
    # Weighted routing's virtual clock: advances by 1/weight per lead received, so reps
    # with the lowest value are due next (stride scheduling). Kept by leadfollow.routing.
    routing_pass = models.FloatField(_("routing position"), default=0.0, editable=False)

    objects = RepProfileQuerySet.as_manager()

    class Meta:
        verbose_name = _("rep availability")
        verbose_name_plural = _("rep availability")
        ordering = ["user__username"]

    def __str__(self) -> str:
        return str(self.user)

    def clean(self) -> None:
        errors = {**self._holiday_errors(), **self._alert_errors()}
        if errors:
            raise ValidationError(errors)

    def _holiday_errors(self) -> dict:
        from leadfollow.calendars import HolidaysUnavailable, public_holidays

        self.holiday_country = (self.holiday_country or "").strip().upper()
        self.holiday_subdivision = (self.holiday_subdivision or "").strip().upper()
        if self.holiday_subdivision and not self.holiday_country:
            return {"holiday_country": _("Name the country of the state or region.")}
        if not self.holiday_country:
            return {}
        year = timezone.now().year
        try:
            public_holidays(self.holiday_country, self.holiday_subdivision, range(year, year + 1))
        except HolidaysUnavailable:
            return {"holiday_country": _("Public holidays by country need the holidays package "
                                         "(pip install django-leadfollow[holidays]).")}  # fmt: skip
        except ValueError:
            field = "holiday_subdivision" if self.holiday_subdivision else "holiday_country"
            region = "-".join(filter(None, [self.holiday_country, self.holiday_subdivision]))
            return {field: _("No public holidays are known for %(region)s.") % {"region": region}}
        return {}

    @property
    def effective_capacity(self) -> int:
        from leadfollow.conf import lf_settings

        return self.capacity if self.capacity is not None else lf_settings.DEFAULT_REP_CAPACITY

    @property
    def zone(self) -> ZoneInfo:
        from leadfollow.conf import lf_settings

        return ZoneInfo(self.timezone or lf_settings.TIME_ZONE)

    def _alert_errors(self) -> dict:
        from leadfollow.conf import lf_settings
        from leadfollow.webhooks.outbound import url_error

        errors = {}
        if self.alert_channel not in lf_settings.ALERT_CHANNELS:
            errors["alert_channel"] = _("Choose one of: %(keys)s.") % {
                "keys": ", ".join(lf_settings.ALERT_CHANNELS)
            }
        elif self.alert_channel != "email" and not self.alert_url:
            errors["alert_url"] = _("This channel needs a URL.")
        if self.alert_url and (error := url_error(self.alert_url, resolve=False)):
            errors["alert_url"] = error
        if self.alert_channel == "webhook" and not self.alert_secret.startswith("whsec_"):
            errors["alert_secret"] = _("The signed webhook channel needs a whsec_… secret.")
        return errors

    def is_paused(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return (
            self.paused_at is not None
            and self.paused_at <= now
            and (self.paused_until is None or self.paused_until > now)
        )

    def is_absent(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.absences.filter(starts_at__lte=now, ends_at__gt=now).exists()


class Absence(models.Model):
    """An out-of-office period: the rep receives no leads and holds none uncontacted."""

    rep = models.ForeignKey(
        RepProfile, verbose_name=_("rep"), on_delete=models.CASCADE, related_name="absences"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="leadfollow_absence_ends_after_start",
                violation_error_message=_("An absence must end after it starts."),
            )
        ]
        indexes = [models.Index(fields=["rep", "ends_at"], name="leadfollow_absence_rep_idx")]

    def __str__(self) -> str:
        return f"{self.rep} {self.starts_at:%Y-%m-%d} – {self.ends_at:%Y-%m-%d}"
