from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug

from leadfollow.models import ApiKey


class Command(BaseCommand):
    help = (
        "Create an API key for a lead source (as admin → API keys does) and print the key "
        "and its signing secret, shown this once."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="the source every lead posted with it gets, e.g. web")
        parser.add_argument("--name", default="", help="who uses it, e.g. 'landing pages'")
        parser.add_argument(
            "--events-any-source",
            action="store_true",
            help="its engagement events may name leads of every source (an e-mail provider's "
            "webhook); by default only its own source's",
        )

    def handle(self, *args, source, name, events_any_source, **options):
        try:
            validate_slug(source)
        except ValidationError as exc:
            raise CommandError(f"source {source!r}: letters, digits, - and _ only") from exc
        api_key, raw_key = ApiKey.objects.create_key(
            source=source, name=name[:120], events_any_source=events_any_source
        )
        self.stdout.write(f"key: {raw_key}")
        self.stdout.write(f"signing secret: {api_key.signing_secret}")
