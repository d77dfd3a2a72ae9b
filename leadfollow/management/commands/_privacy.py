"""What the privacy commands share: naming the person (an address or a lead id)."""

from __future__ import annotations

from django.core.management.base import CommandError

from leadfollow import privacy


def add_person_arguments(parser) -> None:
    person = parser.add_mutually_exclusive_group(required=True)
    person.add_argument("--email", help="every lead with this e-mail address")
    person.add_argument("--lead", type=int, help="one lead, by id")


def lead_ids(options) -> list[int]:
    try:
        found = privacy.find_leads(email=options["email"], lead_id=options["lead"])
    except privacy.PrivacyError as error:
        raise CommandError(str(error)) from error
    if not found:
        raise CommandError("No lead found.")
    return found
