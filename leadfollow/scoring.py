"""Scoring: the points a lead earns from the active ScoringRules.

Two evaluators that give the same answers: ``score_lead`` (Python, one lead, at intake) and
``score_expression`` (one SQL expression, used by ``rescore_leads`` to update many leads in
one ``UPDATE`` per batch, on SQLite and PostgreSQL; on PostgreSQL ``PostgreSQLRescore``
builds the same expression over derived columns, each JSON path extracted once per row).

The semantics both follow:

* **Missing**: an absent attributes key, a JSON ``null``, an empty text (attribute or lead
  field) and a path leading through something that is not an object are all *missing*.
  A missing value matches only "does not equal". "is present" matches anything else,
  objects and lists included.
* **Text** comparisons (equals, is one of, contains, starts with) apply to texts only and
  ignore the case of the ASCII letters A-Z; other letters (é, ß, Ä) compare exactly. SQLite's
  ``LOWER`` folds only ASCII, so this is the one rule both databases can keep.
* **Numbers**: a JSON number, or a text that is a plain decimal (``-?digits[.digits]``, at
  most 20 digits each side, no spaces or exponents), compared as double precision floats.
  Numbers at or beyond 1e300 in magnitude are not numbers. A number rule value therefore
  matches ``250`` and ``"250"``; a text rule value (``"250"``) matches only text.
* **Booleans** match only ``true``/``false`` rule values (``true`` is not the number 1).
* **Type mismatches never match**: e.g. "contains" on a number, "greater than" on a text
  that is not a plain decimal, or "equals" between a boolean and a text.
* "does not equal" is exactly the opposite of "equals" — it matches missing values too.
* No regular expressions: Python's ``re`` has no timeout and backtracks catastrophically,
  and PostgreSQL's regex dialect differs from Python's, so the two evaluators could not be
  kept equal. "is one of", "contains" and "starts with" cover what managers ask for.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Expression,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    JSONField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Left, Length, StrIndex
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
)
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from leadfollow import rulecache
from leadfollow.conf import lf_settings
from leadfollow.models import Lead, Operator, ScoringRule
from leadfollow.models.scoring import LEAD_FIELDS, NUMBER_LIMIT, attribute_keys, is_rule_number
from leadfollow.urgency import VendorFunc as _VendorFunc
from leadfollow.urgency import urgency_expression  # noqa: F401  (its home until 0.x)

_MISSING = object()
_LEAD_PATHS = frozenset(LEAD_FIELDS)
_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?", re.ASCII)
# The same pattern for each database's regex engine: Python's "$" also matches before a
# final newline, hence \Z; PostgreSQL's ARE "$" is the end of the string.
_DECIMAL_TEXT_SQL = {
    "sqlite": r"\A-?[0-9]{1,20}(?:\.[0-9]{1,20})?\Z",
    "postgresql": r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$",
}


def fold(text: str) -> str:
    """Lower-case A-Z only: what SQLite's LOWER() does, and what we do on PostgreSQL."""
    return text.translate(_ASCII_FOLD)


def active_rules() -> list[ScoringRule]:
    """The active rules, cached per process (``leadfollow.rulecache``)."""
    return rulecache.cached(
        "scoring", lambda: list(ScoringRule.objects.filter(active=True).order_by("name", "pk"))
    )


# --- Python: one lead ---------------------------------------------------------------------


def lead_value(lead: Lead, path: str) -> Any:
    """The value a rule's field path points at, or a sentinel when missing."""
    if path == "email_domain":
        email = lead.email or ""
        value: Any = email.rpartition("@")[2] if "@" in email else None
    elif path.startswith("attributes."):
        value = lead.attributes
        for key in path.split(".")[1:]:
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
    else:
        value = getattr(lead, path, None)
    return _MISSING if value is None or value == "" else value


