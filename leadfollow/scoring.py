"""Scoring: the points a lead earns from the active ScoringRules (evaluated in Python)."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Number
from typing import Any

from leadfollow.models import Lead, Operator, ScoringRule

_MISSING = object()


def lead_value(lead: Lead, path: str) -> Any:
    """The value a rule's field path points at, or a sentinel when absent."""
    if path == "email_domain":
        return lead.email.rpartition("@")[2] if "@" in (lead.email or "") else _MISSING
    if not path.startswith("attributes."):
        value = getattr(lead, path, _MISSING)
        return _MISSING if value in ("", None) else value
    value: Any = lead.attributes or {}
    for key in path.split(".")[1:]:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return _MISSING if value is None else value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Number):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def rule_matches(rule: ScoringRule, lead: Lead) -> bool:
    value = lead_value(lead, rule.field_path)
    op = rule.operator
    if op == Operator.EXISTS:
        return value is not _MISSING
    if value is _MISSING:
        return op == Operator.NOT_EQUALS
    if op in (Operator.GT, Operator.GTE, Operator.LT, Operator.LTE):
        number, target = _number(value), _number(rule.value)
        if number is None or target is None:
            return False
        return {
            Operator.GT: number > target,
            Operator.GTE: number >= target,
            Operator.LT: number < target,
            Operator.LTE: number <= target,
        }[op]
    text = str(value).casefold()
    if op == Operator.EQUALS:
        return text == str(rule.value).casefold()
    if op == Operator.NOT_EQUALS:
        return text != str(rule.value).casefold()
    if op == Operator.IN:
        return text in {str(v).casefold() for v in rule.value or ()}
    if op == Operator.CONTAINS:
        return str(rule.value).casefold() in text
    if op == Operator.STARTS_WITH:
        return text.startswith(str(rule.value).casefold())
    return False


def score_lead(lead: Lead, rules: Iterable[ScoringRule] | None = None) -> int:
    if rules is None:
        rules = ScoringRule.objects.filter(active=True)
    return sum(rule.points for rule in rules if rule_matches(rule, lead))
