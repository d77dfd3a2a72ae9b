"""The ``/api/metrics/`` response, typed: what :func:`leadfollow.metrics.response_report`
returns, field by field, so the OpenAPI schema documents it (and clients can rely on it).

Times are ISO 8601 in the site time zone (``LEADFOLLOW["TIME_ZONE"]``), whole seconds,
with the offset (``2026-11-23T12:00:00+01:00``); dates are ISO (``2026-11-23``); shares and
rates are fractions 0–1; durations are minutes; ``null`` where there is nothing to measure.
"""

from __future__ import annotations

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from leadfollow import metrics
from leadfollow.outcomes import OUTCOME_KEYS


class SiteDateTimeField(serializers.DateTimeField):
    """A datetime in the site time zone, whole seconds: the one format of leadfollow's
    reports (dashboard, API, CSV exports)."""

    def to_representation(self, value):
        if value is None:
            return None
        return metrics.site_time(value).isoformat()


def _share(help_text=None):
    return serializers.FloatField(allow_null=True, min_value=0, max_value=1, help_text=help_text)


def _minutes(help_text=None):
    return serializers.FloatField(allow_null=True, help_text=help_text)


def _unprefixed(serializer):
    """ "5m" is not a Python name: fields declared as ``_5m`` are named by their key."""
    fields = serializers.Serializer.get_fields(serializer)
    return {name.lstrip("_"): field for name, field in fields.items()}


class MetricsPeriodSerializer(serializers.Serializer):
    start = serializers.DateField(help_text=_("First day, in the site time zone."))
    end = serializers.DateField(help_text=_("Last day, included."))
    time_zone = serializers.CharField(help_text=_("The site time zone (IANA name)."))


class MetricsFiltersSerializer(serializers.Serializer):
    source = serializers.CharField(allow_null=True)
    rep = serializers.IntegerField(allow_null=True)


class MetricsCountsSerializer(serializers.Serializer):
    """Exclusive buckets by clock time to first contact: they add up to ``received``."""

    _5m = serializers.IntegerField(help_text=_("First contact within 5 minutes."))
    _1h = serializers.IntegerField(help_text=_("After 5 minutes, within 1 hour."))
    _24h = serializers.IntegerField(help_text=_("After 1 hour, within 24 hours."))
    later = serializers.IntegerField(help_text=_("After 24 hours."))
    never = serializers.IntegerField(
        help_text=_("Not contacted, received 24 hours ago or more, and past its deadline.")
    )
    waiting = serializers.IntegerField(
        help_text=_(
            "Not contacted, received 24 hours ago or more, but its business-hours deadline "
            "has not passed yet. The research's clock-time 'never' is never + waiting."
        )
    )
    pending = serializers.IntegerField(help_text=_("Not contacted, received under 24 hours ago."))

    get_fields = _unprefixed


class MetricsSharesSerializer(serializers.Serializer):
    """Shares of the decided leads (all but pending)."""

    _5m = _share()
    _1h = _share()
    _24h = _share()
    later = _share()
    never = _share()
    waiting = _share()

    get_fields = _unprefixed


class OutcomeBucketSerializer(serializers.Serializer):
    key = serializers.CharField(help_text=format_lazy(_("One of: {}."), ", ".join(OUTCOME_KEYS)))
    label = serializers.CharField()
    parts = serializers.ListField(
        child=serializers.CharField(), help_text=_("The exclusive buckets this one adds up.")
    )
    leads = serializers.IntegerField()
    decided = serializers.IntegerField(help_text=_("Qualified or disqualified."))
    qualified = serializers.IntegerField()
    undecided = serializers.IntegerField(help_text=_("Still open: counted apart."))
    rate = _share(_("qualified / decided; null without decided leads."))
    rate_low = _share(_("95% Wilson interval, low end."))
    rate_high = _share(_("95% Wilson interval, high end."))
    enough = serializers.BooleanField(
        help_text=_("At least OUTCOME_MIN_DECIDED decided leads: a ratio may be given.")
    )
    ratio = serializers.FloatField(
        allow_null=True,
        help_text=_(
            "The reference bucket's rate divided by this one's: 'contacted within 1 h "
            "qualified N times as often'."
        ),
    )
    ratio_low = serializers.FloatField(allow_null=True, help_text=_("95% Katz interval."))
    ratio_high = serializers.FloatField(allow_null=True)
    ratio_note = serializers.ChoiceField(
        allow_null=True,
        choices=[
            "reference",
            "overlaps_reference",
            "too_few",
            "none_qualified",
            "reference_none_qualified",
        ],
        help_text=_(
            "Why there is no ratio: this is the reference, part of it, too few decided "
            "leads here or in the reference, no qualified lead here, or none in the reference."
        ),
    )
    research_ratio = serializers.FloatField(
        allow_null=True, help_text=_("The research's figure for this bucket (7, 60).")
    )
    median_minutes_to_qualify = _minutes(
        _("Median time from receipt to qualification (overall report only).")
    )