def _number(value: Any) -> float | None:
    """The value as a float when it counts as a number (see the module docstring)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) < 10**300 else None
    if isinstance(value, float):
        return value if math.isfinite(value) and abs(value) < NUMBER_LIMIT else None
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        return float(value)
    return None


def _equals(value: Any, target: Any, *, numbers: bool = True) -> bool:
    if isinstance(target, bool):
        return value is target
    if is_rule_number(target):
        number = _number(value) if numbers else None
        return number is not None and number == float(target)
    if isinstance(target, str) and target:
        return isinstance(value, str) and fold(value) == fold(target)
    return False


def rule_matches(rule: ScoringRule, lead: Lead) -> bool:
    value = lead_value(lead, rule.field_path)
    op, target = rule.operator, rule.value
    # Lead fields are text: "250" in company is not a number (attributes' texts may be).
    numbers = rule.field_path not in _LEAD_PATHS
    if op == Operator.EXISTS:
        return value is not _MISSING
    if op == Operator.NOT_EQUALS:
        return not _equals(value, target, numbers=numbers)
    if op == Operator.EQUALS:
        return _equals(value, target, numbers=numbers)
    if op == Operator.IN:
        return isinstance(target, list) and any(_equals(value, t, numbers=numbers) for t in target)
    if op in (Operator.CONTAINS, Operator.STARTS_WITH):
        if not (isinstance(value, str) and isinstance(target, str) and target):
            return False
        if op == Operator.CONTAINS:
            return fold(target) in fold(value)
        return fold(value).startswith(fold(target))
    if op in _COMPARISONS and is_rule_number(target) and numbers:
        number = _number(value)
        return number is not None and _COMPARISONS[op][0](number, float(target))
    return False


def explain_score(
    lead: Lead, rules: Iterable[ScoringRule] | None = None
) -> list[tuple[ScoringRule, int]]:
    """The active rules the lead matches, each with the points it gave (sum = the score).

    Rules carry a ``note`` for reps; rep views and the API show it next to the points.
    """
    rules = active_rules() if rules is None else rules
    return [(rule, rule.points) for rule in rules if rule_matches(rule, lead)]


def score_lead(lead: Lead, rules: Iterable[ScoringRule] | None = None) -> int:
    """The rules' points plus the lead's stored behaviour points (``engagement_score``,
    kept current by ``leadfollow.engagement``)."""
    profile = sum(points for _rule, points in explain_score(lead, rules))
    return profile + (lead.engagement_score or 0)


# --- SQL: many leads ----------------------------------------------------------------------


class _JSONText(_VendorFunc):
    """The text (or, on SQLite, the number) at a path inside a JSON value; NULL if absent.
    No keys: the value itself (rescoring's already extracted ``attributes #> path``)."""

    output_field = TextField()

    def __init__(self, source, keys: Sequence[str], **extra):
        self.keys = list(keys)
        super().__init__(source, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        path = "$" + "".join(f'."{key}"' for key in self.keys)
        return f"JSON_EXTRACT({sql}, %s)", (*params, path)

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        if not self.keys:
            return f"({sql} #>> '{{}}')", params
        return f"({sql} #>> %s)", (*params, self.keys)


class _JSONIs(_VendorFunc):
    """Whether the value at a path is of a kind: text, number, true, false or compound."""

    output_field = BooleanField()
    _SQLITE = {
        "text": "IN ('text')",
        "number": "IN ('integer', 'real')",
        "true": "IN ('true')",
        "false": "IN ('false')",
        "compound": "IN ('array', 'object')",
    }

    def __init__(self, source, keys: Sequence[str], kind: str, **extra):
        self.keys, self.kind = list(keys), kind
        super().__init__(source, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        path = "$" + "".join(f'."{key}"' for key in self.keys)
        return f"(JSON_TYPE({sql}, %s) {self._SQLITE[self.kind]})", (*params, path)

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        value, params = (
            (sql, list(params)) if not self.keys else (f"({sql} #> %s)", [*params, self.keys])
        )
        if self.kind in ("true", "false"):
            return f"({value} = %s::jsonb)", (*params, self.kind)
        kinds = {"text": "('string')", "number": "('number')", "compound": "('array', 'object')"}
        return f"(JSONB_TYPEOF({value}) IN {kinds[self.kind]})", params


class _Fold(_VendorFunc):
    """Lower-case A-Z only, as ``fold()`` does."""

    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"LOWER({sql})", params

    def as_postgresql(self, compiler, connection, **extra):
        # Under the "C" collation LOWER() converts A-Z only (and is 5× faster than TRANSLATE).
        sql, params = compiler.compile(self.source_expressions[0])
        return f'LOWER(({sql}) COLLATE "C")', params


class _IsDecimalText(_VendorFunc):
    output_field = BooleanField()

    def as_sqlite(self, compiler, connection, **extra):
        # Django registers REGEXP (Python's re) on every SQLite connection.
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} REGEXP %s)", (*params, _DECIMAL_TEXT_SQL["sqlite"])

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} ~ %s)", (*params, _DECIMAL_TEXT_SQL["postgresql"])


