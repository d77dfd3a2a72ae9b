"""Rep-facing pages: my queue and the lead page. Thin: rules live in querysets, ``filters``
and ``lead_actions``. Every view runs in the rep's time zone (their profile's, else the site's)
so times shown and typed in forms mean the rep's local time."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import django_filters as filters
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.db.models import Count, Max, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from leadfollow import availability, ownership
from leadfollow.conf import lf_settings
from leadfollow.engagement import explain_engagement
from leadfollow.filters import LeadFilterSet, end_of_day
from leadfollow.forms import AttemptForm, FollowUpForm, HandBackForm, StatusForm
from leadfollow.models import Channel, ContactAttempt, Lead, LeadStatus, Outcome, RepProfile
from leadfollow.models.lead import BREACH_WARNING_MINUTES
from leadfollow.people import is_manager, user_zone
from leadfollow.routing import absent_until, open_loads, unavailability

PAGE_SIZE = 25
LIVE_NEW_LIMIT = 20  # leads named in one poll (the page asks again for the last two minutes)
TIMELINE_LENGTH = 50  # engagement events on the lead page, newest first
RECENT_DAYS = 7
DUE_SOON = timedelta(minutes=BREACH_WARNING_MINUTES)
TABS = {
    "queue": _("Queue"),
    "follow_ups": _("Due follow-ups"),
    "recent": _("Recently contacted"),
}


# ---------------------------------------------------------------------------------------------
# Deadlines as text: the server renders it, static/leadfollow/countdown.js keeps it live.


def countdown_strings() -> dict[str, str]:
    """The phrases the countdown uses, shared with the JavaScript so both say the same."""
    return {
        "due": gettext("due in %(time)s"),
        "overdue": gettext("overdue by %(time)s"),
        "days": gettext("%(days)s d %(hours)s h"),
        "whole_days": gettext("%(days)s d"),
        "hours": gettext("%(hours)s h %(minutes)s min"),
        "whole_hours": gettext("%(hours)s h"),
        "minutes": gettext("%(minutes)s min"),
        "under_a_minute": gettext("less than a minute"),
    }


def countdown_text(deadline: datetime, now: datetime, strings: dict[str, str]) -> str:
    seconds = (deadline - now).total_seconds()
    # Time left rounds up (35 min means "within 35 min"), time overdue rounds down.
    minutes = math.ceil(seconds / 60) if seconds >= 0 else math.floor(-seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        key = "days" if hours else "whole_days"
        span = strings[key] % {"days": days, "hours": hours}
    elif hours:
        key = "hours" if mins else "whole_hours"
        span = strings[key] % {"hours": hours, "minutes": mins}
    elif mins:
        span = strings["minutes"] % {"minutes": mins}
    else:
        span = strings["under_a_minute"]
    return strings["due" if seconds >= 0 else "overdue"] % {"time": span}


@dataclass(frozen=True)
class Deadline:
    at: datetime
    kind: str  # "first_response" or "follow_up"
    label: str
    text: str
    overdue: bool
    due_soon: bool


def deadline_of(lead: Lead, now: datetime, strings: dict[str, str]) -> Deadline | None:
    """What the rep must do next and by when: the first response, else the follow-up."""
    if not lead.is_open:
        return None
    if lead.first_contacted_at is None and lead.first_response_due is not None:
        at, kind, label = lead.first_response_due, "first_response", gettext("First response")
    elif lead.next_follow_up_at is not None:
        at, kind, label = lead.next_follow_up_at, "follow_up", gettext("Follow-up")
    else:
        return None
    return Deadline(
        at=at,
        kind=kind,
        label=label,
        text=countdown_text(at, now, strings),
        overdue=at < now,
        due_soon=now <= at < now + DUE_SOON,
    )


# ---------------------------------------------------------------------------------------------
# Helpers


def in_rep_zone(view):
    """Run the view with the rep's time zone active."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        with timezone.override(user_zone(request.user)):
            return view(request, *args, **kwargs)

    return wrapper


