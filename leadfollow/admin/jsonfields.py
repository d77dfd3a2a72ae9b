"""Every JSON field in leadfollow's admin goes through ``jsonsafety.SafeJSONField``."""

from __future__ import annotations

from django.db import models

from leadfollow.jsonsafety import SafeJSONField


class SafeJSONAdminMixin:
    """Deep nesting, NaN/Infinity, NUL and lone surrogates are form errors, not a 500 at
    parse or INSERT time. Fields named in ``json_objects`` must hold a JSON object."""

    json_objects: tuple[str, ...] = ()

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField):
            kwargs.setdefault("form_class", SafeJSONField)
            if db_field.name in self.json_objects:
                kwargs.setdefault("require_object", True)
        return super().formfield_for_dbfield(db_field, request, **kwargs)
