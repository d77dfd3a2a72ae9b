"""Querysets compiled once per process and run again with other values.

Intake runs the same small indexed lookups for every lead, with different values; building
and compiling such a queryset costs Django more CPU than the database spends running it.
A :class:`Prepared` query keeps the SQL Django compiled for each shape and re-runs it with
the new values — the same statement, the same rows, as model instances.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from django.db.models import Model, QuerySet


class Prepared:
    """``build(**values)`` returns a queryset of one model; calling the ``Prepared`` runs
    it. The first call of each shape (``shape`` and the names of ``values``, on one
    database) compiles ``build`` with placeholder texts, later calls put the real values
    in their place and run the SQL through ``Model.objects.raw()``: annotations arrive as
    attributes, database converters apply as for any raw query.

    For text values that lookups hand to the database unchanged (``exact``, ``in``):
    a lookup that transforms its value (``iexact``, ``contains``) would not carry the
    placeholder through, and the first call raises instead of running the wrong SQL.
    """

    def __init__(self, build: Callable[..., QuerySet]):
        self.build = build
        self._compiled: dict[Hashable, tuple[Any, str, tuple]] = {}

    def __call__(self, shape: Hashable, using: str, **values: str) -> list[Model]:
        key = (shape, using, tuple(sorted(values)))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(shape, using, sorted(values))
        model, sql, params = compiled
        bound = [values[p.name] if isinstance(p, _Slot) else p for p in params]
        return list(model._default_manager.db_manager(using).raw(sql, bound))

    def _compile(self, shape: Hashable, using: str, names: list[str]) -> tuple[Any, str, tuple]:
        slots = {name: _Slot(name) for name in names}
        queryset = self.build(shape, **slots)
        sql, params = queryset.query.get_compiler(using=using).as_sql()
        by_text = {str(slot): slot for slot in slots.values()}
        params = tuple(by_text.get(p, p) if isinstance(p, str) else p for p in params)
        missing = set(names) - {p.name for p in params if isinstance(p, _Slot)}
        # A text made from a value (lower-cased, wrapped in %…%) would be kept as it was
        # compiled, placeholder and all: refuse it rather than run it.
        derived = [
            p for p in params if isinstance(p, str) and _MARK in p.lower() and p not in by_text
        ]
        if missing or derived:
            raise ValueError(
                f"values not passed through to the SQL unchanged: {sorted(missing) or derived}"
            )
        return queryset.model, sql, params


_MARK = "\x00leadfollow-prepared:"  # found in any text made from a placeholder


class _Slot(str):
    """A placeholder text no real value can equal (it holds NUL characters)."""

    def __new__(cls, name: str) -> _Slot:
        slot = super().__new__(cls, f"{_MARK}{name}\x00".upper())
        slot.name = name
        return slot
