"""Believable demo data, made through leadfollow's own intake and contact-attempt functions.

Every lead enters through ``create_lead(now=<its arrival>)``, so it is scored, routed and
given a deadline as in production; attempts go through ``record_attempt`` and final
statuses (qualified, disqualified) through ``set_status``, dated like the last attempt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from leadfollow.businesshours import BusinessCalendar, add_business_minutes, is_open, next_opening
from leadfollow.calendars import rep_calendar
from leadfollow.intake import create_lead
from leadfollow.metrics import response_report
from leadfollow.models import (
    Absence,
    Channel,
    ContactAttempt,
    Lead,
    LeadStatus,
    Outcome,
    RepProfile,
    RoutingRule,
    ScoringRule,
)
from leadfollow.ownership import OUTCOME_STATUS, record_attempt, set_status

DEFAULT_SEED = 2026
DEFAULT_LEADS = 300
REP_PASSWORD = "demo"
MANAGER_USERNAME = "manager"
MANAGER_GROUP = "Sales managers"
STAFF_DOMAIN = "demo.leadfollow.invalid"

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# 29 days, so every lead falls in the dashboard's default period ("the last 30 days").
HISTORY = 29 * DAY
# History leads are at least this old, so even the fastest bucket has been contacted by now.
MIN_HISTORY_AGE = 90 * MINUTE


def _weekdays(*windows: tuple[str, str]) -> dict[str, list[list[str]]]:
    return {day: [list(w) for w in windows] for day in ("mon", "tue", "wed", "thu", "fri")}


@dataclass(frozen=True)
class RepSpec:
    username: str
    first_name: str
    last_name: str
    timezone: str
    working_hours: dict
    capacity: int
    weight: int


BERLIN, NEW_YORK, LONDON = "Europe/Berlin", "America/New_York", "Europe/London"
# The on-call desk answers around the clock, so at night and at weekends new leads still get
# a deadline within the hour (not Monday's), and the demo always has leads about to breach
# and going cold.
ALL_WEEK = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
BERLIN_HOURS = _weekdays(("08:00", "17:00"))
BERLIN_HOURS_WITH_LUNCH = _weekdays(("08:00", "12:00"), ("13:00", "17:00"))
NEW_YORK_HOURS = _weekdays(("09:00", "18:00"))
REPS = (
    RepSpec("anna.schmidt", "Anna", "Schmidt", BERLIN, BERLIN_HOURS, 25, 2),
    RepSpec("jonas.weber", "Jonas", "Weber", BERLIN, BERLIN_HOURS_WITH_LUNCH, 20, 1),
    RepSpec("lena.fischer", "Lena", "Fischer", BERLIN, BERLIN_HOURS, 20, 1),
    RepSpec("mike.johnson", "Mike", "Johnson", NEW_YORK, NEW_YORK_HOURS, 25, 2),
    RepSpec("sarah.miller", "Sarah", "Miller", NEW_YORK, NEW_YORK_HOURS, 20, 1),
    RepSpec("david.chen", "David", "Chen", NEW_YORK, NEW_YORK_HOURS, 15, 1),
    RepSpec("sam.okafor", "Sam", "Okafor", LONDON, ALL_WEEK, 30, 1),
)
ON_CALL_REP = "sam.okafor"
#: A lead "arrives" this often while the demo runs (django-q2 schedule "demo.arrivals").
ARRIVAL_EVERY_MINUTES = 5
ABSENT_REP = "lena.fischer"  # on holiday right now
PAUSED_REP = "david.chen"  # stopped taking new leads a while ago
PAUSED_SINCE = 9 * DAY
SICK_LAST_MONTH = "sarah.miller"

# First contact, measured from arrival: within 1 h, 1-24 h, after 24 h, never. The recent
# uncontacted leads come on top; like leadfollow.metrics, they count as pending, not never.
BUCKET_SHARES = {"1h": 0.37, "24h": 0.16, "later": 0.24, "never": 0.23}
# leadfollow.metrics calls a lead "never" contacted only once it is 24 h old.
MIN_AGE = {"1h": 70 * MINUTE, "24h": 2 * HOUR, "later": 26 * HOUR, "never": 25 * HOUR}
# Leads that arrive while someone works are mostly answered fast; the rest wait for morning.
STAFFED_AFFINITY = {"1h": 3.0, "24h": 1.0, "later": 1.0, "never": 1.0}
AFTER_HOURS_AFFINITY = {"1h": 0.2, "24h": 3.0, "later": 1.5, "never": 1.0}

SCORING_RULES = (
    ("Large company", "attributes.company_size", "gte", 200, 20),
    ("Paid ads", "source", "eq", "ads", 10),
    ("Free-mail address", "email_domain", "in", ["gmail.com", "yahoo.com"], -5),
    ("Engaged visitor", "attributes.pages_viewed", "gte", 5, 10),
    ("Budget of 10k or more", "attributes.budget", "gte", 10000, 15),
)

SOURCES = {"web": 45, "ads": 25, "partner": 15, "chat": 15}
EXTERNAL_PREFIX = {"ads": "ADS-", "partner": "PRT-", "chat": "CHAT-"}  # web forms send no id
UTM_SOURCES = {
    "web": (None, "google", "bing", "newsletter"),
    "ads": ("google", "linkedin", "facebook"),
    "partner": ("reseller-nord", "consultancy-east", "marketplace"),
    "chat": ("website-chat",),
}
COMPANY_SIZES = (4, 8, 15, 30, 60, 120, 180, 250, 400, 900, 2500)
BUDGETS = (2000, 5000, 8000, 12000, 20000, 50000)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class Market:
    country: str
    zone: ZoneInfo
    phone: tuple[str, ...]  # country code, then area codes
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    company_names: tuple[str, ...]
    company_kinds: tuple[str, ...]
    messages: tuple[str, ...]


MARKETS = {
    "DE": Market(
        "DE",
        ZoneInfo(BERLIN),
        _words("+49 30 40 89 221 69 711"),
        _words(
            "Lukas Anna Felix Marie Paul Sophie Jonas Laura Tim Julia Max Lea Niklas Eva Jan "
            "Lena Tom Clara Finn Mia Ben Emma Jakob Nina"
        ),
        _words(
            "Müller Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter "
            "Klein Wolf Schröder Neumann Braun Zimmermann Krüger Hartmann Lange"
        ),
        _words("Nordlicht Alpen Rheintal Hansa Spree Isar Elbe Schwarzwald Bodensee Havel"),
        ("Logistik GmbH", "Maschinenbau AG", "Software GmbH", "Bau GmbH", "Medizintechnik GmbH"),
        (
            "Bitte um ein Angebot für 25 Nutzer.",
            "Können wir nächste Woche eine Demo vereinbaren?",
            "Gibt es eine Schnittstelle zu SAP?",
            "Wir suchen eine Lösung für unser Vertriebsteam in München.",
            "",
        ),
    ),
    "US": Market(
        "US",
        ZoneInfo(NEW_YORK),
        _words("+1 212 646 617 415 312 305"),
        _words(
            "James Emily Michael Olivia Daniel Ava Matthew Chloe Ryan Grace Andrew Megan "
            "Ashley Brandon Jessica Kevin Lauren Tyler Hannah Justin Rachel Eric"
        ),
        _words(
            "Smith Johnson Williams Brown Jones Garcia Miller Davis Martinez Wilson Anderson "
            "Taylor Thomas Moore Jackson Lee Thompson White Harris Clark"
        ),
        _words("Bluewater Summit Granite Lakeshore Redwood Harbor Pioneer Keystone Prairie"),
        ("Logistics Inc.", "Health LLC", "Software Inc.", "Manufacturing Co.", "Realty Group"),
        (
            "Could you send pricing for 40 seats?",
            "We'd like a demo for our sales team this week.",
            "Do you integrate with Salesforce?",
            "Looking for a quote for our Boston office.",
            "",
        ),
    ),
}
_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

CALL, EMAIL, SMS, MEETING = Channel.CALL, Channel.EMAIL, Channel.SMS, Channel.MEETING
FIRST_TOUCHES = {
    (CALL, Outcome.NO_ANSWER): 22, (CALL, Outcome.VOICEMAIL): 14, (CALL, Outcome.CONNECTED): 18,
    (CALL, Outcome.CALL_BACK): 8, (CALL, Outcome.DECISION_MAKER): 6, (EMAIL, Outcome.SENT): 20,
    (SMS, Outcome.SENT): 5, (CALL, Outcome.BAD_NUMBER): 3, (CALL, Outcome.NOT_INTERESTED): 4,
}  # fmt: skip
FOLLOW_UPS = {
    (CALL, Outcome.CONNECTED): 22, (CALL, Outcome.NO_ANSWER): 14, (EMAIL, Outcome.SENT): 14,
    (CALL, Outcome.DECISION_MAKER): 12, (CALL, Outcome.MEETING_BOOKED): 12,
    (MEETING, Outcome.DECISION_MAKER): 6, (CALL, Outcome.NOT_INTERESTED): 8,
    (CALL, Outcome.CALL_BACK): 8,
}  # fmt: skip
CONCLUSIVE = {Outcome.BAD_NUMBER, Outcome.NOT_INTERESTED, Outcome.MEETING_BOOKED}
# What a phone outcome becomes when the lead left no number and gets e-mails instead.
NO_REPLY = {Outcome.NO_ANSWER, Outcome.VOICEMAIL, Outcome.CALL_BACK, Outcome.BAD_NUMBER}
WON_CHANCE = {Outcome.MEETING_BOOKED: 0.8, Outcome.DECISION_MAKER: 0.5, Outcome.CONNECTED: 0.25}
NOTES = {
    Outcome.CONNECTED: ("Interested, wants pricing by e-mail.", "Asked for a team demo."),
    Outcome.CALL_BACK: ("Call back after 3 pm.", "In a meeting, call back tomorrow."),
    Outcome.MEETING_BOOKED: ("Demo booked with the head of sales.",),
    Outcome.NOT_INTERESTED: ("Already signed with a competitor.", "Only collecting quotes."),
    Outcome.BAD_NUMBER: ("Number not in service.",),
    Outcome.VOICEMAIL: ("Left a voicemail with my direct line.",),
    Outcome.DECISION_MAKER: ("Spoke to the managing director; budget planned for Q3.",),
}


@dataclass
class PlannedLead:
    received_at: datetime
    market: str
    recent: bool = False  # uncontacted on purpose: cold now, or still within its deadline
    web_form: bool = False  # part of the pipeline: a web-form lead
    bucket: str = "never"
    data: dict = field(default_factory=dict)


def seed_demo(
    *,
    leads: int = DEFAULT_LEADS,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    now: datetime | None = None,
) -> str:
    """Create the demo team, scoring rules and a month of leads; return a one-line summary.

    Does nothing when the demo reps already exist, unless ``reset`` wipes leadfollow first.
    """
    now = now or timezone.now()
    rng = random.Random(seed)
    # Seeding assigns hundreds of leads: without this, each would queue a notification task.
    quiet = {
        **getattr(settings, "LEADFOLLOW", {}),
        "NOTIFY_ON_ASSIGNMENT": False,
        "FIRST_TOUCH_EMAIL": False,
    }
    with override_settings(LEADFOLLOW=quiet), transaction.atomic():
        if reset:
            wipe()
        elif already_seeded():
            return "Demo data already present; run seed_demo --reset to start over."
        calendars = _create_team(now)
        _create_scoring_rules()
        _create_routing_rules()
        plans = _plan_leads(rng, leads, now, list(calendars.values()))
        paused = False
        for plan in plans:
            if not paused and plan.received_at >= now - PAUSED_SINCE:
                paused = _pause_rep()
            lead = create_lead(plan.data, now=plan.received_at).lead
            if plan.bucket != "never":
                _work_lead(rng, lead, plan, now, calendars)
            elif not plan.recent:
                # Junk and no-shows: closed without contact, so they don't sit cold forever.
                set_status(lead, LeadStatus.DISQUALIFIED, at=min(now, plan.received_at + DAY))
        if not paused:  # no lead arrived since the pause began
            _pause_rep()
        return summary(now)


def simulate_arrival(now: datetime | None = None) -> int:
    """One new lead through ``create_lead``, as a visitor's form would send it (the demo's
    "demo.arrivals" schedule calls this every ARRIVAL_EVERY_MINUTES): leads keep arriving,
    come due and go cold while the demo runs, whatever the hour. Returns the lead's id."""
    now = now or timezone.now()
    number = Lead.objects.count() + 1
    rng = random.Random(number)
    taken = set(Lead.objects.values_list("email", flat=True))
    market = rng.choices(("DE", "US"), weights=(55, 45))[0]
    data = _lead_data(rng, MARKETS[market], number, taken)
    # The live chat: the on-call desk takes it (routing rule), with the 60-minute SLA.
    data["source"] = "chat"
    data["external_id"] = f"{EXTERNAL_PREFIX['chat']}{now:%Y%m%d%H%M%S}-{number}"
    return create_lead(data, now=now).lead.pk


