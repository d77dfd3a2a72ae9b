from leadfollow.models.apikeys import ApiKey, IdempotencyRecord, UsedSignature
from leadfollow.models.assignment import Assignment, AssignmentReason
from leadfollow.models.attempt import Channel, ContactAttempt, Outcome
from leadfollow.models.coldlead import ColdLead
from leadfollow.models.engagement import EngagementEvent, EngagementRule, EventType
from leadfollow.models.lead import OPEN_STATUSES, Lead, LeadQuerySet, LeadStatus, Submission
from leadfollow.models.privacy import ErasureRecord, ErasureVia
from leadfollow.models.reminders import Reminder, ReminderKind
from leadfollow.models.reps import Absence, PauseReason, RepProfile
from leadfollow.models.rollup import ResponseRollup
from leadfollow.models.routing import RoutingRule
from leadfollow.models.scoring import Operator, ScoringRule
from leadfollow.models.webhooks import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "OPEN_STATUSES",
    "Absence",
    "ApiKey",
    "Assignment",
    "AssignmentReason",
    "Channel",
    "DeliveryStatus",
    "ColdLead",
    "ContactAttempt",
    "ErasureRecord",
    "ErasureVia",
    "EngagementEvent",
    "EngagementRule",
    "EventType",
    "IdempotencyRecord",
    "Lead",
    "LeadQuerySet",
    "LeadStatus",
    "Operator",
    "Outcome",
    "PauseReason",
    "Reminder",
    "ReminderKind",
    "RepProfile",
    "ResponseRollup",
    "RoutingRule",
    "ScoringRule",
    "Submission",
    "UsedSignature",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
