"""create_lead(): the one way a lead enters leadfollow (API, form, webhook, admin, seed)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from leadfollow import engagement, ownership, signals
from leadfollow.conf import lf_settings
from leadfollow.jsonsafety import SafeJSONField, validate_json_value
from leadfollow.models import EventType, Lead, Submission
from leadfollow.models.lead import OPEN_STATUSES
from leadfollow.notifications import first_touch_on_commit
from leadfollow.prepared import Prepared
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


class ConsentTimeField(forms.DateTimeField):
    """ISO 8601 text only: a JSON body may put a number or an object here."""

    def to_python(self, value):
        if value not in (None, "") and not isinstance(value, str | datetime):
            raise ValidationError(_("Enter an ISO 8601 date and time."), code="not_text")
        return super().to_python(value)


#: How far ahead of the server's clock a sender's consent time may be (clock skew).
CONSENT_CLOCK_SKEW = timedelta(minutes=5)

CONSENT_FIELDS = ("consent_purpose", "consent_text", "consent_at")


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
    consent_purpose = TextField(label=_("Consent purpose"), max_length=200, required=False)
    consent_text = TextField(label=_("Consent wording"), max_length=2000, required=False)
    consent_at = ConsentTimeField(label=_("Consent given at"), required=False)

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
        if not self.errors:
            self._clean_consent(data)
        data["phone_unparsed"] = getattr(self, "phone_unparsed", False)
        return data

    def _clean_consent(self, data: dict[str, Any]) -> None:
        """Consent is the purpose and the wording together (and when: now, unless given)."""
        purpose, text, at = (data.get(name) for name in CONSENT_FIELDS)
        if not (purpose or text or at):
            if lf_settings.REQUIRE_CONSENT:
                raise ValidationError(
                    {
                        name: ValidationError(
                            _("Consent is required: give its purpose and wording."),
                            code="consent_required",
                        )
                        for name in ("consent_purpose", "consent_text")
                    }
                )
            return
        missing = [name for name in ("consent_purpose", "consent_text") if not data.get(name)]
        if missing:
            raise ValidationError(
                {
                    name: ValidationError(
                        _("Give the consent's purpose and wording together."),
                        code="consent_incomplete",
                    )
                    for name in missing
                }
            )
        if at is not None and at > timezone.now() + CONSENT_CLOCK_SKEW:
            raise ValidationError(
                {"consent_at": ValidationError(_("Consent cannot be given in the future."))},
                code="consent_in_future",
            )


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
    dedupe_within_source: bool = False,
) -> IntakeResult:
    """Validate, deduplicate, score, assign and give a deadline to one incoming lead.

    ``source`` overrides the one in ``data`` (API keys are per source).
    ``dedupe_within_source``: a repeat e-mail attaches only to an open lead of the same
    source (the API, so that a key's answer says nothing about other sources). Raises
    ``ValidationError`` with per-field messages and stores nothing on bad input.
    """
    form = LeadIntakeForm(data={**data, **({"source": source} if source else {})})
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    cleaned = form.cleaned_data
    cleaned["source"] = cleaned["source"] or "web"
    cleaned["external_id"] = cleaned["external_id"] or None
    now = now or timezone.now()
    if cleaned["consent_purpose"] and cleaned["consent_at"] is None:
        cleaned["consent_at"] = now

    # PostgreSQL serialises twins on advisory locks (below), so a sender's id cannot hit
    # the unique constraint and no savepoint is needed; elsewhere catch it in a savepoint.
    locked = connection.vendor == "postgresql"
    try:
        with transaction.atomic(savepoint=not locked and bool(cleaned["external_id"])):
            _serialise(cleaned)
            existing, open_lead = _earlier_leads(cleaned, within_source=dedupe_within_source)
            if existing is not None:
                return IntakeResult(existing, created=False)
            if open_lead is not None:
                _attach(open_lead, cleaned, now)
                signals.lead_received.send(sender=Lead, lead=open_lead, created=False)
                return IntakeResult(open_lead, created=False)
            lead = Lead(**cleaned, received_at=now)
            lead.score = score_lead(lead)
            # Inserted by ownership with its owner and deadline (one INSERT, no UPDATE);
            # lead_received is sent once the row exists.
            ownership.assign_at_intake(lead, now=now, actor=actor)
            first_touch_on_commit(lead)
    except IntegrityError:
        # A twin with the same sender's id committed first (SQLite, or a writer that
        # bypassed create_lead): answer with its lead.
        existing = None if connection.needs_rollback else _earlier_leads(cleaned)[0]
        if existing is None:
            raise
        return IntakeResult(existing, created=False)
    return IntakeResult(lead, created=True)


def _serialise(cleaned: Mapping[str, Any]) -> None:
    """PostgreSQL: one statement taking the transaction's advisory locks on the sender's id
    and on the e-mail address, always in that order (no deadlock), so the reads that
    follow — in a later statement, with a snapshot taken after the wait — see a twin's
    commit. No unique constraint can say "one open lead per e-mail"; this can."""
    if connection.vendor != "postgresql":
        return
    keys = []
    if cleaned["external_id"]:
        keys.append(f"leadfollow:id:{cleaned['source']}:{cleaned['external_id']}")
    if _deduplicates(cleaned):
        keys.append(cleaned["email"])
    if keys:
        with connection.cursor() as cursor:
            locks = ", ".join(["pg_advisory_xact_lock(hashtext(%s))"] * len(keys))
            cursor.execute(f"SELECT {locks}", keys)


def _deduplicates(cleaned: Mapping[str, Any]) -> bool:
    return bool(lf_settings.DEDUPLICATE_BY_EMAIL and cleaned["email"])


def _earlier_leads(
    cleaned: Mapping[str, Any], *, within_source: bool = False
) -> tuple[Lead | None, Lead | None]:
    """In one locking statement: the lead the sender's id already reached (directly or as
    an attached repeat), and the open lead with this e-mail (which a repeat extends; with
    ``within_source`` only one of the same source)."""
    values = {}
    if cleaned["external_id"]:
        values.update(source=cleaned["source"], external_id=cleaned["external_id"])
    if _deduplicates(cleaned):
        values["email"] = cleaned["email"]
        if within_source:
            values["source"] = cleaned["source"]
    if not values:
        return None, None
    rows = _EARLIER_LEADS(within_source, Lead.objects.db, **values)
    existing = min((lead for lead in rows if lead.by_id), key=lambda lead: lead.pk, default=None)
    open_lead = next((lead for lead in rows if not lead.by_id), None)
    return existing, open_lead


def _earlier_leads_query(within_source: bool, *, source=None, external_id=None, email=None):
    """The statement of ``_earlier_leads``, for each combination of what is known."""
    by_id = Q(pk__in=[])
    parts = []  # each an indexed lookup of ids; OR-ed in one WHERE they scan the table
    if external_id is not None:
        key = {"source": source, "external_id": external_id}
        repeats = Submission.objects.filter(**key).order_by().values("lead_id")
        by_id = Q(**key) | Q(pk__in=repeats)
        parts += [Lead.objects.filter(**key).order_by().values("pk"), repeats]
    if email is not None:
        by_email = Q(status__in=OPEN_STATUSES, email=email)
        if within_source:
            by_email &= Q(source=source)
        parts.append(Lead.objects.filter(by_email).order_by().values("pk"))
    return (
        Lead.objects.filter(pk__in=parts[0].union(*parts[1:]) if parts[1:] else parts[0])
        .annotate(by_id=ExpressionWrapper(by_id, output_field=BooleanField()))
        .select_for_update(of=("self",))
        .order_by("received_at", "pk")
    )


# Compiled once per combination: building and compiling it cost more CPU per intake than
# any other statement's.
_EARLIER_LEADS = Prepared(_earlier_leads_query)


def _attach(lead: Lead, cleaned: dict[str, Any], now: datetime) -> Lead:
    """A second form from someone with an open lead extends that lead instead of a new one."""
    submission = Submission.objects.create(
        lead=lead,
        source=cleaned["source"],
        external_id=cleaned["external_id"],
        received_at=now,
        message=cleaned["message"],
        attributes=cleaned["attributes"],
        **{name: cleaned[name] for name in CONSENT_FIELDS},
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
    if cleaned["consent_purpose"] and not lead.consent_purpose:  # the first consent stays
        for name in CONSENT_FIELDS:
            setattr(lead, name, cleaned[name])
    lead.score = score_lead(lead)
    lead.save(
        update_fields=[
            "attributes", "phone", "phone_unparsed", "company", "score", "updated_at",
            *CONSENT_FIELDS,
        ]
    )  # fmt: skip
    # Coming back is interest: a form_repeat event (behaviour points, maybe heating up).
    engagement.record_event(
        lead, EventType.FORM_REPEAT, source=engagement.INTERNAL_SOURCE, now=now,
        idempotency_id=f"submission-{submission.pk}", properties={"source": cleaned["source"]},
    )  # fmt: skip
    lead.refresh_from_db()
    return lead
