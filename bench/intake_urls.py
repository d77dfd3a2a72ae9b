"""URLs of bench/bench_intake.py: leadfollow's API and the baseline, a bare DRF create."""

from django.urls import include, path
from rest_framework import generics, serializers

from leadfollow.models import Lead


class BareLeadSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lead
        fields = ["id", "name", "email", "phone", "source", "external_id", "owner"]
        read_only_fields = ["id", "owner"]


class BareCreate(generics.CreateAPIView):
    """The floor: DRF parsing, validation and one INSERT; no auth, scoring or routing."""

    authentication_classes: list = []
    permission_classes: list = []
    serializer_class = BareLeadSerializer


urlpatterns = [
    path("api/", include("leadfollow.api.urls")),
    path("bare/leads/", BareCreate.as_view()),
]
