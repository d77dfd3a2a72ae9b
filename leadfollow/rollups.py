"""Rollups of the response report's counts, exact by construction (PostgreSQL).

A year of leads is ~1M rows; counting them per bucket, outcome, rep, source and day on
every dashboard view reads them all (≈ 1 s at 1M). :class:`~leadfollow.models.ResponseRollup`
holds the same counts per (day, owner, source) — ~45× fewer rows — and the report reads
them for the days it can (see :func:`leadfollow.metrics.response_report`).

Exact by construction:

* **Triggers** on the lead table, not application code, keep the rollup: every INSERT,
  DELETE and every UPDATE that changes a counted column (receipt, owner, source, status,
  first contact, deadline) appends the lead's old contribution with sign −1 and its new one
  with +1, in the writer's own transaction — the ORM, ``bulk_update``, ``QuerySet.update``,
  raw SQL, COPY and admin deletes alike. TRUNCATE empties the rollup.
* **Append, never update in place**: writers only INSERT difference rows, so concurrent
  intakes and sweeps never wait on a shared counter row (and cannot deadlock on one).
* **Sums, never trusted rows**: a reader adds up every row of its keys, differences
  included; :func:`compact` replaces a key's rows by their sum in one statement, which
  changes no sum, so a report reads the same figures before and after it.
* What depends on the moment of reading is not stored: an uncontacted lead is counted as
  uncontacted, and the report splits those into never / waiting / pending from the few open
  leads (see ``metrics``); a deadline is stored as "has one", and the ones still ahead are
  counted live.

The day is the receipt date in the site time zone the triggers were built with
(:func:`built_zone`); when ``LEADFOLLOW["TIME_ZONE"]`` changes, :func:`usable` is False and
the report counts from the leads until ``manage.py leadfollow_rollups --rebuild`` rebuilds
the triggers and the rows for the new zone. Other databases have no rollup: the report
counts from the leads (SQLite is the small, embedded case).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connections, transaction

from leadfollow.conf import lf_settings
from leadfollow.models import ResponseRollup
from leadfollow.models.rollup import ROLLUP_CLASSES

__all__ = [
    "COUNT_COLUMNS",
    "built_zone",
    "check",
    "compact",
    "install",
    "read",
    "rebuild",
    "usable",
]

TABLE = ResponseRollup._meta.db_table
LEAD_TABLE = "leadfollow_lead"
#: The summed columns, in the model's order.
COUNT_COLUMNS = tuple(
    f.column
    for f in ResponseRollup._meta.concrete_fields
    if f.name not in {"id", "day", "owner", "source", "is_delta"}
)
KEY_COLUMNS = ("day", "owner_id", "source")
#: The lead columns a contribution reads; an UPDATE changing none of them changes no count.
COUNTED_COLUMNS = (
    "received_at",
    "owner_id",
    "source",
    "status",
    "first_contacted_at",
    "first_response_due",
)
# The contacted buckets' upper bounds, as in metrics._bucket_filters (exact hours: an
# interval of '1 day' would follow the session time zone's DST changes).
_BOUNDS = (("5m", "5 minutes"), ("1h", "1 hour"), ("24h", "24 hours"))
_FUNCTION = "leadfollow_rollup_change"
_LOCK_KEY = 0x1EAD_0011  # compaction's advisory lock


def _contribution(rows: str, zone: str) -> str:
    """SELECT of every rollup column for ``rows`` (a relation with the lead's counted
    columns and ``sign``), one output row per input row."""
    klass = "CASE WHEN first_contacted_at IS NULL THEN 'uncontacted' "
    klass += " ".join(
        f"WHEN first_contacted_at <= received_at + interval '{bound}' THEN '{key}'"
        for key, bound in _BOUNDS
    )
    klass += " ELSE 'later' END"
    outcome = "CASE status WHEN 'qualified' THEN 'q' WHEN 'disqualified' THEN 'dq' ELSE '' END"
    values = {"received": "sign"}
    for key in ROLLUP_CLASSES:
        values[f"n_{key}"] = f"CASE WHEN k = '{key}' THEN sign ELSE 0 END"
        for prefix in ("q", "dq"):
            values[f"{prefix}_{key}"] = (
                f"CASE WHEN k = '{key}' AND o = '{prefix}' THEN sign ELSE 0 END"
            )
    values["late"] = (
        "CASE WHEN first_response_due IS NOT NULL AND first_contacted_at > first_response_due "
        "THEN sign ELSE 0 END"
    )
    values["uncontacted_due"] = (
        "CASE WHEN first_response_due IS NOT NULL AND first_contacted_at IS NULL "
        "THEN sign ELSE 0 END"
    )
    assert tuple(values) == COUNT_COLUMNS, "the model's columns and the triggers' disagree"
    return (
        f"SELECT (received_at AT TIME ZONE {_quote(zone)})::date AS day, owner_id, source, "
        + ", ".join(f"{expression} AS {column}" for column, expression in values.items())
        + f" FROM (SELECT *, {klass} AS k, {outcome} AS o FROM ({rows}) AS r) AS c"
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns() -> str:
    return ", ".join((*KEY_COLUMNS, "is_delta", *COUNT_COLUMNS))


def _side(record: str, sign: int, op: str) -> str:
    fields = ", ".join(f"{record}.{column} AS {column}" for column in COUNTED_COLUMNS)
    return f"SELECT {fields}, {sign} AS sign WHERE TG_OP <> '{op}'"


def _install_sql(zone: str) -> list[str]:
    changes = f"{_side('OLD', -1, 'INSERT')} UNION ALL {_side('NEW', 1, 'DELETE')}"
    contribution = _contribution(changes, zone)
    cols = ", ".join(COUNT_COLUMNS)
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in COUNTED_COLUMNS)
    return [
        f"""CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {TABLE} ({_columns()})
            SELECT day, owner_id, source, true, {cols} FROM ({contribution}) AS rows;
            RETURN NULL;
        END $$""",
        # The zone the days are filed in, where built_zone() reads it.
        f"COMMENT ON FUNCTION {_FUNCTION}() IS {_quote(zone)}",
        f"""CREATE OR REPLACE FUNCTION leadfollow_rollup_truncate() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN DELETE FROM {TABLE}; RETURN NULL; END $$""",
        f"DROP TRIGGER IF EXISTS leadfollow_rollup_insert ON {LEAD_TABLE}",
        f"DROP TRIGGER IF EXISTS leadfollow_rollup_update ON {LEAD_TABLE}",
        f"DROP TRIGGER IF EXISTS leadfollow_rollup_delete ON {LEAD_TABLE}",
        f"DROP TRIGGER IF EXISTS leadfollow_rollup_truncate ON {LEAD_TABLE}",
        f"CREATE TRIGGER leadfollow_rollup_insert AFTER INSERT ON {LEAD_TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION leadfollow_rollup_change()",
        f"CREATE TRIGGER leadfollow_rollup_update AFTER UPDATE OF {', '.join(COUNTED_COLUMNS)} "
        f"ON {LEAD_TABLE} FOR EACH ROW WHEN ({changed}) "
        "EXECUTE FUNCTION leadfollow_rollup_change()",
        f"CREATE TRIGGER leadfollow_rollup_delete AFTER DELETE ON {LEAD_TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION leadfollow_rollup_change()",
        f"CREATE TRIGGER leadfollow_rollup_truncate AFTER TRUNCATE ON {LEAD_TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION leadfollow_rollup_truncate()",
    ]


def _fill_sql(zone: str) -> str:
    rows = f"SELECT {', '.join(COUNTED_COLUMNS)}, 1 AS sign FROM {LEAD_TABLE}"
    sums = ", ".join(f"sum({c})" for c in COUNT_COLUMNS)
    return (
        f"INSERT INTO {TABLE} ({_columns()}) SELECT day, owner_id, source, false, {sums} "
        f"FROM ({_contribution(rows, zone)}) AS rows GROUP BY day, owner_id, source"
    )


def site_zone_name() -> str:
    return str(lf_settings.TIME_ZONE)


def _postgres(using: str) -> bool:
    return connections[using].vendor == "postgresql"


def install(connection, zone: str | None = None) -> None:
    """(Re)create the triggers for ``zone`` (default: the site's); rows are not touched."""
    _usable.clear()
    with connection.cursor() as cursor:
        for statement in _install_sql(zone or site_zone_name()):
            cursor.execute(statement)


def rebuild(using: str = "default") -> int:
    """Triggers for the current site zone and every row recomputed from the leads; returns
    the rows written. Holds a SHARE lock on the lead table meanwhile (writers wait, readers
    of leads do not), so no lead changes between the count and the new triggers. The rollup
    is truncated, not deleted from, so its table is written anew at its compact size (after
    a bulk import, compaction leaves the differences' space behind: a year's sums read from
    a table with 1M dead rows took 49 ms instead of 13)."""
    if not _postgres(using):
        return 0
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {LEAD_TABLE} IN SHARE MODE")
        install(connection)
        cursor.execute(f"TRUNCATE {TABLE}")
        cursor.execute(_fill_sql(site_zone_name()))
        return cursor.rowcount


def compact(using: str = "default") -> int:
    """Collapse each key with differences into one row (sums unchanged); returns the keys
    collapsed. A second compaction running at the same time does nothing."""
    if not _postgres(using):
        return 0
    sums = ", ".join(f"sum({c})" for c in COUNT_COLUMNS)
    keys = "day, coalesce(owner_id, 0), source"
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return 0
        # A key whose sums are all zero holds no lead (each lead counts once in
        # "received"): it is dropped.
        cursor.execute(
            f"""WITH touched AS (SELECT DISTINCT {keys} FROM {TABLE} WHERE is_delta),
            gone AS (
                DELETE FROM {TABLE} WHERE ({keys}) IN (SELECT * FROM touched) RETURNING *
            )
            INSERT INTO {TABLE} ({_columns()})
            SELECT day, owner_id, source, false, {sums} FROM gone
            GROUP BY day, owner_id, source HAVING sum(received) <> 0"""
        )
        return cursor.rowcount


def built_zone(using: str = "default") -> str | None:
    """The time zone the triggers file days in (None: no rollup on this database)."""
    if not _postgres(using):
        return None
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT obj_description(to_regproc(%s), 'pg_proc')", [_FUNCTION])
        return cursor.fetchone()[0]


#: (alias, zone) pairs found usable. The triggers' zone changes only by rebuild(), which
#: clears this; a process whose site zone changed was restarted with the new settings.
_usable: set[tuple[str, str]] = set()


def usable(using: str = "default") -> bool:
    """Whether the rollup's days are the site's days: PostgreSQL, built for its zone."""
    key = (using, site_zone_name())
    if key not in _usable:
        if built_zone(using) != key[1]:
            return False
        _usable.add(key)
    return True


@dataclass
class Rolled:
    """The rollup's sums over some days: per (owner_id, source) and per day."""

    groups: dict[tuple, dict[str, int]]
    days: dict[date, dict[str, int]]


def read(
    first: date, last: date, *, owner_id=None, source: str | None = None, using: str = "default"
) -> Rolled:
    """Sums of the days ``first``…``last`` (both included), per (owner, source) and per day,
    in one pass (``GROUPING SETS``)."""
    where, params = ["day >= %s", "day <= %s"], [first, last]
    if owner_id is not None:
        where.append("owner_id = %s")
        params.append(owner_id)
    if source:
        where.append("source = %s")
        params.append(source)
    sums = ", ".join(f"sum({c})" for c in COUNT_COLUMNS)
    sql = (
        f"SELECT GROUPING(day), day, owner_id, source, {sums} FROM {TABLE} "
        f"WHERE {' AND '.join(where)} GROUP BY GROUPING SETS ((owner_id, source), (day))"
    )
    groups, days = {}, {}
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        for by_group, day, owner, src, *values in cursor.fetchall():
            counts = dict(zip(COUNT_COLUMNS, (int(v) for v in values), strict=True))
            if counts["received"] == 0:
                continue  # every lead of the key moved away
            if by_group:
                groups[owner, src] = counts
            else:
                days[day] = counts
    return Rolled(groups, days)


def check(using: str = "default") -> list[tuple]:
    """Keys whose rollup sums differ from a count of the leads now: ``(key, column,
    rollup, leads)``; empty when exact (or without a rollup)."""
    if not _postgres(using):
        return []
    zone = built_zone(using)
    if zone is None:
        return [(None, "triggers", None, None)]
    rows = f"SELECT {', '.join(COUNTED_COLUMNS)}, 1 AS sign FROM {LEAD_TABLE}"
    sums = ", ".join(f"sum({c})" for c in COUNT_COLUMNS)
    sql = f"""
        WITH stored AS (
            SELECT day, owner_id, source, {sums} FROM {TABLE} GROUP BY day, owner_id, source
        ), counted AS (
            SELECT day, owner_id, source, {sums} FROM ({_contribution(rows, zone)}) AS c
            GROUP BY day, owner_id, source
        )
        SELECT s.*, c.* FROM stored AS s FULL JOIN counted AS c
            ON s.day = c.day AND s.owner_id IS NOT DISTINCT FROM c.owner_id
            AND s.source = c.source
    """
    width = 3 + len(COUNT_COLUMNS)
    found = []
    with connections[using].cursor() as cursor:
        cursor.execute(sql)
        for row in cursor.fetchall():
            stored, counted = row[:width], row[width:]
            key = stored[:3] if stored[0] is not None else counted[:3]
            for i, column in enumerate(COUNT_COLUMNS, start=3):
                a, b = int(stored[i] or 0), int(counted[i] or 0)
                if a != b:
                    found.append((key, column, a, b))
    return found
