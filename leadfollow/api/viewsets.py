"""Thin DRF adapters over intake, ownership, interventions and metrics.

Visibility is one rule everywhere: ``Lead.objects.visible_to(request.user)``; a rep asking
for another rep's lead gets a 404.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.fields import get_error_detail
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from leadfollow import jsonsafety, metrics, ownership, privacy
from leadfollow.api import idempotency, replay
from leadfollow.api.authentication import SourceKeyAuthentication
from leadfollow.api.filters import AssignmentFilterSet, LeadApiFilterSet
from leadfollow.api.metrics_serializers import MetricsReportSerializer
from leadfollow.api.parsers import SafeJSONParser
from leadfollow.api.permissions import IsManager, IsSource, is_manager
from leadfollow.api.serializers import (
    INTAKE_FIELDS,
    AbsenceSerializer,
    AssignmentSerializer,
    ContactAttemptSerializer,
    ErasureRequestSerializer,
    ErasureResultSerializer,
    IntakeAcceptedSerializer,
    IntakeResponseSerializer,
    IntakeSerializer,
    LeadSerializer,
    LeadUpdateSerializer,
    MetricsQuerySerializer,
    OwnRepProfileSerializer,
    PersonQuerySerializer,
    RepProfileSerializer,
    ScoringRuleSerializer,
    error_dict,
    has_nul,
)
from leadfollow.api.throttling import SourceRateThrottle
from leadfollow.conf import lf_settings
from leadfollow.intake import create_lead
from leadfollow.models import (
    OPEN_STATUSES,
    Absence,
    Assignment,
    Lead,
    RepProfile,
    ScoringRule,
)


def user_authenticators() -> list:
    """Session (with CSRF) for people in a browser; tokens for integrations when the host
    installed ``rest_framework.authtoken``."""
    found = [SessionAuthentication()]
    if "rest_framework.authtoken" in settings.INSTALLED_APPS:
        # First, so a missing or bad token answers 401 with "WWW-Authenticate: Token".
        found.insert(0, TokenAuthentication())
    return found


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ApiMixin:
    pagination_class = Pagination
    parser_classes = [SafeJSONParser, FormParser]
    permission_classes = [permissions.IsAuthenticated]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_authenticators(self):
        return user_authenticators()


# --- leads -------------------------------------------------------------------------------


@extend_schema(tags=["leads"])
class LeadViewSet(
    ApiMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = LeadSerializer
    queryset = Lead.objects.none()  # for the schema; get_queryset decides
    filter_backends = [DjangoFilterBackend]
    filterset_class = LeadApiFilterSet

    def _is_intake(self) -> bool:
        request = getattr(self, "request", None)
        method = request.method.lower() if request is not None else ""
        return getattr(self, "action", None) == "create" or (
            self.action_map.get(method) == "create"
        )

    def get_authenticators(self):
        # Decided before DRF sets self.action: a source's key posts, people read.
        return [SourceKeyAuthentication()] if self._is_intake() else user_authenticators()

    def get_permissions(self):
        if self.action == "create":
            return [IsSource()]
        if self.action == "partial_update":
            return [permissions.IsAuthenticated(), IsManager()]
        return super().get_permissions()

    def get_throttles(self):
        return [SourceRateThrottle()] if self.action == "create" else super().get_throttles()

    def get_queryset(self):
        return Lead.objects.visible_to(self.request.user).select_related("owner")

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(summary="List leads (most urgent first)")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Post a lead (intake)",
        description=(
            "Authenticated by a source's API key or HMAC signature; the lead's source comes "
            "from the key. Fields other than those listed are kept in `attributes`. "
            "201: a new lead; 200: the lead this `external_id` (or e-mail) already reached; "
            "Consent: `consent_purpose` and `consent_text` together (both required when the "
            "site sets `REQUIRE_CONSENT`), `consent_at` defaults to now. A repeat e-mail is "
            "attached to an open lead of the key's own source; only with "
            "`API_DEDUPLICATE_ACROSS_SOURCES` also to another source's lead, answering "
            "202: attached to an open lead another source sent (its details are not shown). "
            "With an `Idempotency-Key` header, retries within 24 h get the first body again "
            "with 200 (header `Idempotent-Replayed: true`); the same key with another body "
            "is refused with 422."
        ),
        request=IntakeSerializer,
        parameters=[
            OpenApiParameter(
                idempotency.HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Any unique string up to 255 characters, e.g. a UUID.",
            )
        ],
        responses={
            201: IntakeResponseSerializer,
            200: IntakeResponseSerializer,
            202: IntakeAcceptedSerializer,
            409: OpenApiResponse(description="The first request with this key is running."),
            422: OpenApiResponse(description="This key was used with a different body."),
            429: OpenApiResponse(description="Too many requests from this source."),
        },
    )
    @sensitive_variables()
    def create(self, request, *args, **kwargs):
        # Personal data: keep the POST out of error reports (Django's decorator wants a
        # plain HttpRequest, so set what it would set).
        request._request.sensitive_post_parameters = "__ALL__"
        raw_body = request.body  # before the parsers consume the stream
        data = intake_payload(request.data)
        source = request.auth.source
        key = request.headers.get(idempotency.HEADER)
        if key is not None and (not key or len(key) > idempotency.MAX_KEY_LENGTH):
            raise ValidationError(
                {idempotency.HEADER: [_("Send 1 to 255 characters.")]}, code="invalid"
            )
        now = timezone.now()
        with transaction.atomic():
            # A signed request's signature is claimed with the lead it lets in.
            replay.claim(request, now)
            if key is None:
                outcome = _intake(data, source)
            else:
                outcome = idempotency.once(
                    source=source,
                    key=key,
                    raw_body=raw_body,
                    now=now,
                    run=lambda: _intake(data, source),
                )
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
        return Response(outcome.body, status=outcome.status, headers=headers)

    @extend_schema(
        summary="Change a lead's status or owner (managers)",
        request=LeadUpdateSerializer,
        responses=LeadSerializer,
    )
    def partial_update(self, request, *args, **kwargs):
        lead = self.get_object()
        changes = LeadUpdateSerializer(data=request.data)
        changes.is_valid(raise_exception=True)
        data = changes.validated_data
        reopens = data.get("status") in OPEN_STATUSES
        try:
            with transaction.atomic():
                # Reopen before changing the owner; close after (nothing left to reassign).
                if reopens:
                    ownership.set_status(lead, data["status"])
                if "owner" in data:
                    owner = data["owner"]
                    if owner is None and lead.owner_id:
                        ownership.hand_back(lead, actor=request.user)
                    elif owner is None and not lead.is_open:
                        raise ownership.LeadClosed(lead)
                    elif owner is not None:
                        ownership.assign_by_manager(
                            lead,
                            RepProfile.objects.get(user=owner),
                            actor=request.user,
                            confirm_unavailable=data.get("confirm_unavailable", False),
                        )
                if "status" in data and not reopens:
                    ownership.set_status(lead, data["status"])
        except ownership.LifecycleError as error:
            field = "owner" if "owner" in data else "non_field_errors"
            raise ValidationError({field: error.messages}) from error
        return Response(self.get_serializer(self.get_queryset().get(pk=lead.pk)).data)

    def update(self, request, *args, **kwargs):  # PUT is not offered
        return self.http_method_not_allowed(request, *args, **kwargs)

    @extend_schema(
        methods=["GET"],
        summary="A lead's contact attempts",
        responses=ContactAttemptSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Log a contact attempt",
        description=(
            "The first human attempt stops the deadline clock; some outcomes close the lead "
            "(the same rules as the rep pages)."
        ),
        request=ContactAttemptSerializer,
        responses={201: ContactAttemptSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def attempts(self, request, pk=None):
        lead = self.get_object()
        if request.method == "GET":
            return Response(ContactAttemptSerializer(lead.attempts.all(), many=True).data)
        serializer = ContactAttemptSerializer(data=request.data, context={"lead": lead})
        serializer.is_valid(raise_exception=True)
        try:
            attempt = ownership.log_attempt(lead, rep=request.user, **serializer.validated_data)
        except ownership.LifecycleError as error:
            raise ValidationError(get_error_detail(error)) from error
        return Response(ContactAttemptSerializer(attempt).data, status=status.HTTP_201_CREATED)


def intake_payload(data) -> dict[str, Any]:
    """The body as ``create_lead`` wants it: unknown top-level fields into ``attributes``."""
    if isinstance(data, QueryDict):
        data = data.dict()
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [_("Send a JSON object.")]}, code="invalid")
    payload = {k: v for k, v in data.items() if k in INTAKE_FIELDS}
    extras = {k: v for k, v in data.items() if k not in INTAKE_FIELDS}
    attributes = payload.get("attributes")
    if isinstance(attributes, str) and attributes:
        try:  # form-encoded senders post attributes as JSON text
            attributes = jsonsafety.loads(attributes)
        except ValueError as error:
            detail = str(error) if not isinstance(error, json.JSONDecodeError) else None
            raise ValidationError(
                {"attributes": [detail or _("Enter valid JSON.")]}, code="invalid"
            ) from None
    if extras and attributes in (None, ""):
        attributes = {}
    if extras and isinstance(attributes, dict):
        attributes = {**extras, **attributes}
    if attributes is not None:
        payload["attributes"] = attributes
    if has_nul(payload):
        raise ValidationError({"non_field_errors": [_("Null characters are not allowed.")]})
    return payload


@sensitive_variables("data")
def _intake(data: dict[str, Any], source: str) -> idempotency.Outcome:
    try:
        result = create_lead(
            data,
            source=source,
            dedupe_within_source=not lf_settings.API_DEDUPLICATE_ACROSS_SOURCES,
        )
    except DjangoValidationError as exc:
        return idempotency.Outcome(status.HTTP_400_BAD_REQUEST, error_dict(exc))
    lead = result.lead
    if lead.source != source:
        # Only with API_DEDUPLICATE_ACROSS_SOURCES: an open lead from another source has this
        # e-mail. The submission is attached to it, but its id, owner and deadline are none
        # of this sender's business. (The 202 itself still says "someone else's lead": which
        # is why the setting is off by default and a key only ever meets its own leads.)
        body = IntakeAcceptedSerializer({"created": False, "attached": True}).data
        return idempotency.Outcome(status.HTTP_202_ACCEPTED, dict(body))
    body = IntakeResponseSerializer(
        {
            "id": lead.pk,
            "owner_id": lead.owner_id,
            "owner_username": lead.owner.get_username() if lead.owner_id else None,
            "first_response_due": lead.first_response_due,
            "created": result.created,
        }
    ).data
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return idempotency.Outcome(code, dict(body))


# --- history -----------------------------------------------------------------------------


@extend_schema(tags=["assignments"])
class AssignmentViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Who held a lead when and why (append-only)."""

    queryset = Assignment.objects.none()  # for the schema; get_queryset decides
    serializer_class = AssignmentSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AssignmentFilterSet

    def get_queryset(self):
        visible = Lead.objects.visible_to(self.request.user)
        return Assignment.objects.filter(lead__in=visible.values("pk"))


