"""``POST /api/events/``: engagement events from a source, one or a batch (a thin adapter
over ``leadfollow.engagement.record_events``; authenticated exactly like lead intake)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from leadfollow import engagement
from leadfollow.api import replay
from leadfollow.api.authentication import SourceKeyAuthentication
from leadfollow.api.parsers import SafeJSONParser
from leadfollow.api.permissions import IsSource
from leadfollow.api.throttling import SourceRateThrottle
from leadfollow.conf import lf_settings
from leadfollow.models import EventType


class EventSerializer(serializers.Serializer):
    """The documented shape of one event (validation: ``engagement.validate_event``)."""

    type = serializers.ChoiceField(choices=EventType.choices)
    occurred_at = serializers.DateTimeField(
        required=False, help_text=_("ISO 8601 with a UTC offset; default: now.")
    )
    id = serializers.CharField(
        required=False, max_length=128,
        help_text=_("Your id for the event: the same id from your source is stored once."),
    )  # fmt: skip
    properties = serializers.DictField(required=False, help_text=_("Any JSON object (≤ 4 KB)."))
    lead_id = serializers.IntegerField(required=False, help_text=_("Name the lead by its id, …"))
    email = serializers.EmailField(required=False, help_text=_("… or by its e-mail address, …"))
    external_id = serializers.CharField(
        required=False, help_text=_("… or by its external id in lead_source.")
    )
    lead_source = serializers.CharField(
        required=False, help_text=_("The source of external_id; default: your key's source.")
    )


class EventBatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True)


class EventResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.IntegerField(help_text=_("201 stored, 200 duplicate, 404, 422."))
    id = serializers.IntegerField(required=False)
    duplicate = serializers.BooleanField(required=False)
    detail = serializers.CharField(required=False)
    errors = serializers.DictField(required=False)


class EventBatchResultSerializer(serializers.Serializer):
    results = EventResultSerializer(many=True)
    created = serializers.IntegerField()


def _items(data) -> tuple[list, bool]:
    """(events, single) from one event object, a list, or {"events": [...]}."""
    if isinstance(data, dict) and "events" in data:
        items, single = data["events"], False
    elif isinstance(data, dict):
        items, single = [data], True
    else:
        items, single = data, False
    if not isinstance(items, list):
        raise ValidationError({"events": [_("Send an event object or a list of events.")]})
    limit = lf_settings.MAX_EVENT_BATCH
    if not 0 < len(items) <= limit:
        raise ValidationError(
            {"events": [_("Send 1 to %(limit)d events per request.") % {"limit": limit}]}
        )
    return items, single


@extend_schema(tags=["events"])
class EventIntakeView(APIView):
    authentication_classes = [SourceKeyAuthentication]
    permission_classes = [IsSource]
    throttle_classes = [SourceRateThrottle]
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Record engagement events (one, or a batch of up to 500)",
        description=(
            "Never creates leads. A key finds only its own source's leads unless it may "
            "name any source's (`events_any_source`); another source's lead answers 404, "
            "like an unknown one. One event answers with its own status (201, 200 for a "
            'duplicate id, 404, 422); a list or {"events": [...]} answers 200 with one '
            "result per event, in order."
        ),
        request=EventBatchSerializer,
        responses={
            200: EventBatchResultSerializer,
            201: EventResultSerializer,
            400: OpenApiResponse(description="Not an event, a list, or too many events."),
            401: OpenApiResponse(description="No or invalid API key or signature."),
            404: EventResultSerializer,
            422: EventResultSerializer,
            429: OpenApiResponse(description="Too many requests from this source."),
        },
    )
    def post(self, request):
        request._request.sensitive_post_parameters = "__ALL__"
        items, single = _items(request.data)
        now = timezone.now()
        with transaction.atomic():
            replay.claim(request, now)  # a signed request is accepted once
            results = engagement.record_events(
                items,
                source=request.auth.source,
                now=now,
                only_own_leads=not request.auth.events_any_source,
            )
        if single:
            return Response(results[0].body, status=results[0].status)
        created = sum(1 for result in results if result.status == status.HTTP_201_CREATED)
        return Response({"results": [r.body for r in results], "created": created})
