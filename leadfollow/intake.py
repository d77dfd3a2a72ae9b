"""create_lead(): the one way a lead enters leadfollow (API, form, webhook, admin, seed)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from leadfollow import ownership, signals
from leadfollow.conf import lf_settings
from leadfollow.jsonsafety import SafeJSONField, validate_json_value
from leadfollow.models import Lead, Submission
from leadfollow.notifications import first_touch_on_commit
from leadfollow.scoring import score_lead

_PHONE_PUNCTUATION = re.compile(r"[\s().\-/]")
_PHONE = re.compile(r"^\+?\d{5,20}$")


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def attributes_size(attributes: Mapping[str, Any]) -> int:
    """Bytes of ``attributes`` as JSON text: what ``MAX_ATTRIBUTES_BYTES`` bounds."""
    return len(json.dumps(attributes, ensure_ascii=False).encode())


class _Text:
    """JSON bodies can put objects, lists, booleans or lone surrogates ("\\ud800") where
    text belongs; refuse them here rather than store a repr or fail at INSERT."""

    numbers_as_text = False

    def to_python(self, value):
        if self.numbers_as_text and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if value is not None and not isinstance(value, str):
            raise ValidationError(_("Enter text."), code="not_text")
        if value and not _storable(value):
            raise ValidationError(_("Enter valid Unicode text."), code="invalid_text")
        return super().to_python(value)


class TextField(_Text, forms.CharField):
    pass


class IdentifierField(_Text, forms.CharField):
    numbers_as_text = True  # ad platforms send numeric ids and phone numbers


class TextEmailField(_Text, forms.EmailField):
    pass


class TextSlugField(_Text, forms.SlugField):
    pass


class LeadIntakeForm(forms.Form):
    """Validates and normalises what a lead's sender gave us."""

    name = TextField(label=_("Name"), max_length=200)
    email = TextEmailField(label=_("E-mail"), max_length=254, required=False)
    phone = IdentifierField(label=_("Phone"), max_length=40, required=False)
    company = TextField(label=_("Company"), max_length=200, required=False)
    message = TextField(label=_("Message"), max_length=10_000, required=False)
    source = TextSlugField(label=_("Source"), max_length=64, required=False)
    external_id = IdentifierField(label=_("External id"), max_length=128, required=False)
    attributes = SafeJSONField(label=_("Attributes"), required=False, require_object=True)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean_phone(self) -> str:
        if lf_settings.PHONE_REGION:  # E.164 with phonenumbers; never refused
            from leadfollow.phones import normalise

            phone, understood = normalise(self.cleaned_data["phone"], lf_settings.PHONE_REGION)
            self.phone_unparsed = not understood
            return phone
        phone = _PHONE_PUNCTUATION.sub("", self.cleaned_data["phone"])
        if phone.startswith("00"):
            phone = "+" + phone[2:]
        if phone and not _PHONE.match(phone):
            raise ValidationError(
                _("Enter a phone number of 5 to 20 digits, optionally starting with +."),
                code="invalid_phone",
            )
        return phone

    def clean_attributes(self) -> dict[str, Any]:
        attributes = self.cleaned_data["attributes"]
        if attributes in (None, ""):
            return {}
        if not isinstance(attributes, dict):
            raise ValidationError(_("Attributes must be a JSON object."), code="not_object")
        validate_json_value(attributes)  # NUL, lone surrogates, NaN/Infinity, depth
        size = attributes_size(attributes)
        if size > lf_settings.MAX_ATTRIBUTES_BYTES:
            raise ValidationError(
                _("Attributes are too large (%(size)d bytes; at most %(limit)d)."),
                code="too_large",
                params={"size": size, "limit": lf_settings.MAX_ATTRIBUTES_BYTES},
            )
        return attributes

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors and not data.get("email") and not data.get("phone"):
            raise ValidationError(
                _("Give an e-mail address or a phone number so a rep can answer."),
                code="no_contact",
            )
        data["phone_unparsed"] = getattr(self, "phone_unparsed", False)
        return data


