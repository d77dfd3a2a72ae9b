"""Querysets compiled once and run again with other values.

Intake runs the same small indexed lookups for every lead, and a sweep pass the same
locking page query for every batch, with different values; building and compiling such a
queryset costs Django more CPU than the database spends running it. A :class:`Prepared`
query keeps the SQL Django compiled for each shape and re-runs it with the new values —
the same statement, the same rows, as model instances.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections, transaction
from django.db.models import Model, QuerySet
from django.db.models.sql import Query, UpdateQuery


class Prepared:
    """``build(shape, **values)`` returns a queryset of one model; calling the ``Prepared``
    runs it. The first call of each shape (``shape``, the names of ``values`` and their
    types, on one database) compiles ``build`` twice, with two different probe values for
    each name: the parameters that differ are the values' places. Later calls put the real
    values there and read the rows as ``Model.objects.raw()`` would — annotations arrive as
    attributes, database converters apply — with the columns' places worked out once per
    shape (``raw()`` works them out again on every run).

    For values that lookups hand to the database unchanged (``exact``, ``in``, ``gt``…):
    texts, integers, floats and datetimes, used as they are. A value transformed on its way
    (``iexact``, ``contains``, lower-cased, shifted), one that never reaches the SQL, or a
    build that branches on it (as far as the two probes differ: see ``_probe``): the first
    call raises instead of running the wrong SQL.
    """

    def __init__(self, build: Callable[..., QuerySet], *, max_shapes: int | None = None):
        self.build = build
        # ``max_shapes``: when shapes come from data (sets of ids), the compiled ones are
        # forgotten beyond that many, so the process does not grow with them (``clear()``:
        # one step, safe beside other threads).
        self.max_shapes = max_shapes
        self._compiled: dict[Hashable, _Compiled] = {}

    def __call__(self, shape: Hashable, using: str, **values: Any) -> list[Model]:
        compiled = self._compiled_for(shape, using, values)
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, self._bind(compiled, using, values))
            if compiled.reader is None:  # the same SQL always gives the same columns
                compiled.reader = _Reader(compiled.model, using, cursor.description)
            rows = cursor.fetchall()
        return compiled.reader.instances(rows)

    def _compiled_for(self, shape: Hashable, using: str, values: dict) -> _Compiled:
        names = sorted(values)
        key = (shape, using, tuple((name, _kind(values[name])) for name in names))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(shape, using, key[2])
            if self.max_shapes is not None and len(self._compiled) >= self.max_shapes:
                self._compiled.clear()
            self._compiled[key] = compiled
        return compiled

    @staticmethod
    def _bind(compiled: _Compiled, using: str, values: dict) -> list:
        """The compiled parameters with ``values`` in their places."""
        connection = connections[using]
        bound = list(compiled.params)
        for index, name in compiled.slots:
            bound[index] = _adapt(values[name], connection)
        return bound

    def _compile(self, shape: Hashable, using: str, kinds: tuple) -> _Compiled:
        connection = connections[using]
        probes = [
            {name: _probe(kind, name, number, variant) for number, (name, kind) in enumerate(kinds)}
            for variant in (0, 1)
        ]
        (model, sql, params), (_, other_sql, other_params) = (
            self._sql(shape, using, values) for values in probes
        )
        if sql != other_sql or len(params) != len(other_params):
            raise ValueError(f"the SQL's text depends on the values: {[n for n, _ in kinds]}")
        slots, derived = [], []
        for index, (one, other) in enumerate(zip(params, other_params, strict=True)):
            if one == other:
                continue
            name = next(
                (
                    name
                    for name, _ in kinds
                    if one == _adapt(probes[0][name], connection)
                    and other == _adapt(probes[1][name], connection)
                ),
                None,
            )
            if name is None:
                derived.append(one)  # made from a value (lower-cased, wrapped in %…%)
            else:
                slots.append((index, name))
        missing = sorted({name for name, _ in kinds} - {name for _, name in slots})
        if missing or derived:
            raise ValueError(
                f"values not passed through to the SQL unchanged: {missing or derived}"
            )
        return _Compiled(model, sql, list(params), slots)

    def _sql(self, shape: Hashable, using: str, values: dict) -> tuple[Any, str, tuple]:
        queryset = self.build(shape, **values)
        sql, params = queryset.query.get_compiler(using=using).as_sql()
        return queryset.model, sql, params


class PreparedUpdate(Prepared):
    """The same for an UPDATE: ``build(shape, **values)`` returns ``(queryset, fields)``,
    what ``queryset.update(**fields)`` would run; calling it runs the compiled statement
    with the new values and returns the number of rows updated. Refused when Django
    would first read the rows' keys in a query of its own (an update through a join)."""

    def __call__(self, shape: Hashable, using: str, **values: Any) -> int:
        compiled = self._compiled_for(shape, using, values)
        params = self._bind(compiled, using, values)
        with transaction.mark_for_rollback_on_error(using), connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            return cursor.rowcount

    def _sql(self, shape: Hashable, using: str, values: dict) -> tuple[Any, str, tuple]:
        queryset, fields = self.build(shape, **values)
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(fields)
        query.annotations = {}  # as QuerySet.update(): resolved into the filters already
        sql, params = query.get_compiler(using=using).as_sql()
        if query.related_ids is not None or query.related_updates:
            raise ValueError("an UPDATE that reads the rows' keys first cannot be prepared")
        return queryset.model, sql, params


