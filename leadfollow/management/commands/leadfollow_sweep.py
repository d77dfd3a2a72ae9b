from django.core.management.base import BaseCommand

from leadfollow.sweep import reassign_overdue


class Command(BaseCommand):
    help = "Run one pass of the SLA sweep (for sites that prefer cron to a django-q2 schedule)."

    def handle(self, *args, **options):
        report = reassign_overdue()
        self.stdout.write(", ".join(f"{name}: {count}" for name, count in report.as_dict().items()))
