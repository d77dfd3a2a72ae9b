"""``path("api/", include("leadfollow.api.urls"))``: the REST API, its OpenAPI schema and
the human-readable docs page (``api/docs/``; ``api/`` redirects there)."""

from django.urls import path
from django.views.generic import RedirectView
from rest_framework.routers import SimpleRouter

from leadfollow.api import events, viewsets
from leadfollow.api.schema import DocsView, SchemaView

app_name = "leadfollow_api"

router = SimpleRouter()
router.register("leads", viewsets.LeadViewSet, basename="lead")
router.register("assignments", viewsets.AssignmentViewSet, basename="assignment")
router.register("scoring-rules", viewsets.ScoringRuleViewSet, basename="scoring-rule")
router.register("reps", viewsets.RepProfileViewSet, basename="rep")
router.register("absences", viewsets.AbsenceViewSet, basename="absence")

urlpatterns = [
    *router.urls,
    path("events/", events.EventIntakeView.as_view(), name="events"),
    path("metrics/", viewsets.MetricsView.as_view(), name="metrics"),
    path("privacy/erasure/", viewsets.ErasureView.as_view(), name="privacy-erasure"),
    path("privacy/export/", viewsets.ExportView.as_view(), name="privacy-export"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(), name="docs"),
    path("", RedirectView.as_view(pattern_name="leadfollow_api:docs"), name="root"),
]
