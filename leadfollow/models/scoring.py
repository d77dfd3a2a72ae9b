import math
import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class Operator(models.TextChoices):
    EQUALS = "eq", _("equals")
    NOT_EQUALS = "ne", _("does not equal")
    IN = "in", _("is one of")
    CONTAINS = "contains", _("contains")
    STARTS_WITH = "startswith", _("starts with")
    EXISTS = "exists", _("is present")
    GT = "gt", _("greater than")
    GTE = "gte", _("greater than or equal")
    LT = "lt", _("less than")
    LTE = "lte", _("less than or equal")


NUMERIC_OPERATORS = {Operator.GT, Operator.GTE, Operator.LT, Operator.LTE}
TEXT_OPERATORS = {Operator.CONTAINS, Operator.STARTS_WITH}
LEAD_FIELDS = ("source", "company", "email", "email_domain", "phone", "name", "message", "status")
# An attributes key: letters, digits, "-" and "_". Keys that read as integers are refused
# because the databases' JSON paths would take them for list positions.
_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
# Rule numbers are compared as double precision floats; beyond this they are not numbers.
NUMBER_LIMIT = 1e300
POINTS_LIMIT = 10_000
MAX_LIST_LENGTH = 200
MAX_TEXT_LENGTH = 200


def attribute_keys(path: str) -> list[str] | None:
    """The keys of an ``attributes.a.b`` path, or None when it is not a valid one."""
    head, _dot, rest = path.partition(".")
    if head != "attributes" or not rest:
        return None
    keys = rest.split(".")
    for key in keys:
        if not _KEY.fullmatch(key):
            return None
        try:
            int(key)
        except ValueError:
            continue
        return None
    return keys


def is_rule_number(value) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and abs(value) < NUMBER_LIMIT
    )


def _is_scalar(value) -> bool:
    return isinstance(value, bool) or is_rule_number(value) or (isinstance(value, str) and value)


class ScoringRule(models.Model):
    """Points a lead earns when one of its fields, or a key inside ``attributes``, matches.

    Text comparisons ignore the case of A-Z (other letters compare exactly); a number
    rule value also matches numbers sent as text ("250"); see leadfollow.scoring.
    """

    name = models.CharField(_("name"), max_length=120)
    field_path = models.CharField(
        _("field"),
        max_length=200,
        help_text=_(
            "A lead field (source, company, email, email_domain, phone, name, message, status) "
            "or attributes.KEY, dotted for nesting, e.g. attributes.utm.campaign."
        ),
    )
    operator = models.CharField(_("operator"), max_length=16, choices=Operator.choices)
    value = models.JSONField(
        _("value"),
        null=True,
        blank=True,
        help_text=_("A number, a text, or a list for “is one of”. Not used by “is present”."),
    )
    points = models.IntegerField(_("points"), help_text=_("Negative values lower the score."))
    active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note for reps"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("scoring rule")
        verbose_name_plural = _("scoring rules")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_lead_field(self) -> bool:
        return self.field_path in LEAD_FIELDS

    def clean(self) -> None:
        errors = {}
        path = self.field_path or ""
        known = path in LEAD_FIELDS or attribute_keys(path) is not None
        if not known:
            errors["field_path"] = _(
                "Unknown field “%(path)s”. Use one of %(fields)s, or attributes.KEY "
                "(keys of letters, digits, - and _, not only digits; dots for nesting)."
            ) % {"path": path, "fields": ", ".join(LEAD_FIELDS)}
        value_error = self._value_error(lead_field=known and path in LEAD_FIELDS)
        if value_error:
            errors["value"] = value_error
        if (
            isinstance(self.points, int)
            and not isinstance(self.points, bool)
            and abs(self.points) > POINTS_LIMIT
        ):
            errors["points"] = _("Points must be between -%(limit)d and %(limit)d.") % {
                "limit": POINTS_LIMIT
            }
        if errors:
            raise ValidationError(errors)

    def _value_error(self, *, lead_field: bool):  # noqa: C901, PLR0911 - one message per case
        op, value = self.operator, self.value
        if op not in Operator.values:
            return None  # the choices validation reports it
        label = Operator(op).label
        if op == Operator.EXISTS:
            if value is not None:
                return _("“is present” takes no value: leave the value empty.")
            return None
        if op in NUMERIC_OPERATORS:
            if not is_rule_number(value):
                return _("“%(op)s” compares numbers: enter a number, e.g. 200.") % {"op": label}
            if lead_field:
                return _(
                    "“%(op)s” compares numbers, and “%(field)s” is a text field: use it on "
                    "an attributes key, e.g. attributes.company_size."
                ) % {"op": label, "field": self.field_path}
            return None
        if op == Operator.IN:
            if not isinstance(value, list) or not value:
                return _('“is one of” needs a list, e.g. ["de", "at"].')
            if len(value) > MAX_LIST_LENGTH:
                return _("The list has %(count)d entries; at most %(limit)d are allowed.") % {
                    "count": len(value),
                    "limit": MAX_LIST_LENGTH,
                }
            if not all(_is_scalar(item) for item in value):
                return _(
                    "Each entry of the list must be a non-empty text, a number, true or false."
                )
            if lead_field and not all(isinstance(item, str) for item in value):
                return _(
                    "“%(field)s” is a text field: write every entry as text in quotes, "
                    'e.g. ["ads", "partner"].'
                ) % {"field": self.field_path}
            return self._text_length_error(value)
        if op in TEXT_OPERATORS:
            if not isinstance(value, str) or not value:
                return _('“%(op)s” compares text: enter the text in quotes, e.g. "acme".') % {
                    "op": label
                }
            return self._text_length_error([value])
        # equals / does not equal
        if value is None or value == "":
            return _("Enter the value to compare with.")
        if not _is_scalar(value):
            return _(
                "Enter one text, number, true or false. To compare with several values, "
                "use “is one of”."
            )
        if lead_field and not isinstance(value, str):
            return _(
                '“%(field)s” is a text field: write the value as text in quotes, e.g. "ads".'
            ) % {"field": self.field_path}
        return self._text_length_error([value])

    @staticmethod
    def _text_length_error(values):
        if any(isinstance(v, str) and len(v) > MAX_TEXT_LENGTH for v in values):
            return _("Texts to compare with may have at most %(limit)d characters.") % {
                "limit": MAX_TEXT_LENGTH
            }
        return None