@dataclass(frozen=True)
class IntakeResult:
    lead: Lead
    created: bool  # False: an earlier lead was returned (same external id) or extended (e-mail)


@sensitive_variables("data", "cleaned")
def create_lead(
    data: Mapping[str, Any],
    *,
    source: str | None = None,
    now: datetime | None = None,
    actor=None,
) -> IntakeResult:
    """Validate, deduplicate, score, assign and give a deadline to one incoming lead.

    ``source`` overrides the one in ``data`` (API keys are per source). Raises
    ``ValidationError`` with per-field messages and stores nothing on bad input.
    """
    form = LeadIntakeForm(data={**data, **({"source": source} if source else {})})
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    cleaned = form.cleaned_data
    cleaned["source"] = cleaned["source"] or "web"
    cleaned["external_id"] = cleaned["external_id"] or None
    now = now or timezone.now()

    existing = _existing_by_external_id(cleaned)
    if existing is not None:
        return IntakeResult(existing, created=False)
    try:
        with transaction.atomic():
            repeat = _attach_to_open_lead(cleaned, now)
            if repeat is not None:
                signals.lead_received.send(sender=Lead, lead=repeat, created=False)
                return IntakeResult(repeat, created=False)
            lead = Lead(**cleaned, received_at=now)
            lead.score = score_lead(lead)
            # Insert before locking reps: a concurrent twin blocks here on the unique
            # constraint, not while holding rep locks.
            lead.save()
            signals.lead_received.send(sender=Lead, lead=lead, created=True)
            ownership.assign_at_intake(lead, now=now, actor=actor)
            first_touch_on_commit(lead)
    except IntegrityError:
        existing = _existing_by_external_id(cleaned)
        if existing is None:
            raise
        return IntakeResult(existing, created=False)
    return IntakeResult(lead, created=True)


def _existing_by_external_id(cleaned: Mapping[str, Any]) -> Lead | None:
    """The lead a sender's id already reached, directly or as an attached repeat."""
    key = {"source": cleaned["source"], "external_id": cleaned["external_id"]}
    if not key["external_id"]:
        return None
    # One statement: the lead itself, or the lead a repeat with this id was attached to.
    repeat = Submission.objects.filter(**key).values("lead_id")
    return Lead.objects.filter(Q(**key) | Q(pk__in=repeat)).order_by("pk").first()


def _attach_to_open_lead(cleaned: dict[str, Any], now: datetime) -> Lead | None:
    """A second form from someone with an open lead extends that lead instead of a new one."""
    if not (lf_settings.DEDUPLICATE_BY_EMAIL and cleaned["email"]):
        return None
    if connection.vendor == "postgresql":
        # No unique constraint can say "one open lead per e-mail": serialise on the address.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [cleaned["email"]])
    lead = (
        Lead.objects.open()
        .select_for_update()
        .filter(email=cleaned["email"])
        .order_by("received_at")
        .first()
    )
    if lead is None:
        return None
    Submission.objects.create(
        lead=lead,
        source=cleaned["source"],
        external_id=cleaned["external_id"],
        received_at=now,
        message=cleaned["message"],
        attributes=cleaned["attributes"],
    )
    # New interest signals count for scoring; what the lead already said wins. Repeats must
    # not grow a lead past MAX_ATTRIBUTES_BYTES: if the merge would, the lead keeps its
    # attributes (the new keys stay on the Submission, itself within the limit).
    merged = {**cleaned["attributes"], **lead.attributes}
    if attributes_size(merged) <= lf_settings.MAX_ATTRIBUTES_BYTES:
        lead.attributes = merged
    if cleaned["phone"] and not lead.phone:
        lead.phone, lead.phone_unparsed = cleaned["phone"], cleaned["phone_unparsed"]
    if cleaned["company"] and not lead.company:
        lead.company = cleaned["company"]
    lead.score = score_lead(lead)
    lead.save(
        update_fields=["attributes", "phone", "phone_unparsed", "company", "score", "updated_at"]
    )
    return lead
