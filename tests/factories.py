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
