from leadfollow.admin.apikeys import ApiKeyAdmin
from leadfollow.admin.coldleads import ColdLeadAdmin
from leadfollow.admin.engagement import EngagementEventAdmin, EngagementRuleAdmin
from leadfollow.admin.leads import AssignmentAdmin, ContactAttemptAdmin, LeadAdmin
from leadfollow.admin.reps import AbsenceAdmin, RepProfileAdmin
from leadfollow.admin.routing import RoutingRuleAdmin
from leadfollow.admin.scoring import ScoringRuleAdmin

__all__ = [
    "AbsenceAdmin",
    "ApiKeyAdmin",
    "AssignmentAdmin",
    "ColdLeadAdmin",
    "ContactAttemptAdmin",
    "EngagementEventAdmin",
    "EngagementRuleAdmin",
    "LeadAdmin",
    "RepProfileAdmin",
    "RoutingRuleAdmin",
    "ScoringRuleAdmin",
]
