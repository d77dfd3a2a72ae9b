import json

from django.core.management.base import BaseCommand, CommandError

from leadfollow import privacy
from leadfollow.management.commands._privacy import add_person_arguments, lead_ids


class Command(BaseCommand):
    help = "Print everything leadfollow holds about a person as JSON (a subject-access request)."

    def add_arguments(self, parser):
        add_person_arguments(parser)
        parser.add_argument("--output", "-o", help="write to this file instead of stdout")

    def handle(self, *args, **options):
        found = lead_ids(options)
        document = privacy.export_leads(found)
        if options["email"]:
            document = {"email": privacy.normalise_email(options["email"]), **document}
        text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True)
        if options["output"]:
            try:
                with open(options["output"], "w", encoding="utf-8") as out:
                    out.write(text + "\n")
            except OSError as error:
                raise CommandError(
                    f"Cannot write {options['output']}: {error.strerror}."
                ) from error
            self.stderr.write(f"Wrote the export of lead(s) {', '.join(map(str, found))}.")
        else:
            self.stdout.write(text)
