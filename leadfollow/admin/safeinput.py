"""Input that cannot be stored is a form error in leadfollow's admin, never a 500."""

from __future__ import annotations

from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db import models

from leadfollow.jsonsafety import SafeJSONField


class SafeAutocompleteSelect(AutocompleteSelect):
    """Django's widget looks the posted value up to re-render a refused form, and an id
    such as ``":"`` then raises ``ValueError`` (a 500); such values are left out."""

    def optgroups(self, name, value, attr=None):
        to_field = self.field.remote_field.field_name
        target = self.field.remote_field.model._meta.get_field(to_field)
        usable = []
        for item in value:
            try:
                target.to_python(item)
            except ValidationError:
                continue
            usable.append(item)
        return super().optgroups(name, usable, attr)


class SafeInputAdminMixin:
    """For ModelAdmins and inlines: every JSON field goes through ``SafeJSONField`` (deep
    nesting, NaN/Infinity, NUL and lone surrogates are form errors, not a 500 at parse or
    INSERT time; fields named in ``json_objects`` must hold a JSON object), and autocomplete
    fields survive unparsable ids."""

    json_objects: tuple[str, ...] = ()

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField):
            kwargs.setdefault("form_class", SafeJSONField)
            if db_field.name in self.json_objects:
                kwargs.setdefault("require_object", True)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