class _ToFloat(_VendorFunc):
    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST({sql} AS REAL)", params

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST({sql} AS double precision)", params


class _AbsBelowLimit(_VendorFunc):
    """|number| < 1e300, computed without a float cast that could overflow."""

    output_field = BooleanField()

    def as_sqlite(self, compiler, connection, **extra):
        # Not ABS(): SQLite raises "integer overflow" on ABS(-9223372036854775808).
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(({sql}) > -1e300 AND ({sql}) < 1e300)", [*params, *params]

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(ABS(CAST({sql} AS numeric)) < 1e300)", params


def _positive(expression) -> GreaterThan:
    return GreaterThan(expression, Value(0))


@dataclass(frozen=True)
class _Probe:
    """SQL for one field path: its text, whether it is a non-empty text, its number."""

    text: Any
    is_text: Q
    number: Any  # a float expression (NULL when not a number) or None: never a number
    present: Q
    is_true: Q | None = None
    is_false: Q | None = None
    folded: Any = None  # the text with A-Z lower-cased (default: _Fold(text))


def _probe(path: str, *, attributes=None, column=F) -> _Probe:
    """The probe of ``path`` on a lead row (``F`` columns, ``attributes #> keys``), or, with
    ``attributes`` (the jsonb value at the path) and ``column`` (name → expression), on
    rescoring's derived table, where each path was extracted once per row."""
    keys = attribute_keys(path)
    if keys is not None:
        source, keys = (F("attributes"), keys) if attributes is None else (attributes, [])
        text = _JSONText(source, keys)
        is_text = Q(_JSONIs(source, keys, "text")) & Q(_positive(Length(text)))
        # CASE, not AND: PostgreSQL may evaluate AND's operands in any order, and a cast of
        # a non-number would raise.
        number = Case(
            When(
                _JSONIs(source, keys, "number"),
                then=Case(When(_AbsBelowLimit(text), then=_ToFloat(text))),
            ),
            When(
                _JSONIs(source, keys, "text"),
                then=Case(When(_IsDecimalText(text), then=_ToFloat(text))),
            ),
            output_field=FloatField(),
        )
        present = (
            is_text
            | Q(_JSONIs(source, keys, "number"))
            | Q(_JSONIs(source, keys, "true"))
            | Q(_JSONIs(source, keys, "false"))
            | Q(_JSONIs(source, keys, "compound"))
        )
        return _Probe(
            text=text,
            is_text=is_text,
            number=number,
            present=present,
            is_true=Q(_JSONIs(source, keys, "true")),
            is_false=Q(_JSONIs(source, keys, "false")),
            folded=_Fold(text),
        )
    if path == "email_domain":
        email = column("email")
        # After the last "@": RTRIM(email, <every other character>) keeps up to that "@".
        up_to_at = Func(email, Func(email, Value("@"), Value(""), function="REPLACE"),
                        function="RTRIM")  # fmt: skip
        text = Func(email, Length(up_to_at) + 1, function="SUBSTR", output_field=TextField())
        is_text = Q(_positive(StrIndex(email, Value("@")))) & Q(_positive(Length(text)))
        return _Probe(text=text, is_text=is_text, number=None, present=is_text,
                      folded=_Fold(text))  # fmt: skip
    text = column(path)
    is_text = Q(_positive(Length(text)))
    return _Probe(text=text, is_text=is_text, number=None, present=is_text, folded=_Fold(text))


def _equals_condition(probe: _Probe, target: Any) -> Q | None:
    """SQL for ``_equals``; None where it can never be true."""
    if isinstance(target, bool):
        return probe.is_true if target else probe.is_false
    if is_rule_number(target):
        if probe.number is None:
            return None
        return Q(Exact(probe.number, Value(float(target))))
    if isinstance(target, str) and target:
        return probe.is_text & Q(Exact(probe.folded, Value(fold(target))))
    return None


_COMPARISONS = {
    Operator.GT: (float.__gt__, GreaterThan),
    Operator.GTE: (float.__ge__, GreaterThanOrEqual),
    Operator.LT: (float.__lt__, LessThan),
    Operator.LTE: (float.__le__, LessThanOrEqual),
}


def _is_known_path(path: str) -> bool:
    return path in _LEAD_PATHS or attribute_keys(path) is not None