# --- scoring -----------------------------------------------------------------------------


@extend_schema(tags=["scoring rules"])
class ScoringRuleViewSet(ApiMixin, viewsets.ModelViewSet):
    serializer_class = ScoringRuleSerializer
    permission_classes = [permissions.IsAuthenticated, IsManager]
    queryset = ScoringRule.objects.all()


# --- availability ------------------------------------------------------------------------


class ManagesOrOwn(permissions.BasePermission):
    """Managers do anything; a rep may read and ``PATCH`` their own profile only."""

    def has_permission(self, request, view) -> bool:
        if is_manager(request.user):
            return True
        return view.action in {"list", "retrieve", "partial_update"}


@extend_schema(tags=["availability"])
class RepProfileViewSet(ApiMixin, viewsets.ModelViewSet):
    """Reps' availability. A rep sees their own and may switch ``accepting_leads``."""

    permission_classes = [permissions.IsAuthenticated, ManagesOrOwn]
    queryset = RepProfile.objects.none()  # for the schema; get_queryset decides

    def get_queryset(self):
        profiles = RepProfile.objects.select_related("user")
        if is_manager(self.request.user):
            return profiles
        return profiles.filter(user=self.request.user)

    def get_serializer_class(self):
        request = getattr(self, "request", None)
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular: document it all
            return RepProfileSerializer
        if request is not None and not is_manager(request.user):
            return OwnRepProfileSerializer
        return RepProfileSerializer


