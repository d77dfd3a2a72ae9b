"""Input that cannot be stored is a form error in leadfollow's admin, never a 500."""

from __future__ import annotations

from django import forms
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db import models

from leadfollow.jsonsafety import SafeJSONField


class SafeAutocompleteSelect(AutocompleteSelect):
    """Django's widget looks the posted value up to re-render a refused form, and an id
    such as ``":"`` (``ValueError``) or ``2**63`` (``OverflowError``) would be a 500; such
    values are left out."""

    def optgroups(self, name, value, attr=None):
        to_field = self.field.remote_field.field_name
        target = self.field.remote_field.model._meta.get_field(to_field)
        usable = [item for item in value if _storable_key(target, item)]
        return super().optgroups(name, usable, attr)


# Databases store keys as signed 64-bit integers; SQLite's driver raises OverflowError (not
# caught by Django's choice fields: a 500) for a posted id beyond that.
_INT64 = range(-(2**63), 2**63)


def _key_field(choice_field) -> models.Field:
    meta = choice_field.queryset.model._meta
    return meta.get_field(choice_field.to_field_name) if choice_field.to_field_name else meta.pk


def _storable_key(field: models.Field, value) -> bool:
    try:
        key = field.to_python(value)
    except ValidationError:
        return False
    return not isinstance(key, int) or key in _INT64


class SafeModelChoiceField(forms.ModelChoiceField):
    """An id that cannot be a key (``2**63``) is an invalid choice, not a database error."""

    def to_python(self, value):
        if value not in self.empty_values and not _storable_key(_key_field(self), value):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class SafeModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    def _check_values(self, value):
        key_field = _key_field(self)
        for item in value if isinstance(value, (list, tuple)) else ():
            if not _storable_key(key_field, item):
                raise ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": str(item)[:50]},
                )
        return super()._check_values(value)


class SafeLookupsAdminMixin:
    """For every leadfollow ModelAdmin: a changelist query the database cannot run
    (``?owner=<40 digits>``, ``?pk__in=…``, a date hierarchy's ``?created_at__year=<40
    digits>``) gets Django's "invalid lookup" answer, as any other bad lookup value does,
    instead of a 500. Django turns a ``ValueError`` into that answer but not the
    ``OverflowError`` of building such a date or of SQLite's driver binding such an id."""

    def get_changelist_instance(self, request):
        # The ChangeList runs the filtered COUNT while it is built, so this is where it fails.
        try:
            return super().get_changelist_instance(request)
        except OverflowError as error:
            raise IncorrectLookupParameters(error) from error


class SafeInputAdminMixin(SafeLookupsAdminMixin):
    """For ModelAdmins and inlines: every JSON field goes through ``SafeJSONField`` (deep
    nesting, NaN/Infinity, NUL and lone surrogates are form errors, not a 500 at parse or
    INSERT time; fields named in ``json_objects`` must hold a JSON object), autocomplete
    fields survive unparsable ids, and ids beyond 64 bits are invalid choices."""

    json_objects: tuple[str, ...] = ()

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField):
            kwargs.setdefault("form_class", SafeJSONField)
            if db_field.name in self.json_objects:
                kwargs.setdefault("require_object", True)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", SafeModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", SafeModelChoiceField)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
