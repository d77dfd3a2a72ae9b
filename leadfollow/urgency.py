"""How urgent a lead is, as one SQL expression (``Lead.objects.by_urgency`` sorts by it).

A leaf below the models: it reads settings only, so the models can import it.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, FloatField, Func, Value
from django.db.models.functions import Cast, Coalesce, Greatest, Least, Power

from leadfollow.conf import lf_settings


class VendorFunc(Func):
    """A function spelled differently per database; ``as_<vendor>`` builds the SQL."""

    def as_sql(self, compiler, connection, **extra):
        raise NotImplementedError(
            f"leadfollow scoring supports SQLite and PostgreSQL, not {connection.vendor}"
        )


class _EpochSeconds(VendorFunc):
    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores datetimes in SQLite as UTC text that julianday() reads.
        sql, params = compiler.compile(self.source_expressions[0])
        return f"((JULIANDAY({sql}) - 2440587.5) * 86400.0)", params

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST(EXTRACT(EPOCH FROM {sql}) AS double precision)", params


def urgency_expression(now: datetime, *, deadline=None):
    """Seconds until a lead's *effective* deadline; smaller is more urgent (negative: late).

    ``urgency = (deadline − now) − score × MINUTES_PER_POINT × 60 × 0.5^(age / half-life)``

    where ``deadline`` is the first-response deadline (default; pass another expression,
    e.g. the next follow-up, for contacted leads), ``age`` = now − received_at (or the
    later ``heated_up_at``: a lead heating up is as fresh as a new one) in hours
    (0 for leads stamped in the future) and the half-life is
    ``LEADFOLLOW["URGENCY_HALF_LIFE_HOURS"]``. A fresh lead scoring 40 with the default
    0.25 minutes per point sorts as if due 10 minutes earlier; one half-life later, 5.
    The exponent is capped at 64 (PostgreSQL raises on float underflow).
    """
    deadline = F("first_response_due") if deadline is None else deadline
    now_seconds = Value(now.timestamp(), output_field=FloatField())
    half_life_seconds = float(lf_settings.URGENCY_HALF_LIFE_HOURS) * 3600.0
    per_point = float(lf_settings.URGENCY_MINUTES_PER_POINT) * 60.0
    # A lead that heated up (leadfollow.engagement) is fresh again from that moment.
    fresh_since = Coalesce(Greatest(F("received_at"), F("heated_up_at")), F("received_at"))
    age = Greatest(now_seconds - _EpochSeconds(fresh_since), Value(0.0))
    decay = Power(
        Value(0.5), Least(age / Value(half_life_seconds), Value(64.0)), output_field=FloatField()
    )
    bonus = Cast(F("score"), FloatField()) * Value(per_point) * decay
    return _EpochSeconds(deadline) - now_seconds - bonus