@extend_schema(tags=["availability"])
class AbsenceViewSet(ApiMixin, viewsets.ModelViewSet):
    """Out-of-office periods. Managers manage all; a rep manages their own."""

    serializer_class = AbsenceSerializer
    queryset = Absence.objects.none()  # for the schema; get_queryset decides

    def get_queryset(self):
        absences = Absence.objects.select_related("rep")
        if is_manager(self.request.user):
            return absences
        return absences.filter(rep__user=self.request.user)

    def perform_create(self, serializer):
        serializer.save(rep=self._rep_for(serializer.validated_data.get("rep")))

    def perform_update(self, serializer):
        if "rep" in serializer.validated_data:
            serializer.validated_data["rep"] = self._rep_for(serializer.validated_data["rep"])
        serializer.save()

    def _rep_for(self, requested: RepProfile | None) -> RepProfile:
        user = self.request.user
        if is_manager(user) and requested is not None:
            return requested
        own = RepProfile.objects.filter(user=user).first()
        if own is None:
            raise ValidationError({"rep": [_("Name the rep: you have no availability.")]})
        if requested is not None and requested != own:
            raise ValidationError({"rep": [_("You can only manage your own absences.")]})
        return own


# --- metrics -----------------------------------------------------------------------------


class MetricsView(APIView):
    """Response-time buckets for the leads you can see, as on the dashboard."""

    permission_classes = [permissions.IsAuthenticated]

    def get_authenticators(self):
        return user_authenticators()

    @extend_schema(
        tags=["metrics"],
        summary="Response-time metrics",
        description=(
            "How fast leads received in the period were first contacted: counts and shares "
            "per bucket (within 5 min, 1 h, 24 h, later, never, waiting, pending), medians "
            "and p90, per rep, per source and per day; and how often they qualified, per "
            "bucket (rate with a 95% Wilson interval, ratio to the reference bucket with a "
            "95% Katz interval, undecided leads apart). Reps get the figures of their own "
            "leads. Times are ISO 8601 in the site time zone; see docs/outcomes.md."
        ),
        parameters=[MetricsQuerySerializer],
        responses={200: MetricsReportSerializer},
    )
    def get(self, request):
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = metrics.response_report(
            Lead.objects.visible_to(request.user), **query.validated_data
        )
        return Response(MetricsReportSerializer(report).data)