def match_condition(rule: ScoringRule, probe: _Probe | None = None) -> tuple[Q | None, bool]:
    """(condition, negated): the rule matches where the condition is true, or, when
    ``negated``, where it is not true (NULL counts as not true, as in CASE WHEN).
    A None condition is never true. ``probe``: the rule's path, if already built."""
    if not _is_known_path(rule.field_path):
        return None, rule.operator == Operator.NOT_EQUALS
    probe = _probe(rule.field_path) if probe is None else probe
    op, target = rule.operator, rule.value
    if op == Operator.EXISTS:
        return probe.present, False
    if op in (Operator.EQUALS, Operator.NOT_EQUALS):
        return _equals_condition(probe, target), op == Operator.NOT_EQUALS
    if op == Operator.IN:
        if not isinstance(target, list):
            return None, False
        conditions = [c for c in (_equals_condition(probe, t) for t in target) if c is not None]
        if not conditions:
            return None, False
        combined = conditions[0]
        for condition in conditions[1:]:
            combined |= condition
        return combined, False
    if op in (Operator.CONTAINS, Operator.STARTS_WITH):
        if not (isinstance(target, str) and target):
            return None, False
        folded, needle = probe.folded, fold(target)
        if op == Operator.CONTAINS:
            found = _positive(StrIndex(folded, Value(needle)))
        else:
            found = Exact(Left(folded, len(needle)), Value(needle))
        return probe.is_text & Q(found), False
    if op in _COMPARISONS and is_rule_number(target) and probe.number is not None:
        return Q(_COMPARISONS[op][1](probe.number, Value(float(target)))), False
    return None, False


def points_expression(rule: ScoringRule, points: int | None = None, probe: _Probe | None = None):
    """``points`` (default: the rule's) where the rule matches, else 0."""
    points = rule.points if points is None else points
    condition, negated = match_condition(rule, probe)
    if condition is None:
        return Value(points if negated else 0, output_field=IntegerField())
    hit, miss = (0, points) if negated else (points, 0)
    return Case(When(condition, then=Value(hit)), default=Value(miss), output_field=IntegerField())


def score_expression(
    rules: Iterable[ScoringRule], probes: Mapping[str, _Probe] | None = None, engagement=None
):
    """One SQL expression giving each lead's score under ``rules`` (all of them, active
    or not: pass the ones that count) plus its stored behaviour points (``engagement``:
    default the ``engagement_score`` column). ``probes``: {path: probe} built elsewhere
    (rescoring's derived table); by default each rule reads the lead's columns."""
    probes = probes or {}
    cases = [points_expression(rule, probe=probes.get(rule.field_path))
             for rule in rules if rule.points]  # fmt: skip
    cases.append(F("engagement_score") if engagement is None else engagement)
    if len(cases) == 1:
        return ExpressionWrapper(cases[0], output_field=IntegerField())
    # A flat "a + b + c" rather than nested pairs: 50 rules stay one level deep.
    return Func(*cases, template="(%(expressions)s)", arg_joiner=" + ",
                output_field=IntegerField())  # fmt: skip


def rescore_leads(
    queryset: QuerySet[Lead] | None = None,
    *,
    rules: Sequence[ScoringRule] | None = None,
    batch_size: int | None = None,
) -> int:
    """Recompute the score of every lead in ``queryset`` (default: all) in the database,
    ``batch_size`` leads per UPDATE, walking the primary key (each batch starts where the
    last ended: an index range, not a scan of the table). Only rows whose score changes
    are written, so a second run writes nothing and editing one rule rewrites only the
    leads that rule moves. Returns how many scores changed. Safe alongside intake."""
    queryset = (Lead.objects.all() if queryset is None else queryset).order_by()
    batch_size = batch_size or lf_settings.RESCORE_BATCH_SIZE
    rules = active_rules() if rules is None else list(rules)
    rules = [rule for rule in rules if rule.points]
    if connections[queryset.db].vendor == "postgresql":
        definitions = json.dumps([rule_definition(rule) for rule in rules], sort_keys=True)
        update = _rescore_statement(queryset.db, definitions)
    else:
        score = score_expression(rules)

        def update(batch, lower, upper):
            # SQLite: the expression twice (WHERE and SET); simple, and small tables.
            return batch.exclude(score=score).update(score=score)

    changed, last_pk = 0, None
    while True:
        window = queryset if last_pk is None else queryset.filter(pk__gt=last_pk)
        upper = (
            window.order_by("pk").values_list("pk", flat=True)[batch_size - 1 : batch_size].first()
        )
        batch = window if upper is None else window.filter(pk__lte=upper)
        changed += update(batch, last_pk, upper)
        if upper is None:
            return changed
        last_pk = upper


