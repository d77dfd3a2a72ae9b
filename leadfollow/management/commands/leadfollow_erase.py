from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from leadfollow import privacy
from leadfollow.management.commands._privacy import add_person_arguments, lead_ids
from leadfollow.models import ErasureVia


class Command(BaseCommand):
    help = (
        "Erase a person's personal data (every lead with an e-mail address, or one lead), "
        "keeping the non-personal facts the metrics need. Refuses open leads without --force."
    )

    def add_arguments(self, parser):
        add_person_arguments(parser)
        parser.add_argument("--force", action="store_true", help="erase open leads too")
        parser.add_argument("--dry-run", action="store_true", help="only count what would go")
        parser.add_argument("--actor", help="username recorded as who erased (the audit row)")

    def handle(self, *args, **options):
        actor = None
        if options["actor"]:
            actor = (
                get_user_model()
                ._default_manager.filter(**{get_user_model().USERNAME_FIELD: options["actor"]})
                .first()
            )
            if actor is None:
                raise CommandError(f"No user {options['actor']!r}.")
        try:
            result = privacy.erase(
                lead_ids(options),
                actor=actor,
                via=ErasureVia.COMMAND,
                force=options["force"],
                dry_run=options["dry_run"],
            )
        except privacy.LeadsStillOpen as error:
            raise CommandError(str(error)) from error
        verb = "Would erase" if result.dry_run else "Erased"
        counts = ", ".join(f"{label}: {n}" for label, n in result.counts.items()) or "nothing"
        leads = ", ".join(map(str, result.lead_ids))
        self.stdout.write(f"{verb} {result.records} record(s) of lead(s) {leads} ({counts}).")
