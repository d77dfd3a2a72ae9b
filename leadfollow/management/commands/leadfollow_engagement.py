from django.core.management.base import BaseCommand

from leadfollow.engagement import decay_engagement


class Command(BaseCommand):
    help = (
        "Run one decay pass of the engagement scores now (after changing ENGAGEMENT_POINTS or "
        "the half-life, or for sites that prefer cron to the django-q2 schedule)."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"engagement scores changed: {decay_engagement()}")