def ensure_arrivals_schedule() -> None:
    """Create (or update) the demo's "demo.arrivals" schedule; idempotent."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="demo.arrivals",
        defaults={
            "func": "demo_project.seed.simulate_arrival",
            "schedule_type": Schedule.MINUTES,
            "minutes": ARRIVAL_EVERY_MINUTES,
            "repeats": -1,
            "next_run": timezone.now() + ARRIVAL_EVERY_MINUTES * MINUTE,
        },
    )


def already_seeded() -> bool:
    return RepProfile.objects.filter(user__username__in=[r.username for r in REPS]).exists()


def wipe() -> None:
    """Delete every leadfollow row and the demo's users (the admin login is kept)."""
    for model in apps.get_app_config("leadfollow").get_models():
        model._base_manager.all().delete()
    usernames = [MANAGER_USERNAME, *(r.username for r in REPS)]
    get_user_model().objects.filter(username__in=usernames).delete()
    Group.objects.filter(name=MANAGER_GROUP).delete()


def ensure_admin(password: str, username: str = "admin") -> None:
    """Create the superuser login, or reset its password if it exists."""
    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@{STAFF_DOMAIN}"}
    )
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()


def summary(now: datetime) -> str:
    """One line of counts, with the first-contact buckets as the dashboard will show them."""
    report = response_report(now=now)
    counts = report["counts"]
    return (
        f"Seeded {RepProfile.objects.count()} reps, 1 manager, {ScoringRule.objects.count()} "
        f"scoring rules, {report['received']} leads (first contact: {report['within_1h']} "
        f"within 1 h, {counts['24h']} in 1-24 h, {counts['later']} later, {counts['never']} "
        f"never, {counts['pending']} pending; {Lead.objects.cold(now).count()} cold now), "
        f"{ContactAttempt.objects.count()} contact attempts."
    )


