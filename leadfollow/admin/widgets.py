"""Admin inputs a manager can use without writing JSON: a per-day working-hours editor, lists
one value a line, typed rule values and a key/value table for lead attributes.

Each is a form field + widget pair. The widgets are plain HTML inputs that work without
JavaScript (one empty row is always there; save to get another); ``admin-widgets.js`` adds
"add a row" buttons and keeps the shown time zone in step with the rep's.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from leadfollow.businesshours import WEEKDAYS, validate_hours
from leadfollow.jsonsafety import message, problem

DAY_NAMES = {
    "mon": _("Monday"),
    "tue": _("Tuesday"),
    "wed": _("Wednesday"),
    "thu": _("Thursday"),
    "fri": _("Friday"),
    "sat": _("Saturday"),
    "sun": _("Sunday"),
}
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::00)?")


class AdminWidgetMedia:
    class Media:
        css = {"all": ["leadfollow/admin-widgets.css"]}
        js = ["leadfollow/admin-widgets.js"]


def _getlist(data, key: str) -> list[str]:
    if hasattr(data, "getlist"):
        return data.getlist(key)
    value = data.get(key)
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


class StorableMixin:
    """Whatever the inputs made must be JSON leadfollow may store (no NUL, lone surrogates,
    non-finite numbers or too deep nesting): a form error, never a 500 at INSERT time."""

    def validate(self, value):
        super().validate(value)
        if (code := problem(value)) is not None:
            raise ValidationError(message(code), code=code)


# --- working hours -----------------------------------------------------------------------


class WorkingHoursWidget(AdminWidgetMedia, forms.Widget):
    """A row per weekday with its time ranges (``<input type="time">`` pairs)."""

    template_name = "leadfollow/widgets/working_hours.html"
    #: The rep's own zone, shown above the table (set per form; empty: the site's zone).
    zone = ""
    #: The id of the rep's time-zone input, whose changes the label follows (JS).
    zone_input_id = "id_timezone"

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        hours = value if isinstance(value, dict) else {}
        context["days"] = [
            {
                "code": day,
                "label": DAY_NAMES[day],
                "ranges": [*[list(w) for w in hours.get(day) or () if len(w) == 2], ["", ""]],
            }
            for day in WEEKDAYS
        ]
        from leadfollow.conf import lf_settings

        context["zone"] = self.zone
        context["site_zone"] = lf_settings.TIME_ZONE
        context["zone_input_id"] = self.zone_input_id
        return context

    def value_from_datadict(self, data, files, name):
        hours = {}
        for day in WEEKDAYS:
            starts = _getlist(data, f"{name}_{day}_start")
            ends = _getlist(data, f"{name}_{day}_end")
            pairs = [[s.strip(), e.strip()] for s, e in zip(starts, ends, strict=False)]
            hours[day] = [p for p in pairs if p[0] or p[1]]
        return hours

    def value_omitted_from_data(self, data, files, name):
        return not any(f"{name}_{day}_start" in data for day in WEEKDAYS)


def _hhmm(value: str) -> str | None:
    match = _TIME.fullmatch(value)
    if match is None:
        return None
    return f"{int(match[1]):02d}:{match[2]}"


class WorkingHoursField(StorableMixin, forms.Field):
    """``{"mon": [["09:00", "17:00"]], …}`` from the per-day editor; all days empty: ``{}``
    (the site's hours). An end of 00:00 means midnight at the end of the day."""

    widget = WorkingHoursWidget

    def to_python(self, value):
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError(_("Enter the working hours day by day."), code="invalid")
        hours: dict[str, list[list[str]]] = {}
        errors = []
        for day in WEEKDAYS:
            for start, end in value.get(day) or ():
                if not start or not end:
                    errors.append(
                        ValidationError(
                            _("%(day)s: give both a start and an end time."),
                            params={"day": DAY_NAMES[day]},
                            code="half_range",
                        )
                    )
                    continue
                start_, end_ = _hhmm(start), _hhmm(end)
                if start_ is None or end_ is None:
                    errors.append(
                        ValidationError(
                            _("%(day)s: “%(value)s” is not a time such as 09:00."),
                            params={"day": DAY_NAMES[day], "value": start if not start_ else end},
                            code="bad_time",
                        )
                    )
                    continue
                hours.setdefault(day, []).append([start_, "24:00" if end_ == "00:00" else end_])
        if errors:
            raise ValidationError(errors)
        for windows in hours.values():
            windows.sort()
        return hours

    def validate(self, value):
        super().validate(value)
        problems = validate_hours(value)
        if problems:
            raise ValidationError([ValidationError(p, code="invalid_hours") for p in problems])

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != (initial or {})
        except ValidationError:
            return True


# --- lists -------------------------------------------------------------------------------


class ListWidget(AdminWidgetMedia, forms.Textarea):
    def __init__(self, attrs=None):
        super().__init__({"rows": 3, "cols": 30, "class": "lf-list-input", **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(v) for v in value)
        return super().format_value(value)


class ListField(StorableMixin, forms.Field):
    """A JSON list of texts entered one per line (or comma-separated); duplicates dropped."""

    widget = ListWidget

    def to_python(self, value):
        if isinstance(value, list):
            return value
        items = []
        for item in re.split(r"[\n,]", value or ""):
            item = item.strip()
            if item and item not in items:
                items.append(item)
        return items

    def has_changed(self, initial, data):
        return [str(v) for v in initial or []] != self.to_python(data)


# --- scoring rule values -----------------------------------------------------------------


class ValueType:
    NONE, TEXT, NUMBER, BOOL, TEXTS, NUMBERS = "none", "text", "number", "bool", "texts", "numbers"
    CHOICES = [
        (NONE, _("no value (for “is present”)")),
        (TEXT, _("text")),
        (NUMBER, _("number")),
        (BOOL, _("true or false")),
        (TEXTS, _("list of texts, one per line")),
        (NUMBERS, _("list of numbers, one per line")),
    ]


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Posted(tuple):
    """(type, text) as posted; a stored value may itself be a list, so it is told apart."""

    __slots__ = ()


class RuleValueWidget(AdminWidgetMedia, forms.MultiWidget):
    template_name = "leadfollow/widgets/rule_value.html"

    def __init__(self, attrs=None):
        super().__init__(
            [
                forms.Select(choices=ValueType.CHOICES, attrs={"class": "lf-value-type"}),
                forms.Textarea(attrs={"rows": 2, "cols": 30, "class": "lf-value-text"}),
            ],
            attrs,
        )

    def get_context(self, name, value, attrs):
        if not isinstance(value, Posted):
            value = Posted(self.decompress(value))
        return super().get_context(name, value, attrs)

    def value_from_datadict(self, data, files, name):
        return Posted(super().value_from_datadict(data, files, name))

    def decompress(self, value):
        if value is None:
            return [ValueType.NONE, ""]
        if isinstance(value, bool):
            return [ValueType.BOOL, "true" if value else "false"]
        if _is_number(value):
            return [ValueType.NUMBER, str(value)]
        if isinstance(value, list):
            kind = ValueType.NUMBERS if value and all(map(_is_number, value)) else ValueType.TEXTS
            return [kind, "\n".join(str(v) for v in value)]
        return [ValueType.TEXT, str(value)]


class RuleValueHiddenWidget(RuleValueWidget):
    """The same two values as hidden inputs (the preview page re-posts the form)."""

    template_name = "django/forms/widgets/multiwidget.html"

    def __init__(self, attrs=None):
        forms.MultiWidget.__init__(self, [forms.HiddenInput(), forms.HiddenInput()], attrs)

    @property
    def is_hidden(self) -> bool:
        return True


def _number(text: str):
    text = text.strip()
    try:
        number = int(text) if re.fullmatch(r"[-+]?[0-9]+", text) else float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class RuleValueField(StorableMixin, forms.Field):
    """A scoring rule's value as a type and a text: ``"acme"``, ``200``, ``true``,
    ``["de", "at"]``, ``[1, 2]`` or none. Whether it suits the operator is the rule's clean()."""

    widget = RuleValueWidget
    hidden_widget = RuleValueHiddenWidget

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):  # noqa: PLR0911 - one return per type
        if not isinstance(value, Posted) or len(value) != 2:
            return value  # a stored value
        kind, text = value[0], value[1] or ""
        if kind == ValueType.NONE:
            if text.strip():
                raise ValidationError(
                    _("Choose the value's type, or clear the value."), code="untyped"
                )
            return None
        if kind == ValueType.TEXT:
            return text.strip()
        if kind == ValueType.BOOL:
            flag = text.strip().lower()
            if flag not in ("true", "false", "yes", "no"):
                raise ValidationError(_("Enter true or false."), code="bad_bool")
            return flag in ("true", "yes")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if kind == ValueType.TEXTS:
            return lines
        if kind in (ValueType.NUMBER, ValueType.NUMBERS):
            numbers = [_number(line) for line in (lines if kind == ValueType.NUMBERS else [text])]
            bad = [line for line, n in zip(lines or [text], numbers, strict=False) if n is None]
            if bad:
                raise ValidationError(
                    _("“%(value)s” is not a number, e.g. 200 or 2.5."),
                    params={"value": bad[0]},
                    code="bad_number",
                )
            return numbers if kind == ValueType.NUMBERS else numbers[0]
        raise ValidationError(_("Choose the value's type."), code="bad_type")

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != initial
        except ValidationError:
            return True


# --- attributes --------------------------------------------------------------------------


def attribute_text(value: Any) -> str:
    """How a value shows in its cell: text as typed (quoted when it would read as JSON, so
    it stays text), anything else as JSON."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def attribute_value(text: str) -> Any:
    """The inverse of :func:`attribute_text`: JSON when the cell holds JSON, else text."""
    try:
        return json.loads(text, parse_constant=lambda name: text)
    except RecursionError:
        raise ValidationError(message("too_deep"), code="too_deep") from None
    except ValueError:
        return text


class KeyValueWidget(AdminWidgetMedia, forms.Widget):
    template_name = "leadfollow/widgets/key_value.html"

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if isinstance(value, dict):
            rows = [[str(k), attribute_text(v)] for k, v in value.items()]
        elif isinstance(value, list):  # re-rendering posted rows
            rows = [list(r) for r in value]
        else:
            rows = []
        context["rows"] = [*rows, ["", ""]]
        return context

    def value_from_datadict(self, data, files, name):
        keys, values = _getlist(data, f"{name}_key"), _getlist(data, f"{name}_value")
        return [[k, v] for k, v in zip(keys, values, strict=False) if k.strip() or v.strip()]

    def value_omitted_from_data(self, data, files, name):
        return f"{name}_key" not in data


class KeyValueField(StorableMixin, forms.Field):
    """A JSON object edited as a table of keys and values. A value that is JSON (``250``,
    ``true``, ``["a", "b"]``, ``{"x": 1}``) is stored as such; anything else as text."""

    widget = KeyValueWidget

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        result: dict[str, Any] = {}
        for key, text in value or ():
            key = key.strip()
            if not key:
                raise ValidationError(
                    _("The value “%(value)s” has no key."), params={"value": text[:40]},
                    code="no_key",
                )  # fmt: skip
            if key in result:
                raise ValidationError(
                    _("The key “%(key)s” appears twice."), params={"key": key}, code="dup_key"
                )
            result[key] = attribute_value(text.strip())
        return result

    def bound_data(self, data, initial):
        return data  # re-render the rows as posted

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != (initial or {})
        except ValidationError:
            return True
