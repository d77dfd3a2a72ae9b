from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from leadfollow.people import is_manager
from leadfollow.urgency import urgency_expression


class LeadStatus(models.TextChoices):
    # A context keeps other apps' catalogs (django-q2 translates "Working") from winning.
    NEW = "new", pgettext_lazy("lead status", "New")
    WORKING = "working", pgettext_lazy("lead status", "Working")
    QUALIFIED = "qualified", pgettext_lazy("lead status", "Qualified")
    DISQUALIFIED = "disqualified", pgettext_lazy("lead status", "Disqualified")


OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.WORKING)
_OPEN = Q(status__in=OPEN_STATUSES)
_UNCONTACTED = Q(first_contacted_at__isnull=True)
_NOT_ESCALATED = Q(escalated_at__isnull=True)

#: The response report's sample for long periods: the leads whose id is a multiple of this
#: (a partial index holds them; changing it needs a migration of that index).
REPORT_SAMPLE_EVERY = 32
#: The sample's condition as the report's query spells it: the index's predicate with the
#: step as a literal (a bound parameter would keep PostgreSQL from proving the partial
#: index applies), ``%%`` being ``%`` once the query's parameters are bound. SQLite has the
#: ``%`` operator built in (MOD() only with its math functions).
REPORT_SAMPLE_SQL = f'("leadfollow_lead"."id" %% {REPORT_SAMPLE_EVERY}) = 0'

#: The columns the response and outcome reports read besides ``received_at``: both report
#: indexes carry them, so their scans are index-only on PostgreSQL.
REPORT_INCLUDE = [
    "first_contacted_at",
    "owner",
    "source",
    "status",
    "decided_at",
    "first_response_due",
    "escalated_at",
]

#: Minutes ahead in which a first-response deadline counts as "about to breach".
BREACH_WARNING_MINUTES = 15


def cold_q(now: datetime) -> Q:
    """The one definition of cold: open, never contacted, past due, not escalated."""
    return _OPEN & _UNCONTACTED & _NOT_ESCALATED & Q(first_response_due__lt=now)


def about_to_breach_q(now: datetime, minutes: int = BREACH_WARNING_MINUTES) -> Q:
    """Not cold yet, but will be within ``minutes`` unless someone calls."""
    soon = now + timedelta(minutes=minutes)
    return (
        _OPEN
        & _UNCONTACTED
        & _NOT_ESCALATED
        & Q(first_response_due__gte=now, first_response_due__lt=soon)
    )


def not_yet_due_q(now: datetime) -> Q:
    """Awaiting a first response whose deadline has not passed: open, never contacted,
    not escalated, due at or after ``now`` (the complement of cold among those)."""
    return _OPEN & _UNCONTACTED & _NOT_ESCALATED & Q(first_response_due__gte=now)


def missed_deadline_q(now: datetime) -> Q:
    """Went cold at some point, by its current deadline: first contacted after it, or not
    contacted yet and past it (whatever the status now). The daily trend's "went cold";
    :func:`cold_q` is the subset that is still open, uncontacted and not escalated."""
    return Q(first_response_due__isnull=False) & (
        Q(first_contacted_at__gt=models.F("first_response_due"))
        | (_UNCONTACTED & Q(first_response_due__lt=now))
    )