@lru_cache(maxsize=8)
def _rescore_statement(using: str, definitions: str) -> PostgreSQLRescore:
    """Compiled once per set of rules (their definitions as canonical JSON): compiling 50
    rules costs Django ~12 ms, a third of rescoring a site's few thousand open leads."""
    return PostgreSQLRescore(using, [_rule(d) for d in json.loads(definitions)])


class _Ref(Expression):
    """A column of one of rescoring's derived tables."""

    def __init__(self, table: str, column: str, output_field):
        super().__init__(output_field=output_field)
        self.table, self.column = table, column

    def as_sql(self, compiler, connection):
        quote = connection.ops.quote_name
        return f"{quote(self.table)}.{quote(self.column)}", []


class _JSONValue(_VendorFunc):
    """The jsonb value at a path inside ``attributes`` (PostgreSQL only: rescoring)."""

    output_field = JSONField()

    def __init__(self, keys: Sequence[str], **extra):
        self.keys = list(keys)
        super().__init__(F("attributes"), **extra)

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} #> %s)", (*params, self.keys)


class PostgreSQLRescore:
    """Updates one batch's scores in one statement that extracts every JSON path once per
    row, computes the score once per row, and writes only the rows whose score changes::

        UPDATE lead SET score = c.new_score FROM (
          SELECT b.id, <score over b's columns> AS new_score, b.score AS old_score FROM (
            SELECT a.id, a.score, <per path: text, folded text, number, kind> FROM (
              SELECT id, score, <lead columns>, attributes #> '{path}' AS j0, … FROM lead
              WHERE <the batch> OFFSET 0) a
            OFFSET 0) b
          OFFSET 0) c
        WHERE lead.id = c.id AND lead.id > <lower> AND lead.id <= <upper>
          AND c.old_score IS DISTINCT FROM c.new_score

    ``OFFSET 0`` keeps PostgreSQL from flattening a level into the next, which would paste
    each column's expression back into every place that uses it: without it, the score ran
    twice per row (in the join filter and in SET) and ``attributes #> …`` ~188 times for
    50 rules. See bench/bench_scoring.py for the EXPLAIN.
    """

    def __init__(self, using: str, rules: Sequence[ScoringRule]):
        self.using = using
        quote = connections[using].ops.quote_name
        self.table = quote(Lead._meta.db_table)
        paths = sorted({rule.field_path for rule in rules if _is_known_path(rule.field_path)})
        self.columns = sorted({"email" if path == "email_domain" else path
                               for path in paths if path in _LEAD_PATHS})  # fmt: skip
        self.jsonb = {path: f"j{n}" for n, path in enumerate(paths) if path not in _LEAD_PATHS}
        level_b, probes = {}, {}
        for n, path in enumerate(paths):
            columns, probes[path] = self._path_columns(n, path)
            level_b.update(columns)
        score = score_expression(
            rules, probes, engagement=_Ref("b", "engagement_score", IntegerField())
        )
        # Only the columns some rule reads: a text path's number would cost a regex per row.
        used = {node.column for node in score.flatten() if isinstance(node, _Ref)}
        query = Lead.objects.all().query
        compiler = query.get_compiler(using=using)

        def compile_(expression) -> tuple[str, list]:
            resolved = expression.resolve_expression(query, allow_joins=False)
            sql, params = compiler.compile(resolved)
            return sql, list(params)

        # Compiled once, not per batch: 50 rules take Django ~20 ms to compile.
        b_sql, self.b_params = [], []
        for name, expression in level_b.items():
            if name not in used:
                continue
            sql, params = compile_(expression)
            b_sql.append(f"{sql} AS {quote(name)}")
            self.b_params += params
        self.b_sql = ", ".join(b_sql) or "NULL"
        self.score_sql, self.score_params = compile_(score)

    def _path_columns(self, n: int, path: str) -> tuple[dict, _Probe]:
        """Level b's candidate columns for one path, and the probe level c's rules read
        them with."""
        attributes = _Ref("a", self.jsonb[path], JSONField()) if path in self.jsonb else None
        inner = _probe(path, attributes=attributes,
                       column=lambda name: _Ref("a", name, TextField()))  # fmt: skip
        present = Case(When(inner.present, then=Value(True)), default=Value(False),
                       output_field=BooleanField())  # fmt: skip
        columns = {
            # The folded non-empty text, NULL otherwise: "is a text" is "IS NOT NULL" below.
            f"f{n}": Case(When(inner.is_text, then=inner.folded), output_field=TextField()),
            f"p{n}": present,
        }
        folded = _Ref("b", f"f{n}", TextField())
        probe = {
            "text": folded,  # rules compare folded texts only (match_condition)
            "folded": folded,
            "is_text": Q(IsNull(folded, False)),
            "present": Q(_Ref("b", f"p{n}", BooleanField())),
            "number": None,
        }
        if attributes is not None:
            truth = Case(When(inner.is_true, then=Value(True)),
                         When(inner.is_false, then=Value(False)),
                         output_field=BooleanField())  # fmt: skip
            columns.update({f"n{n}": inner.number, f"b{n}": truth})
            boolean = _Ref("b", f"b{n}", BooleanField())
            probe["number"] = _Ref("b", f"n{n}", FloatField())
            probe["is_true"] = Q(Exact(boolean, True))
            probe["is_false"] = Q(Exact(boolean, False))
        return columns, _Probe(**probe)

    def statement(self, batch: QuerySet[Lead], lower=None, upper=None) -> tuple[str, list]:
        """The UPDATE for ``batch``; ``lower`` < id <= ``upper`` bounds the target table
        too, so the join reads that range of the primary key whatever plan it picks."""
        rows = batch.order_by().values("id", "score", "engagement_score", *self.columns)
        rows = rows.annotate(**{name: _JSONValue(attribute_keys(path))
                                for path, name in self.jsonb.items()})  # fmt: skip
        a_sql, a_params = rows.query.sql_with_params()
        table, bounds, bound_params = self.table, "", []
        if lower is not None:
            bounds += f' AND {table}."id" > %s'
            bound_params.append(lower)
        if upper is not None:
            bounds += f' AND {table}."id" <= %s'
            bound_params.append(upper)
        sql = (
            f'UPDATE {table} SET "score" = "c"."new_score" FROM ('
            f'SELECT "b"."id", {self.score_sql} AS "new_score", "b"."score" AS "old_score" '
            f'FROM (SELECT "a"."id", "a"."score", "a"."engagement_score", {self.b_sql} '
            f'FROM ({a_sql} OFFSET 0) AS "a" OFFSET 0) AS "b" OFFSET 0) AS "c" '
            f'WHERE {table}."id" = "c"."id"{bounds} '
            f'AND "c"."old_score" IS DISTINCT FROM "c"."new_score"'
        )
        return sql, [*self.score_params, *self.b_params, *a_params, *bound_params]

    def __call__(self, batch: QuerySet[Lead], lower=None, upper=None) -> int:
        try:
            sql, params = self.statement(batch, lower, upper)
        except EmptyResultSet:  # e.g. filtered by pk__in=[]: nothing to rescore
            return 0
        # The connection of the calling thread: an instance is shared (``_rescore_statement``).
        with transaction.atomic(using=self.using), connections[self.using].cursor() as cursor:
            # A 50-rule expression crosses jit_above_cost, and compiling it costs more per
            # batch (~0.1 s) than it saves.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(sql, params)
            return cursor.rowcount


