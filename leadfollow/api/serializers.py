"""Serializers: shapes only. Rules stay in intake, ownership and the models."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from leadfollow import jsonsafety
from leadfollow.intake import LeadIntakeForm
from leadfollow.models import (
    Absence,
    Assignment,
    Channel,
    ContactAttempt,
    Lead,
    LeadStatus,
    Outcome,
    RepProfile,
    ScoringRule,
)
from leadfollow.people import is_manager


def error_dict(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ``ValidationError`` as DRF's per-field error body."""
    if not hasattr(exc, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: [str(m) for m in exc.messages]}
    return {
        api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field: messages
        for field, messages in exc.message_dict.items()
    }


def has_nul(value: Any) -> bool:
    """True if a NUL character hides anywhere in ``value`` (PostgreSQL refuses them).

    Iterative (``jsonsafety.strings``): recursion failed from ~476 levels of nesting."""
    return any("\x00" in text for text in jsonsafety.strings(value))


class JSONValueField(serializers.JSONField):
    """A stored JSON value: ``jsonsafety``'s rule (depth, finite numbers, NUL, surrogates)."""

    def to_internal_value(self, data):
        try:
            value = super().to_internal_value(data)
        except RecursionError:  # form-encoded JSON text is parsed here
            raise serializers.ValidationError(jsonsafety.message("too_deep")) from None
        if has_nul(value):
            raise serializers.ValidationError(_("Null characters are not allowed."))
        try:
            jsonsafety.validate_json_value(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value


# --- intake ------------------------------------------------------------------------------


class IntakeSerializer(serializers.Serializer):
    """What a sender may post (documentation only: ``create_lead`` validates).

    Any other top-level field is kept in ``attributes``. The source comes from the API key.
    """

    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True)
    message = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    external_id = serializers.CharField(
        max_length=128,
        required=False,
        allow_blank=True,
        help_text=_("Your id for this lead. Posting it again returns the first lead."),
    )
    attributes = serializers.DictField(
        required=False, help_text=_("Interest signals: pages viewed, budget, UTM tags…")
    )
    consent_purpose = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text=_(
            "What the person agreed to, e.g. “contact me about my quote”. With "
            "consent_text; both are required when the site sets REQUIRE_CONSENT."
        ),
    )
    consent_text = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text=_("The wording the person agreed to, as they saw it."),
    )
    consent_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text=_("When they agreed (ISO 8601); default: when the lead arrives."),
    )


#: Fields create_lead reads from the body; everything else goes into attributes.
INTAKE_FIELDS = frozenset(LeadIntakeForm.base_fields) - {"source"}


class IntakeAcceptedSerializer(serializers.Serializer):
    """A repeat attached to an open lead another source sent: nothing about that lead."""

    created = serializers.BooleanField()
    attached = serializers.BooleanField()


class IntakeResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    owner = serializers.IntegerField(allow_null=True, source="owner_id")
    owner_username = serializers.CharField(allow_null=True)
    first_response_due = serializers.DateTimeField(allow_null=True)
    created = serializers.BooleanField()


# --- leads -------------------------------------------------------------------------------


class LeadSerializer(serializers.ModelSerializer):
    owner_username = serializers.CharField(source="owner.username", default=None, read_only=True)
    is_cold = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = [
            "id",
            "name",
            "email",
            "phone",
            "company",
            "message",
            "source",
            "external_id",
            "attributes",
            "status",
            "owner",
            "owner_username",
            "score",
            "engagement_score",
            "heated_up_at",
            "received_at",
            "assigned_at",
            "first_response_due",
            "first_contacted_at",
            "last_contacted_at",
            "next_follow_up_at",
            "reassignment_count",
            "escalated_at",
            "consent_purpose",
            "consent_text",
            "consent_at",
            "erased_at",
            "is_cold",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_is_cold(self, lead: Lead) -> bool:
        return lead.is_cold(self.context.get("now"))


class LeadUpdateSerializer(serializers.Serializer):
    """What a manager may change: the status, and the owner (a rep's user id, or null)."""

    status = serializers.ChoiceField(choices=LeadStatus.choices, required=False)
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(leadfollow_rep__isnull=False),
        allow_null=True,
        required=False,
        help_text=_("The user id of a rep (someone with rep availability), or null."),
    )
    confirm_unavailable = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_(
            "Assign even if the rep cannot take leads now (absent, off hours, not accepting, "
            "full); without it such a choice answers 400 saying why."
        ),
    )


# --- personal data ------------------------------------------------------------------------


class PersonQuerySerializer(serializers.Serializer):
    """Whose data: an e-mail address (every lead with it) or one lead's id."""

    email = serializers.EmailField(required=False)
    lead = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def validate(self, data):
        if ("email" in data) == ("lead" in data):
            raise serializers.ValidationError(_("Give either email or lead."))
        return data


class ErasureRequestSerializer(PersonQuerySerializer):
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("Erase open leads too (their status and owner stay as they are)."),
    )
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text=_("Only count what would be erased.")
    )


class ErasureResultSerializer(serializers.Serializer):
    lead_ids = serializers.ListField(child=serializers.IntegerField())
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text=_("Rows erased per model.")
    )
    records = serializers.IntegerField(help_text=_("Rows erased in all."))
    dry_run = serializers.BooleanField()
    audit_id = serializers.IntegerField(
        allow_null=True, source="record.pk", default=None, help_text=_("The ErasureRecord.")
    )