class LeadQuerySet(models.QuerySet):
    """The states the rest of leadfollow asks about. Cold is derived, never stored."""

    def open(self) -> LeadQuerySet:
        return self.filter(_OPEN)

    def uncontacted(self) -> LeadQuerySet:
        return self.filter(_UNCONTACTED)

    def cold(self, now: datetime | None = None) -> LeadQuerySet:
        """Open, never contacted, past the first-response deadline and not escalated
        (an escalated lead is the managers' to act on: see ``escalated()``)."""
        return self.filter(cold_q(now or timezone.now()))

    def about_to_breach(
        self, now: datetime | None = None, minutes: int = BREACH_WARNING_MINUTES
    ) -> LeadQuerySet:
        return self.filter(about_to_breach_q(now or timezone.now(), minutes))

    def escalated(self) -> LeadQuerySet:
        """Open, never contacted and handed to the managers: their escalations list."""
        return self.filter(_OPEN, _UNCONTACTED, escalated_at__isnull=False)

    def follow_up_due(self, now: datetime | None = None) -> LeadQuerySet:
        return self.filter(_OPEN, next_follow_up_at__lte=now or timezone.now())

    def overdue(self, now: datetime | None = None) -> LeadQuerySet:
        """Open leads with a missed action: a first-response deadline or a follow-up."""
        now = now or timezone.now()
        return self.filter(cold_q(now) | (_OPEN & Q(next_follow_up_at__lt=now)))

    def by_urgency(self, now: datetime | None = None) -> LeadQuerySet:
        """Most urgent first, in one query, annotating ``breached``, ``awaiting_contact``
        and ``urgency`` (seconds until the lead's effective deadline; see
        ``leadfollow.urgency.urgency_expression``)::

            urgency = (deadline - now) - score * MINUTES_PER_POINT * 60 * 0.5 ** (age / half-life)

        1. missed first-response deadlines (open, never contacted), most overdue first;
        2. other leads awaiting first contact, by urgency: the least time left, brought
           forward by their score, the more so the fresher the lead (interest decays with
           age, half-life ``URGENCY_HALF_LIFE_HOURS``); leads without deadline last;
        3. contacted and closed leads, by the same formula over their next follow-up.

        Ties: the higher score, then the primary key.
        """
        now = now or timezone.now()
        deadline = models.Case(
            models.When(_UNCONTACTED, then=models.F("first_response_due")),
            default=models.F("next_follow_up_at"),
            output_field=models.DateTimeField(),
        )
        return self.annotate(
            # Not "is_cold": an annotation would hide the Lead.is_cold() method.
            breached=models.Case(
                models.When(_OPEN & _UNCONTACTED & Q(first_response_due__lt=now), then=1),
                default=0,
                output_field=models.IntegerField(),
            ),
            awaiting_contact=models.Case(
                models.When(_OPEN & _UNCONTACTED, then=1),
                default=0,
                output_field=models.IntegerField(),
            ),
            urgency=urgency_expression(now, deadline=deadline),
        ).order_by(
            "-breached",
            "-awaiting_contact",
            models.F("urgency").asc(nulls_last=True),
            "-score",
            "pk",
        )

    def for_rep(self, user) -> LeadQuerySet:
        return self.filter(owner=user)

    def visible_to(self, user) -> LeadQuerySet:
        """The one visibility rule: managers see every lead, reps only their own."""
        if not user or not user.is_authenticated:
            return self.none()
        if is_manager(user):
            return self
        return self.for_rep(user)