def rescore_open_leads() -> int:
    return rescore_leads(Lead.objects.open())


def match_counts(rules: Sequence[ScoringRule], queryset: QuerySet[Lead] | None = None) -> dict:
    """{rule pk: how many leads of ``queryset`` (default: open leads) it matches}, in one
    aggregate query whatever the number of rules."""
    if not rules:
        return {}
    queryset = Lead.objects.open() if queryset is None else queryset
    totals = queryset.order_by().aggregate(
        **{f"rule_{rule.pk}": Sum(points_expression(rule, points=1)) for rule in rules}
    )
    return {rule.pk: totals[f"rule_{rule.pk}"] or 0 for rule in rules}


# --- Preview: what a rule change would do ------------------------------------------------

SCORE_BANDS: tuple[tuple[int | None, int | None], ...] = (
    (None, 0),
    (0, 10),
    (10, 25),
    (25, 50),
    (50, 100),
    (100, None),
)


@dataclass
class RulePreview:
    leads: int = 0
    changed: int = 0
    raised: int = 0
    lowered: int = 0
    biggest_rise: int = 0
    biggest_drop: int = 0
    hot_before: int | None = None
    hot_after: int | None = None
    bands: list[dict] = field(default_factory=list)  # label, before, after
    examples: list[dict] = field(default_factory=list)  # lead, before, after


