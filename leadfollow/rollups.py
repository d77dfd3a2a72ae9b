"""Rollups of the response report's counts, exact by construction (PostgreSQL).

A year of leads is ~1M rows; counting them per bucket, outcome, rep, source and day on
every dashboard view reads them all (≈ 1 s at 1M). :class:`~leadfollow.models.ResponseRollup`
holds the same counts per (day, owner, source) — ~45× fewer rows — and the report reads
them for the days it can (see :func:`leadfollow.metrics.response_report`).

Exact by construction:

* **Triggers** on the lead and assignment tables, not application code, keep the rollup:
  every INSERT, DELETE and every UPDATE that changes a counted column (a lead's receipt,
  owner, source, status, first contact, deadline; a move's time, reps, reason, actor)
  appends the row's old contribution with sign −1 and its new one with +1, in the writer's
  own transaction — the ORM, ``bulk_update``, ``QuerySet.update``, raw SQL, COPY, admin
  deletes and their cascades alike. Rows that count nothing (intake's Assignment row) fire
  nothing. TRUNCATE of the leads empties the rollup.
* **Append, never update in place**: writers only INSERT difference rows, so concurrent
  intakes and sweeps never wait on a shared counter row (and cannot deadlock on one).
* **Sums, never trusted rows**: a reader adds up every row of its keys, differences
  included; :func:`compact` replaces a key's rows by their sum in one statement, which
  changes no sum, so a report reads the same figures before and after it.
* What depends on the moment of reading is not stored: an uncontacted lead is counted as
  uncontacted, and the report splits those into never / waiting / pending from the few open
  leads (see ``metrics``); a deadline is stored as "has one", and the ones still ahead are
  counted live.

The triggers restate in SQL what ``metrics`` says with querysets (the buckets, a breach, a
move away); ``tests/test_rollups.py`` holds the two together on random data.

A lead's day is its receipt date (a move's: the day it happened) in the site time zone the
triggers were built with
(:func:`built_zone`); when ``LEADFOLLOW["TIME_ZONE"]`` changes, :func:`usable` is False and
the report counts from the leads until ``manage.py leadfollow_rollups --rebuild`` rebuilds
the triggers and the rows for the new zone. Other databases have no rollup: the report
counts from the leads (SQLite is the small, embedded case).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.db import connections, transaction

from leadfollow.conf import lf_settings
from leadfollow.models import ResponseRollup
from leadfollow.models.rollup import ROLLUP_CLASSES

__all__ = [
    "COUNT_COLUMNS",
    "UnknownZone",
    "built_zone",
    "check",
    "compact",
    "install",
    "read",
    "rebuild",
    "usable",
]

TABLE = ResponseRollup._meta.db_table
#: The summed columns, in the model's order.
COUNT_COLUMNS = tuple(
    f.column
    for f in ResponseRollup._meta.concrete_fields
    if f.name not in {"id", "day", "owner", "source", "is_delta"}
)
KEY_COLUMNS = ("day", "owner_id", "source")
MOVE_COLUMNS = ("breaches", "moved_away")
LEAD_COLUMNS = tuple(c for c in COUNT_COLUMNS if c not in MOVE_COLUMNS)
_SUMS = ", ".join(f"sum({c})" for c in COUNT_COLUMNS)
# The contacted buckets' upper bounds, as in metrics._bucket_filters (exact hours: an
# interval of '1 day' would follow the session time zone's DST changes).
_BOUNDS = (("5m", "5 minutes"), ("1h", "1 hour"), ("24h", "24 hours"))
_LOCK_KEY = 0x1EAD_0011  # compaction's advisory lock


def _lead_values() -> dict[str, str]:
    """A lead's contribution per column (over ``k``, its class, and ``o``, its outcome)."""
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
    return values


def _lead_rows(rows: str, zone: str) -> str:
    klass = "CASE WHEN first_contacted_at IS NULL THEN 'uncontacted' "
    klass += " ".join(
        f"WHEN first_contacted_at <= received_at + interval '{bound}' THEN '{key}'"
        for key, bound in _BOUNDS
    )
    klass += " ELSE 'later' END"
    outcome = "CASE status WHEN 'qualified' THEN 'q' WHEN 'disqualified' THEN 'dq' ELSE '' END"
    values = {**_lead_values(), **dict.fromkeys(MOVE_COLUMNS, "0")}
    return (
        f"SELECT (received_at AT TIME ZONE {_quote(zone)})::date AS day, owner_id, source, "
        + ", ".join(f"{values[column]} AS {column}" for column in COUNT_COLUMNS)
        + f" FROM (SELECT *, {klass} AS k, {outcome} AS o FROM ({rows}) AS r) AS c"
    )


#: A move counts as a missed deadline when the sweep made it (metrics._add_breaches: not a
#: manager's escalation), and as "reassigned away" from its rep when it left that rep.
def _breach(row: str = "") -> str:
    return f"({row}reason = 'sla_breach' OR ({row}reason = 'escalation' AND {row}actor_id IS NULL))"


