from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from leadfollow import rollups
from leadfollow.models import ResponseRollup


class Command(BaseCommand):
    help = (
        "The response report's rollup (PostgreSQL): show its state, --check it against the "
        "leads, --compact it (the leadfollow.rollups schedule does this), or --rebuild its "
        "triggers and rows (after changing LEADFOLLOW['TIME_ZONE'], or if --check fails)."
    )

    def add_arguments(self, parser):
        actions = parser.add_mutually_exclusive_group()
        actions.add_argument("--check", action="store_true", help="exit 1 if a sum is wrong")
        actions.add_argument("--compact", action="store_true", help="collapse the differences")
        actions.add_argument("--rebuild", action="store_true", help="recompute from the leads")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, **options):
        using = options["database"]
        if connections[using].vendor != "postgresql":
            self.stdout.write(
                f"No rollup on {connections[using].vendor}: the report counts the leads."
            )
            return
        if options["rebuild"]:
            try:
                rows = rollups.rebuild(using)
            except rollups.UnknownZone as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"Rebuilt for {rollups.site_zone_name()}: {rows} row(s).")
        elif options["compact"]:
            self.stdout.write(f"Compacted {rollups.compact(using)} key(s).")
        elif options["check"]:
            wrong = rollups.check(using)
            for key, column, stored, counted in wrong[:20]:
                self.stderr.write(f"{key}: {column} is {stored}, the leads give {counted}")
            if wrong:
                raise CommandError(
                    f"{len(wrong)} wrong sum(s); run manage.py leadfollow_rollups --rebuild"
                )
            self.stdout.write("The rollup matches the leads.")
        zone = rollups.built_zone(using)
        rows = ResponseRollup.objects.using(using)
        self.stdout.write(
            f"Triggers: {zone or 'missing'} (site: {rollups.site_zone_name()}); "
            f"{rows.count()} row(s), {rows.filter(is_delta=True).count()} not compacted."
        )
        if zone != rollups.site_zone_name():
            self.stdout.write(
                "The report counts the leads until manage.py leadfollow_rollups --rebuild."
            )