def _band_label(low: int | None, high: int | None) -> str:
    if low is None:
        return f"< {high}"
    if high is None:
        return f"≥ {low}"
    return f"{low}–{high - 1}"


def _in_band(expression_name: str, low: int | None, high: int | None) -> Q:
    q = Q()
    if low is not None:
        q &= Q(**{f"{expression_name}__gte": low})
    if high is not None:
        q &= Q(**{f"{expression_name}__lt": high})
    return q


def preview_rule_change(
    rule: ScoringRule,
    *,
    delete: bool = False,
    queryset: QuerySet[Lead] | None = None,
    examples: int = 10,
) -> RulePreview:
    """How saving (or deleting) ``rule`` — unsaved changes included — would change the
    scores of open leads. Both scores are computed from the rules, not the stored column,
    so a pending rescore does not distort the preview. Two queries."""
    current = active_rules()
    proposed = [r for r in current if rule.pk is None or r.pk != rule.pk]
    if rule.active and not delete:
        proposed.append(rule)
    queryset = (Lead.objects.open() if queryset is None else queryset).order_by()
    annotated = queryset.annotate(
        score_before=score_expression(current), score_after=score_expression(proposed)
    )
    diff = Q(score_after__gt=F("score_before")) | Q(score_after__lt=F("score_before"))
    aggregates = {
        "leads": Count("pk"),
        "changed": Count("pk", filter=diff),
        "raised": Count("pk", filter=Q(score_after__gt=F("score_before"))),
        "lowered": Count("pk", filter=Q(score_after__lt=F("score_before"))),
        "biggest_rise": Max(F("score_after") - F("score_before")),
        "biggest_drop": Min(F("score_after") - F("score_before")),
    }
    for number, (low, high) in enumerate(SCORE_BANDS):
        aggregates[f"before_{number}"] = Count("pk", filter=_in_band("score_before", low, high))
        aggregates[f"after_{number}"] = Count("pk", filter=_in_band("score_after", low, high))
    hot = lf_settings.HOT_SCORE_THRESHOLD
    if hot is not None:
        aggregates["hot_before"] = Count("pk", filter=Q(score_before__gte=hot))
        aggregates["hot_after"] = Count("pk", filter=Q(score_after__gte=hot))
    totals = annotated.aggregate(**aggregates)
    preview = RulePreview(
        leads=totals["leads"],
        changed=totals["changed"],
        raised=totals["raised"],
        lowered=totals["lowered"],
        biggest_rise=max(totals["biggest_rise"] or 0, 0),
        biggest_drop=min(totals["biggest_drop"] or 0, 0),
        hot_before=totals.get("hot_before"),
        hot_after=totals.get("hot_after"),
        bands=[
            {
                "label": _band_label(low, high),
                "before": totals[f"before_{n}"],
                "after": totals[f"after_{n}"],
            }
            for n, (low, high) in enumerate(SCORE_BANDS)
        ],
    )
    if examples and preview.changed:
        for lead in annotated.filter(diff).order_by("-received_at", "-pk")[:examples]:
            preview.examples.append(
                {"lead": lead, "before": lead.score_before, "after": lead.score_after}
            )
    return preview


# --- Urgency ------------------------------------------------------------------------------


# --- Keeping stored scores current -------------------------------------------------------


#: The parts of a rule that decide which leads it gives points to, and how many.
DEFINITION_FIELDS = ("field_path", "operator", "value", "points", "active")
#: Above this many changes in one transaction (an import, a bulk delete), one full
#: rescore is simpler than a filter OR-ing every one of them.
TARGETED_RESCORE_LIMIT = 20

#: A rule's successive definitions: as stored before a transaction changed it (None:
#: created in it), then after each save (None: deleted).
History = Sequence[Mapping | None]


def rule_definition(rule: ScoringRule) -> dict:
    """What a rule scores by, as plain data (a task argument: a manager's setting, never
    a lead's data)."""
    return {name: getattr(rule, name) for name in DEFINITION_FIELDS}


def _rule(definition: Mapping) -> ScoringRule:
    """An unsaved rule scoring by ``definition`` (see :func:`rule_definition`)."""
    return ScoringRule(**{name: definition[name] for name in DEFINITION_FIELDS})


