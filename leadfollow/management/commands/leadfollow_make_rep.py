from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from leadfollow.availability import make_reps


class Command(BaseCommand):
    help = "Make users reps (give them a RepProfile): from then on routing gives them leads."

    def add_arguments(self, parser):
        parser.add_argument("usernames", nargs="+", metavar="username")
        parser.add_argument("--timezone", default="", help="IANA zone, e.g. America/New_York")
        parser.add_argument("--capacity", type=int, help="open uncontacted leads at most")

    def handle(self, *args, usernames, timezone, capacity, **options):
        users = get_user_model()._default_manager
        found = {u.get_username(): u for u in users.filter(**{
            f"{users.model.USERNAME_FIELD}__in": usernames})}  # fmt: skip
        missing = [name for name in usernames if name not in found]
        if missing:
            raise CommandError(f"No such user: {', '.join(missing)}")
        if capacity is not None and capacity < 1:
            raise CommandError("--capacity must be a positive number")
        try:
            created = make_reps(
                [found[name] for name in usernames], timezone=timezone, capacity=capacity
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        made = {p.user.get_username() for p in created}
        for name in usernames:
            self.stdout.write(f"{name}: {'now a rep' if name in made else 'already a rep'}")
