from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from leadfollow.models import Lead, RepProfile


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"rep{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class RepFactory(factory.django.DjangoModelFactory):
    """A rep profile; working hours default to the site calendar."""

    class Meta:
        model = RepProfile

    user = factory.SubFactory(UserFactory)
    timezone = "Europe/Berlin"


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"lead{n}@example.org")
    source = "web"
    received_at = factory.LazyFunction(timezone.now)


class ContactAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leadfollow.ContactAttempt"

    lead = factory.SubFactory(LeadFactory)
    rep = factory.SubFactory(UserFactory)
    channel = "call"
    outcome = "connected"
    attempted_at = factory.LazyFunction(timezone.now)


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leadfollow.Assignment"

    lead = factory.SubFactory(LeadFactory)
    to_rep = factory.SubFactory(UserFactory)
    reason = "intake"


class SubmissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leadfollow.Submission"

    lead = factory.SubFactory(LeadFactory)
    source = "web"
    message = factory.Faker("sentence")


class AbsenceFactory(factory.django.DjangoModelFactory):
    """One week off, starting now."""

    class Meta:
        model = "leadfollow.Absence"

    rep = factory.SubFactory(RepFactory)
    starts_at = factory.LazyFunction(timezone.now)
    ends_at = factory.LazyAttribute(lambda a: a.starts_at + timedelta(days=7))
    reason = "Vacation"


class ScoringRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leadfollow.ScoringRule"

    name = factory.Sequence(lambda n: f"rule {n}")
    field_path = "source"
    operator = "eq"
    value = "ads"
    points = 10


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leadfollow.RoutingRule"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"routing rule {n}")
    priority = 100

    @factory.post_generation
    def reps(self, create, extracted, **kwargs):
        if create and extracted:
            self.reps.set(extracted)


def make_api_key(source: str = "ads", name: str = "", **options) -> tuple:
    """An API key for ``source``: (ApiKey row, raw key shown once)."""
    from leadfollow.models import ApiKey

    return ApiKey.objects.create_key(source=source, name=name, **options)


class ManagerFactory(UserFactory):
    """A user with ``leadfollow.manage_leads``."""

    username = factory.Sequence(lambda n: f"manager{n}")

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def manage_leads(self, create, extracted, **kwargs):
        from django.contrib.auth.models import Permission

        if create:
            self.user_permissions.add(
                Permission.objects.get(
                    codename="manage_leads", content_type__app_label="leadfollow"
                )
            )