# --- personal data -----------------------------------------------------------------------


class _ManagersOnly(APIView):
    permission_classes = [permissions.IsAuthenticated, IsManager]
    parser_classes = [SafeJSONParser, FormParser]

    def get_authenticators(self):
        return user_authenticators()

    @staticmethod
    def _leads(person: dict[str, Any]) -> list[int]:
        try:
            return privacy.find_leads(email=person.get("email"), lead_id=person.get("lead"))
        except privacy.PrivacyError as error:
            raise ValidationError({"non_field_errors": [str(error)]}) from error


class ErasureView(_ManagersOnly):
    """Erase a person's data: every lead with an e-mail address, or one lead (managers)."""

    @extend_schema(
        tags=["personal data"],
        summary="Erase a person's personal data (managers)",
        description=(
            "Replaces the personal fields of the leads found (and of their submissions, "
            "attempt notes, hand-back notes and every other registered record) with a "
            "tombstone; received, assigned, first contacted, status, score, source and "
            "owner stay, so the metrics do not change. Open leads are refused with 409 "
            "unless `force`. A second erasure changes nothing and answers 200 with zero "
            "records. Writes an ErasureRecord (who, when, counts; nothing personal)."
        ),
        request=ErasureRequestSerializer,
        responses={
            200: ErasureResultSerializer,
            400: OpenApiResponse(description="Neither or both of email and lead."),
            404: OpenApiResponse(description="No lead found."),
            409: OpenApiResponse(description="A lead found is still open; send force."),
        },
    )
    @sensitive_variables("request_data")
    def post(self, request):
        request._request.sensitive_post_parameters = "__ALL__"
        request_data = ErasureRequestSerializer(data=request.data)
        request_data.is_valid(raise_exception=True)
        options = request_data.validated_data
        lead_ids = self._leads(options)
        if not lead_ids:
            return Response({"detail": _("No lead found.")}, status=status.HTTP_404_NOT_FOUND)
        try:
            result = privacy.erase(
                lead_ids,
                actor=request.user,
                via=privacy.ErasureVia.API,
                force=options["force"],
                dry_run=options["dry_run"],
            )
        except privacy.LeadsStillOpen as error:
            body = {"detail": str(error), "open_lead_ids": error.lead_ids}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(ErasureResultSerializer(result).data)


class ExportView(_ManagersOnly):
    """Everything held about a person, as JSON (managers)."""

    @extend_schema(
        tags=["personal data"],
        summary="Export a person's data (subject access, managers)",
        description=(
            "Every registered record about the leads with this e-mail address (or this "
            "lead): the leads, repeat submissions, contact attempts, assignment history "
            "and reminders, all columns. Reps appear by name, or as “rep 1”, “rep 2”… "
            "when the site sets `EXPORT_PSEUDONYMISE_REPS`. A POST, so the address stays "
            "out of URLs and access logs."
        ),
        request=PersonQuerySerializer,
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiResponse(description="Neither or both of email and lead."),
            404: OpenApiResponse(description="No lead found."),
        },
    )
    @sensitive_variables("query", "person")
    def post(self, request):
        request._request.sensitive_post_parameters = "__ALL__"
        query = PersonQuerySerializer(data=request.data)
        query.is_valid(raise_exception=True)
        person = query.validated_data
        lead_ids = self._leads(person)
        if not lead_ids:
            return Response({"detail": _("No lead found.")}, status=status.HTTP_404_NOT_FOUND)
        document = privacy.export_leads(lead_ids)
        return Response({"email": person.get("email", "").lower() or None, **document})
