"""Random sequences of what people and the sweep do to leads, with the lifecycle's
invariants checked after every step (hypothesis' RuleBasedStateMachine).

Steps: intake, the sweep at an advancing clock, hand back, a manager's assignment (to
available and unavailable reps, with and without confirmation), a manager's "next available
rep", logging attempts (also invalid ones), escalation, qualifying, absences starting and
ending, pausing and resuming, a routing rule changing.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from leadfollow import availability, interventions, ownership
from leadfollow.intake import create_lead
from leadfollow.models import (
    Absence,
    Assignment,
    AssignmentReason,
    ContactAttempt,
    Lead,
    RepProfile,
    RoutingRule,
)
from leadfollow.routing import pick_rep
from leadfollow.sweep import reassign_overdue
from tests.factories import ManagerFactory, RepFactory

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN)
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CAPACITY = 3
# Rows that leadfollow decides (routing's choice), not a manager's explicit pick.
ROUTED = {
    AssignmentReason.INTAKE,
    AssignmentReason.SLA_BREACH,
    AssignmentReason.REP_UNAVAILABLE,
    AssignmentReason.HANDED_BACK,
}
LIFECYCLE = {
    "TIME_ZONE": "Europe/Berlin",
    "FIRST_RESPONSE_SLA_MINUTES": 30,
    "REASSIGNMENT_SLA_MINUTES": 20,
    "MAX_MISSES": 3,
    "PAUSE_AFTER_MISSES": 3,
    "PAUSE_WINDOW_HOURS": 2,
    "NOTIFY_ON_ASSIGNMENT": False,
}


class LeadLifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        for model in (ContactAttempt, Lead, Absence, RoutingRule, RepProfile):
            model.objects.all().delete()
        get_user_model().objects.all().delete()
        self.clock = START
        self.traveller = time_machine.travel(self.clock, tick=False)
        self.coordinates = self.traveller.start()
        self.reps = [RepFactory(working_hours=ALWAYS, capacity=CAPACITY) for _ in range(3)]
        self.manager = ManagerFactory()
        self.paused: dict[int, list[tuple[datetime, datetime | None]]] = {}
        self.emails = 0
        self.checked_pk = 0
        self.spans_before: dict = {}
        self.rule_reps: set[int] | None = None  # while the routing rule is on: its reps

    def teardown(self):
        self.traveller.stop()

    # --- helpers ---------------------------------------------------------------------------

    def _open_leads(self) -> list[Lead]:
        return list(Lead.objects.open().order_by("pk"))

    def _pick(self, leads: list, index: int):
        return leads[index % len(leads)] if leads else None

    def _rep(self, index: int) -> RepProfile:
        return RepProfile.objects.get(pk=self.reps[index % len(self.reps)].pk)

    @staticmethod
    def _paused_at(user_id: int, at: datetime, spans: dict) -> bool:
        return any(
            start <= at and (end is None or at < end) for start, end in spans.get(user_id, [])
        )

    # --- rules -----------------------------------------------------------------------------

    @initialize(count=st.integers(1, 4))
    def leads_waiting(self, count):
        """Start with work to do: the interesting steps need leads."""
        for _ in range(count):
            self.intake()

    @rule()
    def intake(self):
        self.emails += 1
        create_lead({"name": f"Lead {self.emails}", "email": f"l{self.emails}@example.org"})

    @rule(minutes=st.integers(min_value=1, max_value=45))
    def sweep_later(self, minutes):
        self.clock += timedelta(minutes=minutes)
        self.coordinates.move_to(self.clock)
        before = dict(RepProfile.objects.values_list("user_id", "paused_at"))
        reassign_overdue(self.clock)
        for user_id, paused_at in RepProfile.objects.values_list("user_id", "paused_at"):
            if paused_at is not None and before.get(user_id) is None:
                self.paused.setdefault(user_id, []).append((paused_at, None))

    @rule(index=st.integers(0, 50))
    def hand_back(self, index):
        lead = self._pick([x for x in self._open_leads() if x.owner_id], index)
        if lead is not None:
            rep_id = lead.owner_id
            ownership.hand_back(lead, actor=lead.owner, note="wrong territory")
            assert Lead.objects.get(pk=lead.pk).owner_id != rep_id

    @rule(index=st.integers(0, 50), rep=st.integers(0, 2), confirm=st.booleans())
    def manager_assigns(self, index, rep, confirm):
        lead = self._pick(self._open_leads(), index)
        if lead is None:
            return
        profile = self._rep(rep)
        reasons = ownership.unavailability(profile, self.clock)
        unchanged = lead.owner_id == profile.user_id and lead.escalated_at is None
        try:
            row = ownership.assign_by_manager(
                lead, profile, actor=self.manager, confirm_unavailable=confirm
            )
        except ownership.RepUnavailable:
            assert reasons and not confirm and not unchanged
        else:
            assert (row is None) == unchanged
            assert confirm or not reasons or unchanged

    @rule(index=st.integers(0, 50))
    def manager_reassigns_to_next(self, index):
        # The cold list's action: on a cold lead when there is one.
        lead = self._pick(list(Lead.objects.cold(self.clock).order_by("pk")), index)
        lead = lead or self._pick(self._open_leads(), index)
        if lead is None:
            return
        # Read from the history itself, not through ownership.passed_over().
        taken_from = Assignment.objects.filter(lead=lead, from_rep__isnull=False)
        missed = set(
            taken_from.filter(reason=AssignmentReason.SLA_BREACH).values_list("from_rep", flat=True)
        )
        handed_back = taken_from.filter(reason=AssignmentReason.HANDED_BACK)
        keep_off = {
            *handed_back.values_list("from_rep", flat=True),
            *([lead.owner_id] if lead.owner_id else []),
        }
        # Routing's answer before the step: could someone who never missed it take it?
        fresh = pick_rep(self.clock, exclude_user_ids=keep_off | missed, lead=lead)
        result = interventions.reassign_to_next([lead.pk], actor=self.manager, now=self.clock)
        owner_id = Lead.objects.get(pk=lead.pk).owner_id
        if result.changed:
            assert owner_id not in keep_off
            assert fresh is None or owner_id not in missed, (lead.pk, owner_id)
            assert self.rule_reps is None or owner_id in self.rule_reps
        else:
            assert owner_id == lead.owner_id

    @rule(reps=st.sets(st.integers(0, 2), max_size=2), active=st.booleans())
    def routing_rule_changes(self, reps, active):
        """One rule for every lead: only these reps (no fallback), or switched off."""
        rule, _ = RoutingRule.objects.update_or_create(
            name="machine", defaults={"active": active, "fallback_to_all": False}
        )
        rule.reps.set([self.reps[i] for i in reps])
        self.rule_reps = {self.reps[i].user_id for i in reps} if active else None

    @rule(index=st.integers(0, 50), offset=st.integers(-300, 30))
    def log_attempt(self, index, offset):
        lead = self._pick(self._open_leads(), index)
        if lead is None:
            return
        at = self.clock + timedelta(minutes=offset)
        valid = lead.received_at <= at <= self.clock + ownership.FUTURE_TOLERANCE
        rep = lead.owner or self.manager
        try:
            ownership.log_attempt(
                lead, rep=rep, channel="call", outcome="no_answer", attempted_at=at
            )
        except ownership.LifecycleError:
            assert not valid
        else:
            assert valid

    @rule(index=st.integers(0, 50))
    def escalate(self, index):
        lead = self._pick(self._open_leads(), index)
        if lead is not None:
            interventions.escalate([lead.pk], actor=self.manager, now=self.clock)

    @rule(index=st.integers(0, 50))
    def qualify(self, index):
        lead = self._pick(self._open_leads(), index)
        if lead is not None:
            ownership.set_status(lead, "qualified")

    @rule(rep=st.integers(0, 2))
    def absence_starts(self, rep):
        profile = self._rep(rep)
        if not profile.is_absent(self.clock):
            Absence.objects.create(
                rep=profile, starts_at=self.clock, ends_at=self.clock + timedelta(hours=2)
            )

    @rule(rep=st.integers(0, 2))
    def absence_ends(self, rep):
        Absence.objects.filter(
            rep=self._rep(rep), starts_at__lte=self.clock, ends_at__gt=self.clock
        ).update(ends_at=self.clock + timedelta(seconds=1))

    @rule(rep=st.integers(0, 2))
    def pause_self(self, rep):
        profile = self._rep(rep)
        if availability.pause_self(profile, now=self.clock):
            self.paused.setdefault(profile.user_id, []).append((self.clock, profile.paused_until))

    @precondition(lambda self: self.paused)
    @rule(rep=st.integers(0, 2))
    def resume(self, rep):
        profile = self._rep(rep)
        if availability.resume(profile):
            spans = self.paused.get(profile.user_id, [])
            if spans and (spans[-1][1] is None or spans[-1][1] > self.clock):
                spans[-1] = (spans[-1][0], self.clock)

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def assignment_rows_chain_to_the_owner(self):
        owners = dict(Lead.objects.values_list("pk", "owner_id"))
        last: dict[int, int | None] = {}
        for row in Assignment.objects.order_by("pk"):
            if row.lead_id in last:
                assert row.from_rep_id == last[row.lead_id], row
            last[row.lead_id] = row.to_rep_id
        assert set(last) == set(owners)  # every lead has its history
        for lead_id, owner_id in owners.items():
            assert last[lead_id] == owner_id, lead_id

    @invariant()
    def routed_leads_go_to_reps_who_could_take_them(self):
        """Rows written by the last step, against availability as it was before it (with a
        pinned clock a pause or absence starting now shares the timestamp of earlier rows)."""
        new = Assignment.objects.filter(pk__gt=self.checked_pk, reason__in=ROUTED)
        for row in new.filter(to_rep__isnull=False):
            if row.reason == AssignmentReason.HANDED_BACK and row.actor_id == self.manager.pk:
                continue
            absent = Absence.objects.filter(
                rep__user_id=row.to_rep_id,
                starts_at__lte=row.created_at,
                ends_at__gt=row.created_at,
            )
            assert not absent.exists(), row
            assert not self._paused_at(row.to_rep_id, row.created_at, self.spans_before), row
            assert row.to_rep_id != row.from_rep_id, row
            assert self.rule_reps is None or row.to_rep_id in self.rule_reps, row
        self.checked_pk = Assignment.objects.order_by("-pk").values_list("pk", flat=True).first()
        self.checked_pk = self.checked_pk or 0
        self.spans_before = {k: list(v) for k, v in self.paused.items()}

    @invariant()
    def every_move_off_a_rep_is_counted(self):
        """``reassignment_count`` covers every breach and hand-back row that names the rep
        the lead left: ``ownership.passed_over`` reads the history only of leads above 0."""
        moves = (
            Assignment.objects.filter(
                reason__in=[AssignmentReason.SLA_BREACH, AssignmentReason.HANDED_BACK],
                from_rep__isnull=False,
            )
            .values("lead_id")
            .annotate(n=Count("pk"))
            .values_list("lead_id", "n")
        )
        counts = dict(Lead.objects.values_list("pk", "reassignment_count"))
        for lead_id, n in moves:
            assert counts[lead_id] >= n, lead_id

    @invariant()
    def a_rep_who_handed_a_lead_back_never_gets_it_from_leadfollow(self):
        handed = set(
            Assignment.objects.filter(reason=AssignmentReason.HANDED_BACK).values_list(
                "lead_id", "from_rep_id", "pk"
            )
        )
        for lead_id, rep_id, pk in handed:
            later = Assignment.objects.filter(
                lead_id=lead_id, pk__gt=pk, to_rep_id=rep_id, reason__in=ROUTED
            )
            assert not later.exists(), (lead_id, rep_id)

    @invariant()
    def no_rep_over_capacity_by_routing(self):
        manual = Assignment.objects.filter(reason=AssignmentReason.MANUAL)
        picked_by_hand = set(manual.values_list("lead_id", flat=True))
        for profile in RepProfile.objects.all():
            load = (
                Lead.objects.open()
                .uncontacted()
                .filter(owner_id=profile.user_id)
                .exclude(pk__in=picked_by_hand)
                .count()
            )
            assert load <= CAPACITY, profile

    @invariant()
    def first_contact_is_the_earliest_human_attempt(self):
        for lead in Lead.objects.all():
            times = [a.attempted_at for a in lead.attempts.all() if not a.automated]
            assert lead.first_contacted_at == (min(times) if times else None), lead
            assert all(t >= lead.received_at for t in times)

    @invariant()
    def cold_means_open_uncontacted_past_due_not_escalated(self):
        expected = {
            lead.pk
            for lead in Lead.objects.all()
            if lead.is_open
            and lead.first_contacted_at is None
            and lead.escalated_at is None
            and lead.first_response_due is not None
            and lead.first_response_due < self.clock
        }
        assert set(Lead.objects.cold(self.clock).values_list("pk", flat=True)) == expected
        escalated = Lead.objects.escalated()
        assert not escalated.filter(owner__isnull=False).exists()


@pytest.mark.django_db
def test_lead_lifecycle_state_machine():
    from hypothesis.stateful import run_state_machine_as_test

    with override_settings(LEADFOLLOW=LIFECYCLE):
        run_state_machine_as_test(
            LeadLifecycle,
            settings=settings(
                max_examples=12,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
            ),
        )
