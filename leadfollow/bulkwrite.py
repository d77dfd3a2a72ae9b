"""Write many rows in one statement: their changed fields, or new rows.

Django's ``bulk_update`` builds a ``CASE WHEN pk = … THEN … END`` per field: for a sweep
batch of 100 leads × 6 fields that is 600 resolved expressions, and compiling them cost
more than everything else the sweep does (80 % of a pass in a profile). PostgreSQL
joins arrays instead: ``UPDATE t SET f = v.f FROM unnest(%s::int[], %s::…[]) AS v(pk, f)
WHERE t.pk = v.pk`` — one short statement with one parameter per column, nothing to
compile per row (a ``VALUES`` list of 700 placeholders is also too long for psycopg's
parsed-query cache: it re-parsed every batch's text). New rows go in the same way:
``INSERT … SELECT … FROM unnest(…) RETURNING pk``, each distinct value prepared once.

A column with the same value in every row (the batch's time, "no escalation", the
reason) is one parameter instead of an array: less to prepare, quote and send.
Other databases keep ``bulk_update`` and ``bulk_create``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.db import connections, router
from django.db.models import Field, Model


def update_rows(objs: Sequence[Model], fields: Sequence[str]) -> int:
    """Save ``fields`` of ``objs`` (all of one model) in one statement; the rows updated."""
    if not objs:
        return 0
    model = type(objs[0])
    using = router.db_for_write(model)
    connection = connections[using]
    if connection.vendor != "postgresql":
        return model._default_manager.using(using).bulk_update(objs, fields)
    meta = model._meta
    columns = _Columns(connection, objs, lambda field, obj: getattr(obj, field.attname))
    columns.add(meta.pk, array=True)
    for name in fields:
        columns.add(meta.get_field(name))
    quote = connection.ops.quote_name
    assignments = ", ".join(
        f"{quote(field.column)} = {columns.expression(field)}" for field in columns.fields[1:]
    )
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} FROM {columns.source()} WHERE {table}.{pk} = v.{pk}"
    with connection.cursor() as cursor:
        cursor.execute(sql, columns.params())
        return cursor.rowcount


def insert_rows(objs: Sequence[Model]) -> list[Model]:
    """Insert ``objs`` (all of one model, new) in one statement and set their primary keys,
    as ``bulk_create`` does (no signals; defaults and ``auto_now_add`` applied)."""
    if not objs:
        return []
    model = type(objs[0])
    using = router.db_for_write(model)
    connection = connections[using]
    if connection.vendor != "postgresql":
        return model._default_manager.using(using).bulk_create(objs)
    for obj in objs:
        # A related object saved after it was assigned (``row.lead = lead`` before
        # ``lead.save()``) gives its key now, as in ``bulk_create``.
        obj._prepare_related_fields_for_save(operation_name="insert_rows")
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key and not f.generated]
    columns = _Columns(connection, objs, lambda field, obj: field.pre_save(obj, True))
    for i, field in enumerate(fields):
        columns.add(field, array=i == 0)  # one array at least: it gives the row count
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(columns.expression(field) for field in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({names}) SELECT {values} "
        f"FROM {columns.source()} RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, columns.params())
        # Rows come back in the order of the arrays (Django's own UNNEST insert relies on it).
        pks = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, using
    return list(objs)


class _Columns:
    """The statement's columns: one array parameter each, or one scalar when every row
    has the same value. Arrays are read as ``unnest(…) AS v(…)``."""

    def __init__(self, connection, objs: Sequence[Model], read: Callable[[Field, Model], object]):
        self.connection, self.objs, self.read = connection, objs, read
        self.fields: list[Field] = []
        self.arrays: dict[Field, list] = {}
        self.scalars: dict[Field, object] = {}

    def add(self, field: Field, *, array: bool = False) -> None:
        values = _prepared(field, self.objs, self.connection, self.read)
        self.fields.append(field)
        first = values[0]
        if array or any(value != first for value in values):
            self.arrays[field] = values
        else:
            self.scalars[field] = first

    def _type(self, field: Field) -> str:
        # Without the type's modifiers, as Django's own UNNEST insert: varchar, not
        # varchar(20). Cast, so a NULL or a string has the column's type.
        return field.db_type(self.connection).split("(")[0]

    def expression(self, field: Field) -> str:
        if field in self.scalars:
            return f"%s::{self._type(field)}"
        return f"v.{self.connection.ops.quote_name(field.column)}"

    def source(self) -> str:
        arrays = ", ".join(f"%s::{self._type(field)}[]" for field in self.arrays)
        names = ", ".join(self.connection.ops.quote_name(field.column) for field in self.arrays)
        return f"unnest({arrays}) AS v({names})"

    def params(self) -> list:
        # In the statement's text the scalars (SET …, SELECT …) come before FROM unnest(…).
        scalars = [self.scalars[field] for field in self.fields if field in self.scalars]
        return [*scalars, *self.arrays.values()]


def _prepared(field: Field, objs: Sequence[Model], connection, read) -> list:
    """``field``'s database values of ``objs``, each distinct value prepared once: a batch
    repeats most of them (one time for every row's ``updated_at``, a few owners)."""
    prepared: dict = {}
    column = []
    for obj in objs:
        value = read(field, obj)
        try:
            column.append(prepared[value])
        except KeyError:
            column.append(prepared.setdefault(value, field.get_db_prep_save(value, connection)))
        except TypeError:  # unhashable (JSON)
            column.append(field.get_db_prep_save(value, connection))
    return column