def with_last_attempt(queryset):
    """Annotate the latest attempt's time, channel and outcome (one query for any row count)."""
    latest = ContactAttempt.objects.filter(lead=OuterRef("pk")).order_by("-attempted_at", "-pk")
    return queryset.annotate(
        last_attempt_at=Subquery(latest.values("attempted_at")[:1]),
        last_attempt_channel=Subquery(latest.values("channel")[:1]),
        last_attempt_outcome=Subquery(latest.values("outcome")[:1]),
    )


def _label(choices, value: str | None) -> str:
    try:
        return choices(value).label if value else ""
    except ValueError:
        return value or ""


class AnyYesNo(forms.Select):
    def __init__(self, attrs=None):
        super().__init__(attrs, choices=[("", _("Any")), ("true", _("Yes")), ("false", _("No"))])


class QueueFilterSet(LeadFilterSet):
    """The shared filters, with widgets for the page: check boxes, "any/yes/no" selects."""

    status = filters.MultipleChoiceFilter(
        label=_("Status"),
        choices=LeadStatus.choices,
        distinct=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("overdue", "follow_up_due"):
            self.form.fields[name].widget = AnyYesNo()


# ---------------------------------------------------------------------------------------------
# My queue


def _reps_with_availability(now: datetime) -> list[RepProfile]:
    """The manager's "Queue of" list, each rep with why they get no leads now (absent until
    when, paused, off hours, not accepting, full) in ``unavailable``: two queries."""
    loads = open_loads()
    reps = list(RepProfile.objects.select_related("user").annotate(absent_until=absent_until(now)))
    for profile in reps:
        profile.unavailable = "; ".join(
            unavailability(profile, now, load=loads.get(profile.user_id, 0),
                           absence_ends=profile.absent_until)
        )  # fmt: skip
    return reps


def _queue_owner(request: HttpRequest):
    """Whose queue: your own; a manager may pass ``?rep=<user id>`` or ``?rep=all``."""
    wanted = request.GET.get("rep", "")
    if not is_manager(request.user):
        return request.user.pk
    if wanted == "all":
        return None
    if not wanted:
        return request.user.pk
    # ASCII digits only ("²".isdigit() is true, int("²") fails); larger ids overflow bigint.
    if wanted.isascii() and wanted.isdecimal() and int(wanted) < 2**63:
        return int(wanted)
    # Not silently your own queue: a manager would read it as the rep's.
    raise BadRequest(gettext("rep must be a user id or “all”."))


def _tab_queryset(tab: str, leads, request: HttpRequest, now: datetime):
    if tab == "follow_ups":
        due_by = end_of_day(now, timezone.get_current_timezone())
        return (
            leads.open()
            .filter(next_follow_up_at__lt=due_by)
            .order_by("next_follow_up_at", "-score", "pk")
        )
    if tab == "recent":
        return leads.filter(last_contacted_at__gte=now - timedelta(days=RECENT_DAYS)).order_by(
            "-last_contacted_at", "pk"
        )
    if "status" not in request.GET:  # the queue is open leads unless a status is picked
        leads = leads.open()
    return leads.by_urgency(now)


@login_required
@in_rep_zone
def queue(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    profile = RepProfile.objects.filter(user=request.user).first()
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "queue"
    try:
        owner_id = _queue_owner(request)
    except BadRequest as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    leads = Lead.objects.visible_to(request.user).select_related("owner")
    if owner_id is not None:
        leads = leads.filter(owner_id=owner_id)
    filterset = QueueFilterSet(request.GET or None, queryset=leads, request=request, now=now)
    leads = with_last_attempt(_tab_queryset(tab, filterset.qs, request, now))
    page = Paginator(leads, PAGE_SIZE).get_page(request.GET.get("page"))

    strings = countdown_strings()
    heated_since = now - timedelta(minutes=lf_settings.HEATED_UP_MARK_MINUTES)
    for lead in page:
        lead.deadline = deadline_of(lead, now, strings)
        lead.heated_recently = lead.heated_up_at is not None and lead.heated_up_at >= heated_since
        lead.last_attempt_channel_label = _label(Channel, lead.last_attempt_channel)
        lead.last_attempt_outcome_label = _label(Outcome, lead.last_attempt_outcome)

    manager = is_manager(request.user)
    context = {
        "tab": tab,
        "tabs": TABS,
        "filter": filterset,
        "page_obj": page,
        "leads": page.object_list,
        "now": now,
        "countdown_strings": strings,
        "is_manager": manager,
        "owner_id": owner_id,
        "reps": _reps_with_availability(now) if manager else (),
        "my_profile": profile,
        "paused": profile is not None and profile.is_paused(now),
        "rep_param": request.GET.get("rep", ""),
        "recent_days": RECENT_DAYS,
        "live": live_state(_live_leads(request)),
        "live_poll_ms": int(lf_settings.LIVE_QUEUE_POLL_SECONDS * 1000),
    }
    return render(request, "leadfollow/queue.html", context)


def _live_leads(request: HttpRequest):
    """The open leads the queue page watches: the rep's own, or a manager's pick."""
    owner_id = _queue_owner(request)
    leads = Lead.objects.visible_to(request.user).open()
    return leads.filter(owner_id=owner_id) if owner_id is not None else leads


def live_state(leads) -> dict:
    """How many open leads, and a fingerprint that changes when one arrives, leaves or
    changes (one aggregate query)."""
    stats = leads.aggregate(
        count=Count("pk"), assigned=Max("assigned_at"), updated=Max("updated_at")
    )
    stamps = [stats["assigned"], stats["updated"]]
    fingerprint = ":".join([str(stats["count"]), *(s.isoformat() if s else "-" for s in stamps)])
    return {"count": stats["count"], "fingerprint": fingerprint}


@login_required
def live(request: HttpRequest) -> HttpResponse:
    """The live queue's poll (static/leadfollow/livequeue.js): the open-lead count, the
    fingerprint, and the leads assigned since ``?since=`` (ISO time) for notifications."""
    now = timezone.now()
    try:
        leads = _live_leads(request)
    except BadRequest as error:
        return JsonResponse({"error": str(error)}, status=400)
    new = []
    if since := request.GET.get("since"):
        try:
            since_at = datetime.fromisoformat(since)
        except ValueError:
            return JsonResponse({"error": gettext("since must be an ISO 8601 time.")}, status=400)
        if since_at.tzinfo is None:
            return JsonResponse({"error": gettext("since needs a UTC offset.")}, status=400)
        recent = leads.filter(assigned_at__gt=since_at).order_by("-assigned_at", "-pk")
        new = [
            {"id": pk, "name": name, "url": reverse("leadfollow:lead", args=[pk])}
            for pk, name in recent.values_list("pk", "name")[:LIVE_NEW_LIMIT]
        ]
    response = JsonResponse({**live_state(leads), "now": now.isoformat(), "new": new})
    response["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------------------------------------
# The lead page and its forms (POST, redirect, GET; invalid forms re-render with status 200)


def _visible_lead(request: HttpRequest, pk: int) -> Lead:
    return get_object_or_404(Lead.objects.visible_to(request.user).select_related("owner"), pk=pk)


def _render_lead(request: HttpRequest, lead: Lead, **bound_forms) -> HttpResponse:
    now = timezone.now()
    strings = countdown_strings()
    context = {
        "lead": lead,
        "now": now,
        "deadline": deadline_of(lead, now, strings),
        "countdown_strings": strings,
        "attributes": sorted((lead.attributes or {}).items()),
        "attempts": lead.attempts.select_related("rep"),
        "assignments": lead.assignments.select_related("from_rep", "to_rep", "actor"),
        "submissions": lead.submissions.all(),
        "events": lead.engagement_events.all()[:TIMELINE_LENGTH],
        "engagement": explain_engagement(lead, now),
        "attempt_form": bound_forms.get("attempt_form") or AttemptForm(now=now),
        "follow_up_form": bound_forms.get("follow_up_form")
        or FollowUpForm(now=now, initial={"next_follow_up_at": lead.next_follow_up_at}),
        "status_form": bound_forms.get("status_form")
        or StatusForm(initial={"status": lead.status}),
        "hand_back_form": bound_forms.get("hand_back_form") or HandBackForm(),
    }
    return render(request, "leadfollow/lead_detail.html", context)


@login_required
@in_rep_zone
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_lead(request, _visible_lead(request, pk))


@require_POST
@login_required
@in_rep_zone
def log_attempt(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _visible_lead(request, pk)
    form = AttemptForm(request.POST)
    if not form.is_valid():
        return _render_lead(request, lead, attempt_form=form)
    try:
        ownership.log_attempt(lead, rep=request.user, **form.cleaned_data)
    except ownership.LifecycleError as error:
        form.add_error(None, error)
        return _render_lead(request, lead, attempt_form=form)
    messages.success(request, gettext("Contact attempt logged."))
    return redirect("leadfollow:lead", pk=lead.pk)


@require_POST
@login_required
@in_rep_zone
def set_status(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _visible_lead(request, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _render_lead(request, lead, status_form=form)
    ownership.set_status(lead, form.cleaned_data["status"])
    messages.success(
        request, gettext("Status set to %(status)s.") % {"status": lead.get_status_display()}
    )
    return redirect("leadfollow:lead", pk=lead.pk)


@require_POST
@login_required
@in_rep_zone
def schedule_follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _visible_lead(request, pk)
    form = FollowUpForm(request.POST)
    if not form.is_valid():
        return _render_lead(request, lead, follow_up_form=form)
    ownership.schedule_follow_up(lead, form.cleaned_data["next_follow_up_at"])
    if lead.next_follow_up_at:
        messages.success(request, gettext("Follow-up scheduled."))
    else:
        messages.success(request, gettext("Follow-up cleared."))
    return redirect("leadfollow:lead", pk=lead.pk)


@require_POST
@login_required
@in_rep_zone
def hand_back(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _visible_lead(request, pk)
    form = HandBackForm(request.POST)
    if form.is_valid():
        try:
            row = ownership.hand_back(lead, actor=request.user, note=form.cleaned_data["reason"])
        except ownership.LifecycleError as error:
            form.add_error(None, error)
        else:
            if row.to_rep_id:
                done = gettext("“%(name)s” went to %(rep)s.")
            else:
                done = gettext("“%(name)s” is back in the pool: nobody else can take it now.")
            messages.success(request, done % {"name": lead.name, "rep": row.to_rep})
            return redirect("leadfollow:queue")
    return _render_lead(request, lead, hand_back_form=form)


@require_POST
@login_required
def pause(request: HttpRequest) -> HttpResponse:
    """The rep steps away ("I'm away for an hour"): no new leads until they are back."""
    profile = get_object_or_404(RepProfile, user=request.user)
    if availability.pause_self(profile):
        until = timezone.localtime(profile.paused_until, user_zone(request.user))
        messages.success(
            request,
            gettext("Paused: no new leads until %(until)s.")
            % {"until": date_format(until, "TIME_FORMAT")},
        )
    return redirect("leadfollow:queue")


@require_POST
@login_required
def resume(request: HttpRequest) -> HttpResponse:
    profile = get_object_or_404(RepProfile, user=request.user)
    if availability.resume(profile):
        messages.success(request, gettext("Welcome back: new leads come to you again."))
    return redirect("leadfollow:queue")