# --- attempts and assignments ------------------------------------------------------------


class ContactAttemptSerializer(serializers.ModelSerializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    next_follow_up_at = serializers.DateTimeField(
        write_only=True,
        required=False,
        allow_null=True,
        help_text=_("When to follow up next; stored on the lead."),
    )

    class Meta:
        model = ContactAttempt
        fields = [
            "id",
            "lead",
            "rep",
            "channel",
            "outcome",
            "attempted_at",
            "note",
            "automated",
            "created_at",
            "next_follow_up_at",
        ]
        read_only_fields = ["id", "lead", "rep", "automated", "created_at"]
        extra_kwargs = {"attempted_at": {"required": False}}

    def validate_attempted_at(self, value):
        from leadfollow.ownership import attempt_time_error

        lead = self.context.get("lead")
        if value is not None and lead is not None and (error := attempt_time_error(lead, value)):
            raise serializers.ValidationError(error)
        return value


class AssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = [
            "id",
            "lead",
            "from_rep",
            "to_rep",
            "reason",
            "actor",
            "created_at",
            "first_response_due",
            "notified_at",
        ]
        read_only_fields = fields


# --- scoring rules -----------------------------------------------------------------------


class ModelCleanMixin:
    """Runs the model's ``clean()`` so the admin and the API reject the same input."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        instance = self.Meta.model(**{**self._current(), **attrs})
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(error_dict(exc)) from exc
        return attrs

    def _current(self) -> dict:
        if self.instance is None:
            return {}
        return {
            f.name: getattr(self.instance, f.name)
            for f in self.Meta.model._meta.concrete_fields
            if not f.primary_key and f.name in self.fields
        }


# Integer bounds spelled out (PostgreSQL's), so the schema is the same on every database.
INT_MAX, SMALLINT_MAX = 2**31 - 1, 2**15 - 1


class ScoringRuleSerializer(ModelCleanMixin, serializers.ModelSerializer):
    value = JSONValueField(required=False, allow_null=True)
    points = serializers.IntegerField(min_value=-INT_MAX - 1, max_value=INT_MAX)

    class Meta:
        model = ScoringRule
        fields = ["id", "name", "field_path", "operator", "value", "points", "active", "note"]


# --- availability ------------------------------------------------------------------------


class RepProfileSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    working_hours = JSONValueField(required=False)
    capacity = serializers.IntegerField(
        min_value=0, max_value=INT_MAX, allow_null=True, required=False
    )
    weight = serializers.IntegerField(min_value=0, max_value=SMALLINT_MAX, required=False)

    class Meta:
        model = RepProfile
        fields = [
            "id",
            "user",
            "username",
            "accepting_leads",
            "timezone",
            "working_hours",
            "capacity",
            "weight",
            "last_assigned_at",
        ]
        read_only_fields = ["last_assigned_at"]

    def validate_working_hours(self, value):
        for validator in RepProfile._meta.get_field("working_hours").validators:
            try:
                validator(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from exc
        return value


class OwnRepProfileSerializer(RepProfileSerializer):
    """A rep editing their own availability may switch ``accepting_leads`` only."""

    def get_fields(self):
        fields = super().get_fields()
        for name, field in fields.items():
            if name != "accepting_leads":
                field.read_only = True
        return fields


class AbsenceSerializer(serializers.ModelSerializer):
    rep = serializers.PrimaryKeyRelatedField(
        queryset=RepProfile.objects.all(),
        required=False,
        help_text=_("Rep availability id; defaults to your own."),
    )

    class Meta:
        model = Absence
        fields = ["id", "rep", "starts_at", "ends_at", "reason"]

    def get_fields(self):
        # The field's choices are shown in the browsable API's form: a rep may only see
        # (and name) their own availability, not every rep's username.
        fields = super().get_fields()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is not None and not is_manager(user):
            fields["rep"].queryset = RepProfile.objects.filter(user_id=user.pk)
        return fields

    def validate(self, attrs):
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts and ends and ends <= starts:
            raise serializers.ValidationError(
                {"ends_at": [_("An absence must end after it starts.")]}
            )
        return attrs


# --- metrics -----------------------------------------------------------------------------


MAX_METRICS_DAYS = 366
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)


class MetricsQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text=_("First day (site time zone)."))
    end = serializers.DateField(required=False, help_text=_("Last day, included."))
    source = serializers.SlugField(required=False)
    rep = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text=_("A rep's user id.")
    )

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if bool(start) != bool(end):
            raise serializers.ValidationError(
                {"non_field_errors": [_("Give both start and end, or neither (last 30 days).")]}
            )
        for name, day in (("start", start), ("end", end)):
            if day and not EARLIEST <= day <= LATEST:
                raise serializers.ValidationError({name: [_("Give a date from 1970 to 2999.")]})
        if start and end and end < start:
            raise serializers.ValidationError({"end": [_("The period ends before it starts.")]})
        # The report has a row per day: bound the period so one request stays cheap.
        if start and end and (end - start).days >= MAX_METRICS_DAYS:
            raise serializers.ValidationError(
                {"end": [_("Ask for at most %(days)d days.") % {"days": MAX_METRICS_DAYS}]}
            )
        return attrs
