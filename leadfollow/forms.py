"""Forms on the lead page. They validate input only; ``leadfollow.lead_actions`` does the work."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadfollow.models import Channel, LeadStatus, Outcome

NOTE_MAX_LENGTH = 2000
FOLLOW_UP_HORIZON = timedelta(days=366)


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's date-and-time picker; values are in the active time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class FollowUpField(forms.DateTimeField):
    widget = DateTimeLocalInput


class LeadForm(forms.Form):
    """Labels without a trailing colon; the page's CSS sets them apart."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class _NowMixin:
    def __init__(self, *args, now: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()

    def _future(self, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value <= self.now:
            raise forms.ValidationError(
                _("The follow-up must be in the future."), code="follow_up_in_past"
            )
        if value > self.now + FOLLOW_UP_HORIZON:
            raise forms.ValidationError(
                _("The follow-up must be within a year."), code="follow_up_too_far"
            )
        return value


class AttemptForm(_NowMixin, LeadForm):
    prefix = "attempt"

    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.CALL)
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[("", _("Choose an outcome")), *Outcome.choices]
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=NOTE_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    next_follow_up_at = FollowUpField(
        label=_("Next follow-up"),
        required=False,
        help_text=_("Optional. Leave empty if no follow-up is planned."),
    )

    def clean_next_follow_up_at(self):
        return self._future(self.cleaned_data.get("next_follow_up_at"))


class FollowUpForm(_NowMixin, LeadForm):
    prefix = "follow_up"

    next_follow_up_at = FollowUpField(
        label=_("Follow up at"), required=False, help_text=_("Leave empty to clear the follow-up.")
    )

    def clean_next_follow_up_at(self):
        return self._future(self.cleaned_data.get("next_follow_up_at"))


class StatusForm(LeadForm):
    prefix = "status"

    status = forms.ChoiceField(label=_("Status"), choices=LeadStatus.choices)


class HandBackForm(LeadForm):
    prefix = "hand_back"

    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        help_text=_("Why someone else should take this lead, e.g. wrong territory."),
    )