def _points(definition: Mapping | None):
    """The points a definition gives each lead: an int when the same for every lead,
    else the SQL expression of its CASE."""
    if definition is None or not definition["active"] or not definition["points"]:
        return 0
    rule = _rule(definition)
    condition, negated = match_condition(rule)
    if condition is None:
        return rule.points if negated else 0
    return points_expression(rule)


def moved_by(histories: Iterable[History]) -> Q | None:
    """The leads whose score the rule changes in ``histories`` can move: those where two
    consecutive definitions of a rule give different points. Every other lead's score is
    the same before and after. ``None`` means every lead (a definition whose points are
    the same for all leads changed them, or too many changes to OR together);
    ``Q(pk__in=[])`` none.

    Consecutive pairs, not just first and last: if a savepoint rolled back the middle
    save, the rule is at an earlier definition than the last one recorded."""
    pairs = [pair for history in histories for pair in zip(history, history[1:], strict=False)]
    if len(pairs) > TARGETED_RESCORE_LIMIT:
        return None
    combined = Q(pk__in=[])
    for before, after in pairs:
        old, new = _points(before), _points(after)
        if isinstance(old, int) and isinstance(new, int):
            if old != new:
                return None
            continue
        old, new = (Value(v) if isinstance(v, int) else v for v in (old, new))
        combined |= ~Q(Exact(old, new))  # both CASEs are never NULL
    return combined


def rescore_rule_changes(
    histories: Iterable[History],
    *,
    rules: Sequence[ScoringRule] | None = None,
    queryset: QuerySet[Lead] | None = None,
    batch_size: int | None = None,
) -> int:
    """Rescore the open leads rule changes can move (:func:`moved_by`), each from the
    whole active ``rules``: with scores current before the change, the result is a full
    rescore's. Two tasks for two edits in a row, run in either order, cover every lead
    either edit moves, and both compute from the rules as they are when they run."""
    queryset = Lead.objects.open() if queryset is None else queryset
    moved = moved_by(histories)
    if moved is not None:
        queryset = queryset.filter(moved)
    return rescore_leads(queryset, rules=rules, batch_size=batch_size)


class _RescoreAfterCommit:
    """The one rescore task a transaction queues, with every rule change it made."""

    def __init__(self) -> None:
        self.histories: dict[int, list[dict | None]] = {}

    def record(self, pk: int, before: dict | None, after: dict | None) -> None:
        history = self.histories.setdefault(pk, [before])
        if history[-1] != after:
            history.append(after)

    def __call__(self) -> None:
        from leadfollow.jobs import enqueue

        histories = [h for h in self.histories.values() if len(h) > 1]
        if not histories:
            return
        if moved_by(histories) is None:  # every lead (e.g. an import): nothing to pass on
            enqueue("rescore_open_leads")
        else:
            enqueue("rescore_rule_changes", histories)


@receiver(pre_save, sender=ScoringRule, dispatch_uid="leadfollow_rule_saving")
def remember_stored_definition(sender, instance: ScoringRule, raw=False, using="default",
                               **kwargs) -> None:  # fmt: skip
    """Read the rule as stored before it is overwritten: the leads it scored until now
    may need rescoring too (one query per saved rule; rules change rarely)."""
    instance._lf_stored_definition = None
    if not raw and not instance._state.adding and instance.pk is not None:
        stored = ScoringRule.objects.using(using).filter(pk=instance.pk)
        instance._lf_stored_definition = stored.values(*DEFINITION_FIELDS).first()


@receiver(post_save, sender=ScoringRule, dispatch_uid="leadfollow_rule_saved")
@receiver(post_delete, sender=ScoringRule, dispatch_uid="leadfollow_rule_deleted")
def rule_changed(sender, instance: ScoringRule, using: str = "default", **kwargs) -> None:
    """Rescore the open leads the change can move once it is committed: one task per
    transaction, so deleting 30 rules in the admin queues one rescore, not 30."""
    rulecache.invalidate("scoring")
    current = rule_definition(instance)
    if kwargs.get("signal") is post_delete:
        before, after = current, None
    else:
        before, after = getattr(instance, "_lf_stored_definition", None), current
    pending = [entry[1] for entry in getattr(connections[using], "run_on_commit", None) or ()]
    queued = next((task for task in pending if isinstance(task, _RescoreAfterCommit)), None)
    task = queued or _RescoreAfterCommit()
    task.record(instance.pk, before, after)
    if queued is None:  # (outside a transaction the task runs at once: record first)
        transaction.on_commit(task, using=using)