@dataclass
class _Compiled:
    model: type[Model]
    sql: str
    params: list
    slots: list[tuple[int, str]]  # (index in params, name of the value)
    reader: _Reader | None = None  # once the statement has run


class _Reader:
    """Rows into model instances as ``RawModelIterable`` makes them (fields by column
    name, other columns as attributes, the database's converters applied)."""

    def __init__(self, model: type[Model], using: str, description):
        connection = connections[using]
        converter = connection.introspection.identifier_converter
        columns = [converter(column[0]) for column in description]
        position: dict[str, int] = {}
        for pos, column in enumerate(columns):
            position.setdefault(column, pos)  # the first, as raw(), if a join repeats a name
        by_column = {converter(f.column): f for f in model._meta.concrete_fields}
        if converter(model._meta.pk.column) not in position:
            raise ValueError("a prepared query must select the primary key")
        self.model, self.using = model, using
        # In the concrete fields' order: from_db() expects the values so when some are deferred.
        self.init = [
            (f.attname, position[column]) for column, f in by_column.items() if column in position
        ]
        self.names = [name for name, _ in self.init]
        self.extra = [(name, pos) for pos, name in enumerate(columns) if name not in by_column]
        fields = [by_column.get(column) for column in columns]
        self.compiler = connection.ops.compiler("SQLCompiler")(Query(model), connection, using)
        self.converters = self.compiler.get_converters(
            [f.get_col(f.model._meta.db_table) if f else None for f in fields]
        )

    def instances(self, rows: list) -> list[Model]:
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        made = []
        for row in rows:
            instance = self.model.from_db(self.using, self.names, [row[p] for _, p in self.init])
            for column, pos in self.extra:
                setattr(instance, column, row[pos])
            made.append(instance)
        return made


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, float):
        return "float"
    if isinstance(value, datetime):
        return "aware" if value.tzinfo is not None else "naive"
    if isinstance(value, int) and not isinstance(value, bool):
        return "integer"
    raise TypeError(f"Prepared takes texts, numbers and datetimes, not {type(value).__name__}")


def _probe(kind: str, name: str, number: int, variant: int) -> Any:
    """A value no real one equals (texts hold NUL characters), different for each name.
    The two variants differ in every part — length and case, sign and digits, each field
    of a date and time — so that a value lower-cased, stripped, truncated or reduced to a
    part on its way to the SQL shows as a parameter that is not the probe, and a build
    that branches on such a part compiles two different texts. Integers stay inside
    a 32-bit column's range: Django turns a lookup with a value out of range into
    "nothing" or "everything" instead of a parameter."""
    if kind == "text":
        return f" \x00LeadFollow-Probe:{name}\x00 " if variant == 0 else f"\x00PROBE {name} TWO\x00"
    if kind == "float":
        return -1.0e9 - 0.25 - number if variant == 0 else 7.5e6 + 0.125 + number
    if kind == "integer":
        # One negative and odd, one positive and even: a build that branches on the sign
        # or the parity compiles two texts and is refused.
        return -1_000_000_007 - 2 * number if variant == 0 else 7_654_320 + 2 * number
    base = (
        datetime(1970, 1, 2, 3, 4, 5, 6789)
        if variant == 0
        else datetime(1999, 11, 28, 22, 51, 38, 987654)
    )
    moment = base + timedelta(days=number)
    return moment.replace(tzinfo=UTC) if kind == "aware" else moment


def _adapt(value: Any, connection) -> Any:
    """A value as a lookup on a column of its type passes it to the database driver."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value
