from django.core.management.base import BaseCommand
from django.utils import timezone

from leadfollow import privacy
from leadfollow.conf import lf_settings


class Command(BaseCommand):
    help = (
        "Apply RETENTION_DAYS now (the daily leadfollow.retention schedule does the same); "
        "--dry-run prints what would go."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="print, erase nothing")

    def handle(self, *args, **options):
        now = timezone.now()
        if not any(days for days in lf_settings.RETENTION_DAYS.values()):
            self.stdout.write("RETENTION_DAYS is empty: nothing is erased automatically.")
            return
        if options["dry_run"]:
            due = privacy.retention_due(now).values_list("pk", "status", "updated_at")
            for pk, status, updated_at in due.iterator():
                age = (now - updated_at).days
                self.stdout.write(f"lead {pk}: {status}, unchanged for {age} days")
        result = privacy.apply_retention(now, dry_run=options["dry_run"])
        verb = "Would erase" if result.dry_run else "Erased"
        counts = ", ".join(f"{label}: {n}" for label, n in result.counts.items()) or "nothing"
        self.stdout.write(
            f"{verb} {result.records} record(s) of {len(result.lead_ids)} lead(s) ({counts})."
        )