def _away(row: str = "") -> str:
    return (
        f"({row}from_rep_id IS NOT NULL "
        f"AND ({row}to_rep_id IS NULL OR {row}to_rep_id <> {row}from_rep_id))"
    )


def _move_rows(rows: str, zone: str) -> str:
    """A move is filed by the day it happened and the rep it left (source '': the report
    counts moves per source from the Assignment rows themselves)."""
    values = {
        **dict.fromkeys(LEAD_COLUMNS, "0"),
        "breaches": f"CASE WHEN {_breach()} THEN sign ELSE 0 END",
        "moved_away": f"CASE WHEN {_away()} THEN sign ELSE 0 END",
    }
    return (
        f"SELECT (created_at AT TIME ZONE {_quote(zone)})::date AS day, "
        "from_rep_id AS owner_id, ''::varchar AS source, "
        + ", ".join(f"{values[column]} AS {column}" for column in COUNT_COLUMNS)
        + f" FROM ({rows}) AS r"
    )


@dataclass(frozen=True)
class _Source:
    """A table whose rows the rollup counts: its columns a contribution reads, the SELECT
    of its contributions, and which of its rows count at all (the others fire nothing)."""

    table: str
    function: str
    trigger: str  # the triggers' names: <trigger>_insert, _update, _delete
    columns: tuple[str, ...]
    rows: Callable[[str, str], str]  # (relation with ``columns`` and ``sign``, zone) -> SELECT
    counts: Callable[[str], str]  # ("OLD." or "NEW.") -> SQL: that row contributes something
    truncated: str  # what TRUNCATE of the table does to the rollup


SOURCES = (
    _Source(
        "leadfollow_lead",
        "leadfollow_rollup_change",
        "leadfollow_rollup",
        ("received_at", "owner_id", "source", "status", "first_contacted_at", "first_response_due"),
        _lead_rows,
        lambda row: "true",
        # A TRUNCATE of the leads cascades to their moves: nothing is left to count.
        f"DELETE FROM {TABLE}",
    ),
    # Intake rows (most of the table, one per lead) never count: their inserts fire nothing.
    _Source(
        "leadfollow_assignment",
        "leadfollow_rollup_move",
        "leadfollow_rollup_move",
        ("created_at", "from_rep_id", "to_rep_id", "reason", "actor_id"),
        _move_rows,
        lambda row: f"({_breach(row)} OR {_away(row)})",
        f"UPDATE {TABLE} SET breaches = 0, moved_away = 0 WHERE breaches <> 0 OR moved_away <> 0",
    ),
)
_ZONE_FUNCTION = SOURCES[0].function  # its comment names the zone the days are filed in


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns() -> str:
    return ", ".join((*KEY_COLUMNS, "is_delta", *COUNT_COLUMNS))


def _install_sql(zone: str) -> list[str]:
    sql = []
    cols = ", ".join(COUNT_COLUMNS)
    for source in SOURCES:

        def side(record, sign, op, source=source):
            fields = ", ".join(f"{record}.{c} AS {c}" for c in source.columns)
            return f"SELECT {fields}, {sign} AS sign WHERE TG_OP <> '{op}'"

        changes = f"{side('OLD', -1, 'INSERT')} UNION ALL {side('NEW', 1, 'DELETE')}"
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in source.columns)
        new, old = source.counts("NEW."), source.counts("OLD.")
        name, table, trigger = source.function, source.table, source.trigger
        sql += [
            f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO {TABLE} ({_columns()})
                SELECT day, owner_id, source, true, {cols}
                FROM ({source.rows(changes, zone)}) AS rows;
                RETURN NULL;
            END $$""",
            f"COMMENT ON FUNCTION {name}() IS {_quote(zone)}",
            *(
                f"DROP TRIGGER IF EXISTS {trigger}_{op} ON {table}"
                for op in ("insert", "update", "delete", "truncate")
            ),
            f"CREATE TRIGGER {trigger}_insert AFTER INSERT ON {table} FOR EACH ROW "
            f"WHEN ({new}) EXECUTE FUNCTION {name}()",
            f"CREATE TRIGGER {trigger}_update AFTER UPDATE OF {', '.join(source.columns)} "
            f"ON {table} FOR EACH ROW WHEN (({old} OR {new}) AND ({changed})) "
            f"EXECUTE FUNCTION {name}()",
            f"CREATE TRIGGER {trigger}_delete AFTER DELETE ON {table} FOR EACH ROW "
            f"WHEN ({old}) EXECUTE FUNCTION {name}()",
            f"""CREATE OR REPLACE FUNCTION {name}_truncate() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN {source.truncated}; RETURN NULL; END $$""",
            f"CREATE TRIGGER {trigger}_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_truncate()",
        ]
    return sql


def _all_rows(zone: str) -> str:
    """Every contribution of the tables as they are now."""
    return " UNION ALL ".join(
        source.rows(f"SELECT {', '.join(source.columns)}, 1 AS sign FROM {source.table}", zone)
        for source in SOURCES
    )


def _fill_sql(zone: str) -> str:
    return (
        f"INSERT INTO {TABLE} ({_columns()}) SELECT day, owner_id, source, false, {_SUMS} "
        f"FROM ({_all_rows(zone)}) AS rows GROUP BY day, owner_id, source"
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
    the rows written. Holds SHARE locks on the lead and assignment tables meanwhile
    (writers wait, readers do not), so nothing changes between the count and the new
    triggers. The rollup is truncated, not deleted from, so its table is written anew at
    its compact size (after a bulk import, compaction leaves the differences' space behind:
    a year's sums read from a table with 1M dead rows took 49 ms instead of 13).

    Raises :class:`UnknownZone`, changing nothing, when PostgreSQL does not know the site
    zone: triggers filing by it would make every write of a lead fail."""
    if not _postgres(using):
        return 0
    connection = connections[using]
    zone = site_zone_name()
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = %s)", [zone])
        if not cursor.fetchone()[0]:
            raise UnknownZone(
                f"PostgreSQL does not know the time zone {zone!r} (LEADFOLLOW['TIME_ZONE']): "
                "the rollup is left as it was and the report counts the leads."
            )
        tables = ", ".join(source.table for source in SOURCES)
        cursor.execute(f"LOCK TABLE {tables} IN SHARE MODE")
        install(connection, zone)
        cursor.execute(f"TRUNCATE {TABLE}")
        cursor.execute(_fill_sql(zone))
        return cursor.rowcount


