from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    MEETING = "meeting", _("Meeting")
    OTHER = "other", _("Other")


class Outcome(models.TextChoices):
    NO_ANSWER = "no_answer", _("No answer")
    VOICEMAIL = "voicemail", _("Left voicemail")
    SENT = "sent", _("Message sent")
    CONNECTED = "connected", _("Connected")
    DECISION_MAKER = "decision_maker", _("Reached decision maker")
    MEETING_BOOKED = "meeting_booked", _("Meeting booked")
    CALL_BACK = "call_back", _("Asked to call back")
    BAD_NUMBER = "bad_number", _("Bad number or address")
    NOT_INTERESTED = "not_interested", _("Not interested")


class ContactAttempt(models.Model):
    lead = models.ForeignKey(
        "leadfollow.Lead",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        related_name="attempts",
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rep"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leadfollow_attempts",
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    outcome = models.CharField(_("outcome"), max_length=32, choices=Outcome.choices)
    attempted_at = models.DateTimeField(_("attempted at"), default=timezone.now)
    note = models.TextField(_("note"), blank=True)
    automated = models.BooleanField(
        _("automated"),
        default=False,
        help_text=_("Sent by a system (e.g. an auto-reply), not by a person."),
    )
    created_at = models.DateTimeField(_("logged at"), auto_now_add=True)

    class Meta:
        verbose_name = _("contact attempt")
        verbose_name_plural = _("contact attempts")
        ordering = ["-attempted_at"]
        indexes = [
            models.Index(fields=["lead", "attempted_at"], name="leadfollow_attempt_lead_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} · {self.get_outcome_display()}"