def _create_team(now: datetime) -> dict[int, BusinessCalendar]:
    """Reps, their absences and the manager; returns each rep's calendar by user id."""
    User = get_user_model()
    # One hash for everyone: PBKDF2 per user would add seconds to every seed for no gain.
    password = make_password(REP_PASSWORD)
    managers, _ = Group.objects.get_or_create(name=MANAGER_GROUP)
    managers.permissions.set(Permission.objects.filter(content_type__app_label="leadfollow"))
    manager, _ = User.objects.update_or_create(
        username=MANAGER_USERNAME,
        defaults={"first_name": "Petra", "last_name": "Wolf", "is_staff": True,
                  "email": f"{MANAGER_USERNAME}@{STAFF_DOMAIN}", "password": password},
    )  # fmt: skip
    manager.groups.add(managers)
    calendars = {}
    for spec in REPS:
        user = User.objects.create(
            username=spec.username, first_name=spec.first_name, last_name=spec.last_name,
            email=f"{spec.username}@{STAFF_DOMAIN}", password=password,
        )  # fmt: skip
        profile = RepProfile.objects.create(
            user=user, timezone=spec.timezone, working_hours=spec.working_hours,
            capacity=spec.capacity, weight=spec.weight,
        )  # fmt: skip
        calendars[user.pk] = rep_calendar(profile)
        if spec.username == ABSENT_REP:
            start = _local_midnight(now - 2 * DAY, spec.timezone)
            Absence.objects.create(rep=profile, starts_at=start, ends_at=start + 8 * DAY,
                                   reason="Holiday")  # fmt: skip
        elif spec.username == SICK_LAST_MONTH:
            start = _local_midnight(now - 12 * DAY, spec.timezone)
            Absence.objects.create(rep=profile, starts_at=start, ends_at=start + DAY,
                                   reason="Sick leave")  # fmt: skip
    return calendars


