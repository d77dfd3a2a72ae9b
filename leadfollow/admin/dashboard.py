"""The managers' dashboard: cold leads now and the response-time report, in the admin.

:class:`DashboardViews` is a ModelAdmin mixin (used by the cold-leads admin) that adds
three routes through ``get_urls()``, each wrapped in ``admin_site.admin_view``:

* ``<app>/<model>/dashboard/``            ``admin:leadfollow_dashboard``
* ``<app>/<model>/dashboard/report.csv``  ``admin:leadfollow_dashboard_report_csv``
* ``<app>/<model>/dashboard/cold.csv``    ``admin:leadfollow_dashboard_cold_csv``

Staff with ``leadfollow.manage_leads`` only (403 for other staff). Every figure comes
from :mod:`leadfollow.metrics`; the view only reads the filters and formats.
"""

from __future__ import annotations

import csv
from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadfollow import charts, metrics
from leadfollow.models import Lead
from leadfollow.models.lead import BREACH_WARNING_MINUTES
from leadfollow.people import is_manager

#: Longest period the report accepts (the trend has one point per day).
MAX_PERIOD_DAYS = 366


class DashboardFilterForm(forms.Form):
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    source = forms.SlugField(label=_("Source"), required=False, max_length=64)
    rep = forms.ModelChoiceField(
        label=_("Rep"), required=False, queryset=get_user_model().objects.none()
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        User = get_user_model()
        self.fields["rep"].queryset = User.objects.filter(leadfollow_rep__isnull=False).order_by(
            User.USERNAME_FIELD
        )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The period must end on or after its start."))
            if (end - start).days >= MAX_PERIOD_DAYS:
                raise forms.ValidationError(
                    _("Choose a period of at most %(days)s days."),
                    params={"days": MAX_PERIOD_DAYS},
                )
        return data


#: How the outcome sentences name a bucket: "as often as those {phrase}".
BUCKET_PHRASES = {
    "5m": _("contacted within 5 minutes"),
    "1h": _("contacted after 5 minutes, within 1 hour"),
    "within_1h": _("contacted within 1 hour"),
    "24h": _("contacted after 1 hour, within 24 hours"),
    "later": _("contacted after 24 hours"),
    "never": _("never contacted"),
    "pending": _("not contacted yet"),
}


def _fmt_times(value: float) -> str:
    return f"{value:.0f}×" if value >= 10 else f"{value:.1f}×"


def outcome_sentences(outcome: dict) -> list[dict]:
    """The outcome report read aloud, one sentence per bucket compared with the reference:
    the ratio with its interval and the research's figure, or why there is none."""
    by_key = {b["key"]: b for b in outcome["buckets"]}
    ref = by_key[outcome["reference"]]
    sentences = []
    for b in outcome["buckets"]:
        note = b["ratio_note"]
        if note in ("reference", "overlaps_reference") or b["key"] == "pending":
            continue
        values = {
            "reference": BUCKET_PHRASES[ref["key"]],
            "bucket": BUCKET_PHRASES[b["key"]],
            "n_ref": ref["decided"],
            "n": b["decided"],
            "min": outcome["min_decided"],
        }
        if b["ratio"] is not None:
            values.update(
                ratio=_fmt_times(b["ratio"]),
                low=f"{b['ratio_low']:.1f}",
                high=f"{b['ratio_high']:.1f}",
            )
            text = (
                gettext(
                    "Your leads %(reference)s qualified %(ratio)s as often as those %(bucket)s "
                    "(n = %(n_ref)s and %(n)s; 95%% CI %(low)s–%(high)s)."
                )
                % values
            )
        elif note == "reference_none_qualified":
            text = (
                gettext("Leads %(reference)s: none of %(n_ref)s decided qualified, so no ratio.")
                % values
            )
        elif note == "none_qualified":
            text = (
                gettext("Leads %(bucket)s: none of %(n)s decided qualified, so no ratio.") % values
            )
        else:
            text = (
                gettext(
                    "Leads %(bucket)s: too few decided leads to compare (%(n)s here, %(n_ref)s "
                    "%(reference)s; at least %(min)s each)."
                )
                % values
            )
        research = b["research_ratio"]
        sentences.append(
            {
                "key": b["key"],
                "text": text,
                "research": (
                    gettext("Research: %(ratio)s.") % {"ratio": _fmt_times(research)}
                    if research
                    else ""
                ),
                "has_ratio": b["ratio"] is not None,
            }
        )
    return sentences


def _short(text: str, width: int = 22) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _safe_cell(value):
    """Keep spreadsheet programs from running a lead's name as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _when(value):
    return None if value is None else metrics.site_time(value).isoformat()


class _Echo:
    def write(self, value):
        return value


class DashboardViews:
    """ModelAdmin mixin: the dashboard page and its two CSV exports."""

    dashboard_template = "admin/leadfollow/dashboard.html"
    #: Rows of each cold list shown on the dashboard (the changelist has them all).
    dashboard_cold_rows = 25

    # -- routing and permission ------------------------------------------------------

    def get_dashboard_urls(self):
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(self.dashboard_view), name="leadfollow_dashboard"),
            path(
                "dashboard/report.csv",
                view(self.report_csv_view),
                name="leadfollow_dashboard_report_csv",
            ),
            path(
                "dashboard/cold.csv", view(self.cold_csv_view), name="leadfollow_dashboard_cold_csv"
            ),
        ]

    def has_manage_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_staff and is_manager(user))

    def _check(self, request) -> None:
        if not self.has_manage_permission(request):
            raise PermissionDenied

    def dashboard_leads(self, request):
        """The leads the figures are computed over (managers: all of them)."""
        return Lead.objects.visible_to(request.user)

    # -- the report ------------------------------------------------------------------

    def dashboard_report(self, request, now):
        form = DashboardFilterForm(request.GET or None)
        filters = form.cleaned_data if form.is_valid() else {}
        start, end = filters.get("start"), filters.get("end")
        default_start, default_end = metrics.default_period(now)
        if start and not end:
            end = max(start, default_end)
            end = min(end, start + timedelta(days=MAX_PERIOD_DAYS - 1))
        if end and not start:
            start = end - timedelta(days=metrics.DEFAULT_PERIOD_DAYS - 1)
        report = metrics.response_report(
            self.dashboard_leads(request),
            start or default_start,
            end or default_end,
            now,
            source=filters.get("source") or None,
            rep=filters.get("rep"),
        )
        return form, report

    def dashboard_view(self, request):
        self._check(request)
        now = timezone.now()
        form, report = self.dashboard_report(request, now)
        leads = self.dashboard_leads(request)
        limit = self.dashboard_cold_rows
        cold = list(metrics.cold_now(leads, now)[:limit])
        for lead in cold:
            lead.overdue_minutes = (now - lead.first_response_due).total_seconds() / 60
        soon = list(metrics.about_to_breach(leads, now, BREACH_WARNING_MINUTES)[:limit])
        for lead in soon:
            lead.left_minutes = (lead.first_response_due - now).total_seconds() / 60
        opts = self.model._meta
        query = request.GET.urlencode()
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Cold leads and response times"),
            "opts": opts,
            "app_label": opts.app_label,
            "now": now,
            "form": form,
            "report": report,
            "cold": cold,
            "soon": soon,
            "cold_counts": metrics.cold_summary(leads, now),
            "warning_minutes": BREACH_WARNING_MINUTES,
            "now_text": metrics.site_time(now).strftime("%Y-%m-%d %H:%M"),
            "bucket_rows": self._bucket_rows(report),
            "bucket_chart": self._bucket_chart(report),
            "trend_chart": self._trend_chart(report),
            "outcome_rows": report["outcomes"]["buckets"],
            "outcome_sentences": outcome_sentences(report["outcomes"]),
            "outcome_chart": self._outcome_chart(report),
            "rep_chart": self._group_chart(report["reps"], "name", gettext("Per rep")),
            "source_chart": self._group_chart(report["sources"], "source", gettext("Per source")),
            "cold_trend_chart": self._cold_trend_chart(report),
            "day_rows": self._day_rows(report),
            "query": query,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.dashboard_template, context)

    def _day_rows(self, report):
        """The per-day table's rows, built here: a year is 365 rows of 7 cells, which the
        template engine took ~50 ms to render node by node."""
        return format_html_join(
            "\n",
            '<tr><th scope="row">{}</th><td class="num">{}</td><td class="num">{}</td>'
            '<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>'
            '<td class="num">{}</td></tr>',
            (
                (
                    row["day"].isoformat(),
                    row["received"],
                    row["decided"],
                    row["within_1h"],
                    charts.percent(row["within_1h_share"]),
                    row["went_cold"],
                    row["breaches"],
                )
                for row in report["days"]
            ),
        )

    def _bucket_rows(self, report):
        research = {row["key"]: row["research"] for row in report["research"]}
        rows = []
        for bucket in metrics.BUCKETS:
            rows.append(
                {
                    "key": bucket.key,
                    "label": bucket.label,
                    "count": report["counts"][bucket.key],
                    "share": report["shares"].get(bucket.key),
                    "research": research.get(bucket.key),
                }
            )
        return rows

    def _bucket_chart(self, report):
        bars = [charts.Bar(row["label"], row["you"], row["research"]) for row in report["research"]]
        you = charts.percent(report["within_1h_share"])
        return charts.bar_chart(
            bars,
            title=gettext("Time to first contact: you and the research"),
            desc=gettext(
                "Share of decided leads first contacted within 1 hour (you: %(you)s, research: "
                "37%%), within 1 to 24 hours, after 24 hours and never. "
                "The table below gives every figure."
            )
            % {"you": you},
            you_label=gettext("you"),
            ref_label=gettext("research"),
        )

    def _trend_chart(self, report):
        points = [(row["day"], row["within_1h_share"]) for row in report["days"]]
        return charts.line_chart(
            points,
            title=gettext("Share first contacted within 1 hour, per day"),
            desc=gettext(
                "One point per day of the period, from %(start)s to %(end)s; the dashed line is "
                "the research figure, 37%%. The table below gives every day's figures."
            )
            % {"start": report["period"]["start"], "end": report["period"]["end"]},
            reference=metrics.RESEARCH["within_1h"],
            reference_label=gettext("research 37%"),
        )

    def _outcome_chart(self, report):
        bars = [
            charts.RateBar(
                str(b["label"]),
                b["rate"],
                b["rate_low"],
                b["rate_high"],
                gettext("n = %(n)s") % {"n": b["decided"]},
            )
            for b in report["outcomes"]["buckets"]
        ]
        return charts.rate_chart(
            bars,
            title=gettext("Qualification rate by time to first contact"),
            desc=gettext(
                "Share of decided leads (qualified or disqualified) that qualified, per "
                "bucket of time to first contact, with its 95%% confidence interval as a "
                "whisker; n is the number of decided leads. The table below gives every figure."
            ),
        )

    def _group_chart(self, rows, label_key, title):
        bars = [
            charts.Bar(_short(str(row[label_key] or "–")), row["within_1h_share"])
            for row in rows
            if row["received"]
        ]
        return charts.bar_chart(
            bars,
            title=gettext("%(group)s: share first contacted within 1 hour") % {"group": title},
            desc=gettext(
                "One bar per row of the table beside it: the share of its decided leads first "
                "contacted within 1 hour."
            ),
        )

    def _cold_trend_chart(self, report):
        days = report["days"]
        return charts.count_chart(
            [row["day"] for row in days],
            [
                charts.Series(gettext("went cold"), [row["went_cold"] for row in days], charts.YOU),
                charts.Series(gettext("breaches"), [row["breaches"] for row in days], charts.ALERT),
            ],
            title=gettext("Cold leads and breaches, per day"),
            desc=gettext(
                "Per day of the period: leads received that day that missed their first-"
                "response deadline (went cold), and missed deadlines that day (the sweep's "
                "reassignments and escalations). The table below gives every day's figures."
            ),
        )

    # -- exports ---------------------------------------------------------------------

    def report_csv_view(self, request):
        self._check(request)
        _form, report = self.dashboard_report(request, timezone.now())
        period = report["period"]
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="leadfollow-report-{period["start"]}-{period["end"]}.csv"'
        )
        writer = csv.writer(response)
        for row in metrics.iter_rows(report):
            writer.writerow([_safe_cell(cell) for cell in row])
        return response

    def cold_csv_view(self, request):
        self._check(request)
        now = timezone.now()
        leads = metrics.cold_now(self.dashboard_leads(request), now)
        rows = leads.values_list(
            "pk",
            "name",
            "email",
            "phone",
            "company",
            "source",
            "score",
            "owner__username",
            "received_at",
            "first_response_due",
            "reassignment_count",
            "escalated_at",
        )
        header = [
            "id",
            "name",
            "email",
            "phone",
            "company",
            "source",
            "score",
            "owner",
            "received_at",
            "first_response_due",
            "overdue_minutes",
            "reassignment_count",
            "escalated_at",
        ]

        def lines():
            writer = csv.writer(_Echo())
            yield writer.writerow(header)
            for row in rows.iterator(chunk_size=2000):
                *head, received, due, reassignments, escalated = row
                overdue = round((now - due).total_seconds() / 60, 1)
                # The site's zone and whole seconds, as on the page and in the API.
                cells = [*head, _when(received), _when(due), overdue, reassignments]
                cells.append(_when(escalated))
                yield writer.writerow([_safe_cell(cell) for cell in cells])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="leadfollow-cold-{metrics.site_time(now):%Y-%m-%d-%H%M}.csv"'
        )
        return response
