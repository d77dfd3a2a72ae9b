"""One rule for every JSON value leadfollow stores: bounded depth, finite numbers, text that
PostgreSQL's jsonb and UTF-8 can hold.

Why each: a deeply nested value overflows the stack of any recursive code that reads it
(Python's ``json``, our own walkers) and answered 500; ``NaN``/``Infinity`` (or ``1e999``,
which parses as infinity) are not JSON and PostgreSQL refuses them at INSERT, as it refuses
``\\u0000`` and lone surrogates (``\\ud800``). A leaf module: no models, only settings.

The walkers here are iterative, so they are safe on any depth.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from leadfollow.conf import lf_settings

MESSAGES = {
    "too_deep": _("JSON is nested too deeply (at most %(limit)d levels)."),
    "not_finite": _("JSON numbers must be finite (no NaN or Infinity)."),
    "nul": _("JSON values must not contain NUL characters."),
    "surrogate": _("JSON values must be valid Unicode text (no lone surrogates)."),
    "not_object": _("This must be a JSON object (key/value pairs in {…})."),
}


def max_depth() -> int:
    return lf_settings.MAX_JSON_DEPTH


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "nul"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate"
    return None


def strings(value: Any) -> Iterator[str]:
    """Every string in ``value``, keys included, at any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def problem(value: Any, *, limit: int | None = None) -> str | None:
    """The first reason ``value`` cannot be stored (a key of :data:`MESSAGES`), or None."""
    limit = max_depth() if limit is None else limit
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth + 1 > limit:
                return "too_deep"
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str) and (found := _text_problem(key)):
                        return found
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if found := _text_problem(item):
                return found
        elif isinstance(item, float) and not math.isfinite(item):
            return "not_finite"
    return None


def message(code: str) -> str:
    text = MESSAGES[code]
    return text % {"limit": max_depth()} if code == "too_deep" else str(text)


def validate_json_value(value: Any) -> None:
    """Raise ``ValidationError`` unless ``value`` is a JSON value leadfollow may store."""
    if (code := problem(value)) is not None:
        raise ValidationError(message(code), code=code)


def validate_json_object(value: Any) -> None:
    if value is not None and not isinstance(value, dict):
        raise ValidationError(MESSAGES["not_object"], code="not_object")
    validate_json_value(value)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes) -> Any:
    """``json.loads`` that refuses NaN/Infinity, too deep nesting and unstorable text with
    ``ValueError`` (never ``RecursionError``)."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(message("too_deep")) from None
    if (code := problem(value)) is not None:
        raise ValueError(message(code))
    return value


class SafeJSONField(forms.JSONField):
    """``forms.JSONField`` for the admin and intake: bad JSON of any depth is a form error,
    never a 500 (Django's field only catches ``JSONDecodeError``)."""

    def __init__(self, *, require_object: bool = False, **kwargs):
        self.require_object = require_object
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            value = super().to_python(value)
        except RecursionError:
            raise ValidationError(message("too_deep"), code="too_deep") from None
        if value is not None and (code := problem(value)) is not None:
            raise ValidationError(message(code), code=code)
        if self.require_object and value is not None and not isinstance(value, dict):
            raise ValidationError(MESSAGES["not_object"], code="not_object")
        return value

    def bound_data(self, data, initial):
        # Re-rendering a refused form parses the input again: show it as typed (a parsed
        # "\ud800" could not even be encoded into the page).
        try:
            value = super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)
        if isinstance(data, str) and problem(value) is not None:
            return forms.fields.InvalidJSONInput(data)
        return value

    def prepare_value(self, value):
        try:
            return super().prepare_value(value)
        except (RecursionError, ValueError):
            return forms.fields.InvalidJSONInput(str(value))