class UnknownZone(ValueError):
    """The site's time zone is not in PostgreSQL's time zone database."""


def compact(using: str = "default") -> int:
    """Collapse each key with differences into one row (sums unchanged); returns the keys
    collapsed. A second compaction running at the same time does nothing."""
    if not _postgres(using):
        return 0
    keys = "day, coalesce(owner_id, 0), source"
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return 0
        # A key whose sums are all zero holds no lead (each lead counts once in
        # "received") and no move: it is dropped.
        cursor.execute(
            f"""WITH touched AS (SELECT DISTINCT {keys} FROM {TABLE} WHERE is_delta),
            gone AS (
                DELETE FROM {TABLE} WHERE ({keys}) IN (SELECT * FROM touched) RETURNING *
            )
            INSERT INTO {TABLE} ({_columns()})
            SELECT day, owner_id, source, false, {_SUMS} FROM gone
            GROUP BY day, owner_id, source
            HAVING sum(received) <> 0 OR sum(breaches) <> 0 OR sum(moved_away) <> 0"""
        )
        return cursor.rowcount


def built_zone(using: str = "default") -> str | None:
    """The time zone the triggers file days in (None: no rollup on this database)."""
    if not _postgres(using):
        return None
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT obj_description(to_regproc(%s), 'pg_proc')", [_ZONE_FUNCTION])
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
    """The rollup's sums: per (owner_id, source) and per day; the leads' columns only for
    the days up to ``leads_until``, the moves' for the whole range."""

    groups: dict[tuple, dict[str, int]]
    days: dict[date, dict[str, int]]


def read(
    first: date,
    last: date,
    *,
    leads_until: date | None = None,
    owner_id=None,
    source: str | None = None,
    using: str = "default",
) -> Rolled:
    """Sums of the days ``first``…``last`` (both included), per (owner, source) and per day,
    in one pass (``GROUPING SETS``). The leads' columns stop at ``leads_until`` (default:
    ``last``), so the report can count the newest days from the leads themselves."""
    where, params = ["day >= %s", "day <= %s"], [first, last]
    if owner_id is not None:
        where.append("owner_id = %s")
        params.append(owner_id)
    if source:
        where.append("source = %s")
        params.append(source)
    sums = ", ".join(
        f"sum({c}) FILTER (WHERE day <= %s)" if c in LEAD_COLUMNS else f"sum({c})"
        for c in COUNT_COLUMNS
    )
    params = [leads_until or last] * len(LEAD_COLUMNS) + params
    sql = (
        f"SELECT GROUPING(day), day, owner_id, source, {sums} FROM {TABLE} "
        f"WHERE {' AND '.join(where)} GROUP BY GROUPING SETS ((owner_id, source), (day))"
    )
    groups, days = {}, {}
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        for by_group, day, owner, src, *values in cursor.fetchall():
            counts = dict(zip(COUNT_COLUMNS, (int(v or 0) for v in values), strict=True))
            if not any(counts.values()):
                continue  # everything of the key moved away or was deleted
            if by_group:
                groups[owner, src] = counts
            else:
                days[day] = counts
    return Rolled(groups, days)


def check(using: str = "default") -> list[tuple]:
    """Keys whose rollup sums differ from a count of the leads and moves now: ``(key,
    column, rollup, counted)``; empty when exact (or without a rollup)."""
    if not _postgres(using):
        return []
    zone = built_zone(using)
    if zone is None:
        return [(None, "triggers", None, None)]
    sql = f"""
        WITH stored AS (
            SELECT day, owner_id, source, {_SUMS} FROM {TABLE} GROUP BY day, owner_id, source
        ), counted AS (
            SELECT day, owner_id, source, {_SUMS} FROM ({_all_rows(zone)}) AS c
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
