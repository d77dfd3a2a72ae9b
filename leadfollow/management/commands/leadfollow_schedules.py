from django.core.management.base import BaseCommand

from leadfollow.schedules import ensure_schedules


class Command(BaseCommand):
    help = "Create or update leadfollow's django-q2 schedules (idempotent; run on deploy)."

    def handle(self, *args, **options):
        for ensured in ensure_schedules():
            action = "created" if ensured.created else "updated"
            self.stdout.write(f"{action} schedule {ensured.name}")