class Lead(models.Model):
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True, help_text=_("Stored lower-cased."))
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    # With LEADFOLLOW["PHONE_REGION"]: the number could not be read as E.164 and is kept
    # as the lead gave it (leadfollow.phones).
    phone_unparsed = models.BooleanField(_("phone number not understood"), default=False)
    company = models.CharField(_("company"), max_length=200, blank=True)
    message = models.TextField(_("message"), blank=True)
    # No index of its own: equality on source is served by the (source, external_id)
    # unique index, the report by report_idx (a SlugField would add two more to write).
    source = models.SlugField(_("source"), max_length=64, default="web", db_index=False)
    external_id = models.CharField(
        _("external id"),
        max_length=128,
        null=True,
        blank=True,
        help_text=_("The sender's id for this lead; unique per source."),
    )
    attributes = models.JSONField(
        _("attributes"),
        default=dict,
        blank=True,
        help_text=_("Interest signals: pages viewed, company size, budget, UTM tags…"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW
    )
    # Consent given at intake (optional unless LEADFOLLOW["REQUIRE_CONSENT"]): what for, the
    # wording the person agreed to, and when. Not personal data: kept after erasure as proof.
    consent_purpose = models.CharField(_("consent purpose"), max_length=200, blank=True)
    consent_text = models.TextField(_("consent wording"), blank=True)
    consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leadfollow_leads",
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    first_contacted_at = models.DateTimeField(_("first contacted at"), null=True, blank=True)
    last_contacted_at = models.DateTimeField(_("last contacted at"), null=True, blank=True)
    next_follow_up_at = models.DateTimeField(_("next follow-up at"), null=True, blank=True)
    score = models.IntegerField(_("score"), default=0)
    # The part of ``score`` earned by behaviour (engagement events: count rules and the
    # decaying engagement score); leadfollow.engagement keeps both current. Deliberately in
    # no index (nor is heated_up_at): their frequent updates stay HOT (fillfactor 70).
    engagement_score = models.IntegerField(_("engagement score"), default=0, editable=False)
    # When the lead last heated up (an event lifted it across HOT_SCORE_THRESHOLD or by
    # HEATING_UP_JUMP); cleared when it cools down again.
    heated_up_at = models.DateTimeField(_("heated up at"), null=True, blank=True, editable=False)
    reassignment_count = models.PositiveIntegerField(_("reassignments"), default=0)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    # When the lead was qualified or disqualified (cleared on reopening); written only by
    # ownership.set_status. The outcome report's time to qualification.
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Set by leadfollow.privacy.erase(): personal fields were replaced by a tombstone.
    erased_at = models.DateTimeField(_("personal data erased at"), null=True, blank=True)

    objects = LeadQuerySet.as_manager()

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-received_at"]
        permissions = [("manage_leads", _("Can see and manage every rep's leads"))]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="leadfollow_lead_unique_external_id"
            ),
        ]
        indexes = [
            # Rep load (what capacity counts): open, uncontacted leads per owner, counted per
            # rep under the rep's lock at intake. Small: only open uncontacted rows.
            models.Index(
                fields=["owner"],
                condition=Q(first_contacted_at__isnull=True, status__in=["new", "working"]),
                name="leadfollow_lead_load_idx",
            ),
            # The sweep and the cold list: open, uncontacted, by deadline.
            models.Index(
                fields=["first_response_due"],
                condition=Q(first_contacted_at__isnull=True, status__in=["new", "working"]),
                name="leadfollow_lead_cold_idx",
            ),
            # The response report's uncontacted leads whose deadline is still ahead, among
            # the closed ones (the open ones are in the cold index): the few that the
            # rollup's days need counted at the moment of reading (leadfollow.rollups).
            models.Index(
                fields=["first_response_due"],
                condition=Q(first_contacted_at__isnull=True) & ~Q(status__in=["new", "working"]),
                name="leadfollow_lead_closed_due_idx",
            ),
            # A rep's queue and capacity count.
            models.Index(
                fields=["owner", "first_response_due"],
                condition=Q(status__in=["new", "working"]),
                name="leadfollow_lead_rep_open_idx",
            ),
            # A person by address: intake's deduplication (open leads), engagement events
            # and erasure/export requests (any lead; docs/scaling.md, *Which indexes*).
            models.Index(fields=["email"], name="leadfollow_lead_email_idx"),
            # The changelist's order and the response-time and outcome reports' period. On
            # PostgreSQL the reports' aggregates read only these columns, so they are
            # index-only scans (no heap fetch per lead); other databases ignore ``include``.
            models.Index(
                fields=["received_at"],
                include=REPORT_INCLUDE,
                name="leadfollow_lead_report_idx",
            ),
            # The response report's sample of one lead in REPORT_SAMPLE_EVERY, for periods
            # whose exact percentiles would sort every lead (docs/scaling.md, Dashboard).
            models.Index(
                fields=["received_at"],
                include=REPORT_INCLUDE,
                condition=Q(Exact(F("id") % REPORT_SAMPLE_EVERY, 0)),
                name="leadfollow_lead_sample_idx",
            ),
            models.Index(
                fields=["next_follow_up_at"],
                condition=Q(next_follow_up_at__isnull=False, status__in=["new", "working"]),
                name="leadfollow_lead_follow_up_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.source})"

    @classmethod
    def check(cls, **kwargs):
        """Without ``models.W040`` ("SQLite does not support indexes with non-key columns"):
        the report index's ``include`` only makes PostgreSQL's scans index-only; elsewhere
        the same index without it is what is meant, so every ``manage.py`` command on
        SQLite need not say so."""
        return [error for error in super().check(**kwargs) if error.id != "models.W040"]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_cold(self, now: datetime | None = None) -> bool:
        return (
            self.is_open
            and self.first_contacted_at is None
            and self.escalated_at is None
            and self.first_response_due is not None
            and self.first_response_due < (now or timezone.now())
        )


class Submission(models.Model):
    """A repeat form from someone who already has an open lead, attached to that lead."""

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="submissions"
    )
    source = models.SlugField(_("source"), max_length=64)
    external_id = models.CharField(_("external id"), max_length=128, null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    message = models.TextField(_("message"), blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    consent_purpose = models.CharField(_("consent purpose"), max_length=200, blank=True)
    consent_text = models.TextField(_("consent wording"), blank=True)
    consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)

    class Meta:
        verbose_name = _("repeat submission")
        verbose_name_plural = _("repeat submissions")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="leadfollow_submission_unique_external_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead} · {self.received_at:%Y-%m-%d %H:%M}"
