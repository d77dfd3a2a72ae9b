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
LEAD_FIELDS = ("source", "company", "email", "email_domain", "phone", "name", "message", "status")


class ScoringRule(models.Model):
    """Points a lead earns when one of its fields, or a key inside ``attributes``, matches."""

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

    def clean(self) -> None:
        errors = {}
        path = self.field_path or ""
        if path not in LEAD_FIELDS and not (
            path.startswith("attributes.") and all(path.split(".")[1:])
        ):
            errors["field_path"] = _(
                "Unknown field “%(path)s”. Use one of %(fields)s, or attributes.KEY."
            ) % {"path": path, "fields": ", ".join(LEAD_FIELDS)}
        if self.operator in NUMERIC_OPERATORS and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            errors["value"] = _("“%(op)s” compares numbers: enter a number.") % {
                "op": Operator(self.operator).label
            }
        elif self.operator == Operator.IN and not isinstance(self.value, list):
            errors["value"] = _('“is one of” needs a list, e.g. ["de", "at"].')
        elif self.operator in {Operator.CONTAINS, Operator.STARTS_WITH} and not isinstance(
            self.value, str
        ):
            errors["value"] = _("This operator compares text: enter a text value.")
        elif self.operator in {Operator.EQUALS, Operator.NOT_EQUALS} and self.value is None:
            errors["value"] = _("Enter the value to compare with.")
        if errors:
            raise ValidationError(errors)
