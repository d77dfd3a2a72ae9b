"""Phone numbers in E.164 with the optional ``phonenumbers`` package.

With ``LEADFOLLOW["PHONE_REGION"]`` set (the region numbers without a country code belong
to, e.g. "DE"), intake stores every number it understands as ``+4930123456`` and never
refuses a lead for one it does not: that number is kept as given and the lead is flagged
(``Lead.phone_unparsed``) for a rep to look at.
"""

from __future__ import annotations

#: Longest phone text a lead stores (``Lead.phone``).
MAX_LENGTH = 32


class PhonenumbersUnavailable(ImportError):
    pass


def _phonenumbers():
    try:
        import phonenumbers
    except ImportError as exc:
        raise PhonenumbersUnavailable(
            "PHONE_REGION needs the 'phonenumbers' package: "
            "pip install django-leadfollow[phonenumbers]"
        ) from exc
    return phonenumbers


def is_region(region: str) -> bool:
    return region in _phonenumbers().SUPPORTED_REGIONS


def normalise(raw: str, region: str) -> tuple[str, bool]:
    """``(number, understood)``: E.164 and True for a valid number, else the text as given
    (trimmed to what a lead stores) and False."""
    raw = (raw or "").strip()
    if not raw:
        return "", True
    phonenumbers = _phonenumbers()
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return raw[:MAX_LENGTH], False
    if not phonenumbers.is_valid_number(number):
        return raw[:MAX_LENGTH], False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True