class OutcomesSerializer(serializers.Serializer):
    reference = serializers.CharField()
    min_decided = serializers.IntegerField()
    leads = serializers.IntegerField()
    decided = serializers.IntegerField()
    qualified = serializers.IntegerField()
    undecided = serializers.IntegerField()
    rate = _share()
    rate_low = _share()
    rate_high = _share()
    buckets = OutcomeBucketSerializer(many=True)


class MetricsSummarySerializer(serializers.Serializer):
    received = serializers.IntegerField()
    decided = serializers.IntegerField(help_text=_("All but pending."))
    counts = MetricsCountsSerializer()
    shares = MetricsSharesSerializer()
    within_1h = serializers.IntegerField(help_text=_("5m + 1h."))
    within_1h_share = _share()
    outcomes = OutcomesSerializer()


class MetricsClockSerializer(serializers.Serializer):
    median_minutes = _minutes()
    p90_minutes = _minutes()


class MetricsBusinessSerializer(MetricsClockSerializer):
    measured = serializers.IntegerField()
    sampled = serializers.BooleanField(help_text=_("True: estimated from a random sample."))


class MetricsPercentilesSerializer(serializers.Serializer):
    sampled = serializers.BooleanField(
        help_text=_(
            "True: the clock percentiles (overall, per rep, per source) and the medians to "
            "qualification are estimated from the leads whose id is a multiple of "
            "sample_every, as the period holds more than EXACT_PERCENTILES_UP_TO contacted "
            "leads. The counts and shares are always exact."
        )
    )
    measured = serializers.IntegerField(help_text=_("Contacted leads the percentiles come from."))
    sample_every = serializers.IntegerField(allow_null=True)


class MetricsResearchRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    you = _share()
    count = serializers.IntegerField()
    research = _share()


class MetricsRepRowSerializer(MetricsSummarySerializer):
    rep_id = serializers.IntegerField(allow_null=True, help_text=_("null: leads of nobody."))
    owner_id = serializers.IntegerField(allow_null=True, help_text=_("The same as rep_id."))
    name = serializers.CharField()
    median_minutes = _minutes(_("Clock time to first contact."))
    p90_minutes = _minutes()
    overdue = serializers.IntegerField(help_text=_("Overdue now (any period)."))
    reassigned_away = serializers.IntegerField()


class MetricsSourceRowSerializer(MetricsSummarySerializer):
    source = serializers.CharField()
    median_minutes = _minutes(_("Clock time to first contact."))
    p90_minutes = _minutes()


class MetricsDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    received = serializers.IntegerField()
    decided = serializers.IntegerField()
    within_1h = serializers.IntegerField()
    within_1h_share = _share()
    went_cold = serializers.IntegerField(
        help_text=_("Leads received that day first contacted after their deadline, or not yet.")
    )
    breaches = serializers.IntegerField(
        help_text=_("Missed deadlines that day: the sweep's moves and escalations.")
    )


class MetricsReportSerializer(MetricsSummarySerializer):
    period = MetricsPeriodSerializer()
    now = SiteDateTimeField()
    filters = MetricsFiltersSerializer()
    contacted = serializers.IntegerField()
    clock = MetricsClockSerializer()
    percentiles = MetricsPercentilesSerializer()
    business = MetricsBusinessSerializer()
    research = MetricsResearchRowSerializer(many=True)
    reps = MetricsRepRowSerializer(many=True)
    sources = MetricsSourceRowSerializer(many=True)
    days = MetricsDaySerializer(many=True)