def _local_midnight(at: datetime, zone: str) -> datetime:
    return at.astimezone(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)


def _create_routing_rules() -> None:
    """Live chat goes to the on-call desk (which never sleeps), else to anyone."""
    rule = RoutingRule.objects.create(
        name="Live chat → on-call desk", priority=10, sources=["chat"], fallback_to_all=True
    )
    rule.reps.set(RepProfile.objects.filter(user__username=ON_CALL_REP))


def _create_scoring_rules() -> None:
    ScoringRule.objects.bulk_create(
        ScoringRule(name=name, field_path=path, operator=op, value=value, points=points)
        for name, path, op, value, points in SCORING_RULES
    )


def _pause_rep() -> bool:
    RepProfile.objects.filter(user__username=PAUSED_REP).update(accepting_leads=False)
    return True


def _plan_leads(
    rng: random.Random, count: int, now: datetime, calendars: list[BusinessCalendar]
) -> list[PlannedLead]:
    """Arrival, first-contact bucket and form data of every lead, oldest first."""
    recent = _cold_arrivals(rng, now, calendars, min(rng.randint(9, 13), count // 20))
    waiting = min(rng.randint(3, 5), count // 60)
    recent += [now - rng.uniform(1, 25) * MINUTE for _ in range(waiting)]
    # The pipeline: live-chat leads that arrived every ARRIVAL_EVERY_MINUTES over the last hour, so
    # one comes due (and goes cold) every few minutes until the leads that "demo.arrivals"
    # brings take over; the on-call desk is always on duty, whatever the hour.
    pipeline = [
        now - (60 - ARRIVAL_EVERY_MINUTES / 2 - k * ARRIVAL_EVERY_MINUTES) * MINUTE
        for k in range(min(60 // ARRIVAL_EVERY_MINUTES, count // 8))
    ]
    recent += pipeline
    history = count - len(recent)
    remaining = {b: round(history * share) for b, share in BUCKET_SHARES.items() if b != "never"}
    remaining["never"] = history - sum(remaining.values())

    markets = rng.choices(("DE", "US"), weights=(55, 45), k=count)
    plans = [PlannedLead(_arrival(rng, now, m), m) for m in markets[len(recent) :]]
    _assign_buckets(rng, plans, now, remaining, calendars)
    plans += [
        PlannedLead(at, m, recent=True, web_form=at in pipeline)
        for at, m in zip(recent, markets, strict=False)
    ]
    plans.sort(key=lambda p: p.received_at)
    taken: set[str] = set()  # names and e-mail addresses already used
    for number, plan in enumerate(plans, start=1):
        plan.data = _lead_data(rng, MARKETS[plan.market], number, taken)
        if plan.web_form:  # the site's live chat: the on-call desk, the 60-minute SLA
            plan.data["source"] = "chat"
            plan.data["external_id"] = f"{EXTERNAL_PREFIX['chat']}{10000 + number}"
    return plans


def _arrival(rng: random.Random, now: datetime, market: str) -> datetime:
    """A time in the last 30 days, mostly on weekdays during the lead's local office hours."""
    zone = MARKETS[market].zone
    while True:
        at = now - rng.uniform(MIN_HISTORY_AGE / MINUTE, HISTORY / MINUTE) * MINUTE
        local = at.astimezone(zone)
        chance = (0.3 if local.weekday() >= 5 else 1.0) * (1.0 if 8 <= local.hour < 19 else 0.12)
        if rng.random() < chance:
            return at


def _cold_arrivals(
    rng: random.Random, now: datetime, calendars: list[BusinessCalendar], count: int
) -> list[datetime]:
    """The latest arrival times whose deadline has passed by ``now``, for any rep on duty then.

    Walking back from now instead of picking "the last few hours" keeps cold leads cold on a
    Monday morning too: they simply arrived on Friday.
    """
    found: list[datetime] = []
    at = now - 75 * MINUTE
    while len(found) < count and at > now - 7 * DAY:
        on_duty = [cal for cal in calendars if is_open(at, cal)]
        # 60 minutes is the longest SLA in the demo settings; ads get less, so this is safe.
        if on_duty and all(add_business_minutes(at, 60, cal) < now for cal in on_duty):
            found.append(at)
        at -= rng.uniform(15, 60) * MINUTE
    return found


def _assign_buckets(
    rng: random.Random,
    plans: list[PlannedLead],
    now: datetime,
    remaining: dict[str, int],
    calendars: list[BusinessCalendar],
) -> None:
    """Deal out exact bucket counts; youngest leads first, as they have the fewest options."""
    for plan in sorted(plans, key=lambda p: p.received_at, reverse=True):
        age = now - plan.received_at
        staffed = any(is_open(plan.received_at, cal) for cal in calendars)
        affinity = STAFFED_AFFINITY if staffed else AFTER_HOURS_AFFINITY
        options = [b for b, left in remaining.items() if left and age >= MIN_AGE[b]]
        if not options:  # only with a handful of leads: the shares cannot all fit
            continue
        plan.bucket = rng.choices(options, [remaining[b] * affinity[b] for b in options])[0]
        remaining[plan.bucket] -= 1


def _lead_data(rng: random.Random, market: Market, number: int, taken: set[str]) -> dict:
    for _ in range(10):  # a month of leads with four Julia Kleins would look generated
        first, last = rng.choice(market.first_names), rng.choice(market.last_names)
        if f"{first} {last}" not in taken:
            break
    taken.add(f"{first} {last}")
    company = f"{rng.choice(market.company_names)} {rng.choice(market.company_kinds)}"
    if rng.random() < 0.18:
        domain = rng.choice(("gmail.com", "yahoo.com"))
    else:
        # Reserved .example names: the demo never mails a real company.
        domain = f"{company.split()[0].lower()}-{market.country.lower()}.example"
    local = f"{first}.{last}".lower().translate(_TRANSLIT)
    email = f"{local}@{domain}"
    while email in taken:
        email = f"{local}{rng.randint(2, 99)}@{domain}"
    taken.add(email)
    source = rng.choices(list(SOURCES), weights=list(SOURCES.values()))[0]
    data = {
        "name": f"{first} {last}",
        "email": email,
        "company": company,
        "source": source,
        "message": rng.choice(market.messages),
        "attributes": _attributes(rng, source, market),
    }
    if rng.random() < 0.8:
        country, *areas = market.phone
        data["phone"] = f"{country} {rng.choice(areas)} {rng.randint(1000000, 9999999)}"
    if prefix := EXTERNAL_PREFIX.get(source):
        data["external_id"] = f"{prefix}{10000 + number}"
    return data


def _attributes(rng: random.Random, source: str, market: Market) -> dict:
    attributes = {
        "country": market.country,
        "pages_viewed": min(40, int(rng.paretovariate(1.2)) + rng.randint(0, 3)),
        "company_size": rng.choice(COMPANY_SIZES),
    }
    if rng.random() < 0.6:
        attributes["budget"] = rng.choice(BUDGETS)
    if utm_source := rng.choice(UTM_SOURCES[source]):
        attributes["utm_source"] = utm_source
    if source == "ads":
        attributes["utm_campaign"] = rng.choice(("brand", "spring-offer", "retargeting"))
    return attributes


def _work_lead(
    rng: random.Random,
    lead: Lead,
    plan: PlannedLead,
    now: datetime,
    calendars: dict[int, BusinessCalendar],
) -> None:
    """Log the lead's 1-3 contact attempts, then close it if the last one settled it."""
    rep = lead.owner or get_user_model().objects.get(username=REPS[0].username)
    calendar = calendars[rep.pk]
    times = [_first_contact_at(rng, plan, calendar, now)]
    touches = _touches(rng, has_phone=bool(lead.phone))
    for _ in touches[1:]:
        later = _in_hours(rng, times[-1] + rng.uniform(3, 60) * HOUR, calendar)
        if later > now - 5 * MINUTE:
            break
        times.append(later)
    touches = touches[: len(times)]
    status = _final_status(rng, touches[-1][1], now - plan.received_at)
    follow_up = None
    if status == LeadStatus.WORKING and rng.random() < 0.7:
        follow_up = _in_hours(rng, times[-1] + rng.uniform(1, 6) * DAY, calendar)
        if follow_up < now - 4 * DAY:
            # A few recent misses are believable; weeks-old ones would greet the demo with
            # dozens of reminder mails from the sweep. Older leads were rescheduled instead.
            # Four days, not two: on a Monday morning the last two days were a weekend.
            follow_up = _in_hours(rng, now + rng.uniform(0.5, 10) * DAY, calendar)
    for number, ((channel, outcome), at) in enumerate(zip(touches, times, strict=True), 1):
        note = rng.choice(NOTES[outcome]) if outcome in NOTES and rng.random() < 0.6 else ""
        record_attempt(
            lead, rep=rep, channel=channel, outcome=outcome, note=note, attempted_at=at,
            next_follow_up_at=follow_up if number == len(touches) else None,
        )  # fmt: skip
    if status != LeadStatus.WORKING:
        set_status(lead, status, at=times[-1])


def _touches(rng: random.Random, *, has_phone: bool) -> list[tuple[str, str]]:
    wanted = rng.choices((1, 2, 3), weights=(45, 35, 20))[0]
    touches = [_pick(rng, FIRST_TOUCHES)]
    while len(touches) < wanted and touches[-1][1] not in CONCLUSIVE:
        touches.append(_pick(rng, FOLLOW_UPS))
    if not has_phone:
        touches = [
            (ch, out) if ch == MEETING else (EMAIL, Outcome.SENT if out in NO_REPLY else out)
            for ch, out in touches
        ]
    return touches


def _pick(rng: random.Random, weighted: dict) -> tuple[str, str]:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def _first_contact_at(
    rng: random.Random, plan: PlannedLead, calendar: BusinessCalendar, now: datetime
) -> datetime:
    received = plan.received_at
    if plan.bucket == "1h":
        return received + rng.uniform(4, 58) * MINUTE
    if plan.bucket == "24h":
        earliest, latest = received + 61 * MINUTE, received + DAY - 10 * MINUTE
    else:
        earliest, latest = received + DAY + 10 * MINUTE, received + 6 * DAY
    latest = min(latest, now - 5 * MINUTE)
    at = earliest + (latest - earliest) * rng.random()
    during_hours = _in_hours(rng, at, calendar)
    return during_hours if earliest <= during_hours <= latest else at


def _in_hours(rng: random.Random, at: datetime, calendar: BusinessCalendar) -> datetime:
    """Move a time that falls outside the rep's hours to shortly after their next opening."""
    if is_open(at, calendar):
        return at
    opening = next_opening(at, calendar)
    return opening + rng.uniform(5, 90) * MINUTE if opening else at


def _final_status(rng: random.Random, outcome: str, age: timedelta) -> str:
    if outcome in OUTCOME_STATUS:  # the outcomes that close a lead everywhere
        return OUTCOME_STATUS[outcome]
    if outcome == Outcome.BAD_NUMBER:
        return LeadStatus.DISQUALIFIED
    if rng.random() < WON_CHANCE.get(outcome, 0):
        return LeadStatus.QUALIFIED
    if age > 14 * DAY and rng.random() < 0.4:
        return LeadStatus.DISQUALIFIED  # went quiet
    return LeadStatus.WORKING
