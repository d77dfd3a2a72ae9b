"""Routing rules: which reps may take which leads (source, attribute, score band)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from leadfollow.models.lead import Lead

_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
_MISSING = object()


class RoutingRuleQuerySet(models.QuerySet):
    def active(self) -> RoutingRuleQuerySet:
        return self.filter(active=True).order_by("priority", "pk")


class RoutingRule(models.Model):
    """Leads matching every condition set here go only to this rule's reps.

    Rules are tried by ascending priority; the first match wins. A lead matching no
    rule may go to any rep (the fallback pool).
    """

    name = models.CharField(_("name"), max_length=120)
    priority = models.PositiveIntegerField(
        _("priority"), default=100, help_text=_("Lower numbers are tried first.")
    )
    active = models.BooleanField(_("active"), default=True)
    sources = models.JSONField(
        _("sources"),
        default=list,
        blank=True,
        help_text=_('Lead sources this rule applies to, e.g. ["ads", "web"]; empty: any.'),
    )
    attribute = models.CharField(
        _("attribute"),
        max_length=200,
        blank=True,
        help_text=_("A key in the lead's attributes, dotted for nesting, e.g. country."),
    )
    attribute_values = models.JSONField(
        _("attribute values"),
        default=list,
        blank=True,
        help_text=_('Values that match (case-insensitive), e.g. ["de", "at", "ch"].'),
    )
    min_score = models.IntegerField(_("minimum score"), null=True, blank=True)
    max_score = models.IntegerField(_("maximum score"), null=True, blank=True)
    reps = models.ManyToManyField(
        "leadfollow.RepProfile",
        verbose_name=_("eligible reps"),
        related_name="routing_rules",
        blank=True,
    )
    sla_minutes = models.PositiveIntegerField(
        _("first-response SLA (minutes)"),
        null=True,
        blank=True,
        help_text=_("Overrides the site and per-source SLA for matching leads."),
    )
    fallback_to_all = models.BooleanField(
        _("fall back to all reps"),
        default=True,
        help_text=_("When none of the eligible reps can take the lead, route it to any rep."),
    )

    objects = RoutingRuleQuerySet.as_manager()

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return self.name

    def matches(self, lead: Lead) -> bool:
        if self.sources and lead.source not in self.sources:
            return False
        if self.min_score is not None and lead.score < self.min_score:
            return False
        if self.max_score is not None and lead.score > self.max_score:
            return False
        if self.attribute:
            value = _lookup(lead.attributes or {}, self.attribute)
            if value is _MISSING:
                return False
            wanted = {str(v).casefold() for v in self.attribute_values}
            if str(value).casefold() not in wanted:
                return False
        return True

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if not isinstance(self.sources, list) or not all(
            isinstance(s, str) and _SLUG.match(s) for s in self.sources
        ):
            errors["sources"] = _('Enter a list of source names, e.g. ["ads", "web"].')
        values = self.attribute_values
        if not isinstance(values, list) or not all(
            isinstance(v, str | int | float) and not isinstance(v, bool) for v in values
        ):
            errors["attribute_values"] = _('Enter a list of texts or numbers, e.g. ["de", "at"].')
        elif self.attribute and not values:
            errors["attribute_values"] = _("Give at least one value for the attribute to match.")
        elif values and not self.attribute:
            errors["attribute"] = _("Name the attribute these values are compared with.")
        if self.attribute and not all(self.attribute.split(".")):
            errors["attribute"] = _("Use a key such as country, or utm.campaign for nesting.")
        if (
            self.min_score is not None
            and self.max_score is not None
            and self.min_score > self.max_score
        ):
            errors["max_score"] = _("The maximum score must not be below the minimum score.")
        if self.sla_minutes == 0:
            errors["sla_minutes"] = _("The SLA must be at least one minute; leave empty for none.")
        if errors:
            raise ValidationError(errors)


def _lookup(data: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return data
