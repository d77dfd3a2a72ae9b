from django.core.management.base import BaseCommand

from demo_project.seed import DEFAULT_LEADS, DEFAULT_SEED, ensure_arrivals_schedule, seed_demo


class Command(BaseCommand):
    help = "Create demo reps, scoring rules and a month of leads, unless they already exist."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=DEFAULT_LEADS, help="How many leads.")
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="Random seed; same seed, same data."
        )
        parser.add_argument(
            "--reset", action="store_true", help="Delete all leadfollow data first, then seed."
        )

    def handle(self, *args, leads, seed, reset, **options):
        self.stdout.write(seed_demo(leads=leads, seed=seed, reset=reset))
        ensure_arrivals_schedule()  # a new lead every few minutes while the demo runs
