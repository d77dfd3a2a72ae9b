from leadfollow.admin.apikeys import ApiKeyAdmin
from leadfollow.admin.coldleads import ColdLeadAdmin
from leadfollow.admin.engagement import EngagementEventAdmin, EngagementRuleAdmin
from leadfollow.admin.leads import AssignmentAdmin, ContactAttemptAdmin, LeadAdmin
from leadfollow.admin.privacy import ErasureRecordAdmin
from leadfollow.admin.reps import AbsenceAdmin, RepProfileAdmin
from leadfollow.admin.routing import RoutingRuleAdmin
from leadfollow.admin.scoring import ScoringRuleAdmin
from leadfollow.admin.webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin

__all__ = [
    "AbsenceAdmin",
    "ApiKeyAdmin",
    "AssignmentAdmin",
    "ColdLeadAdmin",
    "ContactAttemptAdmin",
    "ErasureRecordAdmin",
    "EngagementEventAdmin",
    "EngagementRuleAdmin",
    "LeadAdmin",
    "RepProfileAdmin",
    "RoutingRuleAdmin",
    "ScoringRuleAdmin",
    "WebhookDeliveryAdmin",
    "WebhookEndpointAdmin",
]
