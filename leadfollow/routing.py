"""Who may take a lead now: available reps, a pluggable strategy, routing rules.

Reads only (and holds row locks): ``leadfollow.ownership`` writes the result."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from leadfollow import rulecache
from leadfollow.businesshours import BusinessCalendar, is_open, next_opening
from leadfollow.calendars import rep_calendar
from leadfollow.conf import lf_settings
from leadfollow.models import Absence, Lead, RepProfile, RoutingRule
from leadfollow.models.lead import LeadQuerySet
from leadfollow.prepared import Prepared


@dataclass(frozen=True)
class Candidate:
    profile: RepProfile
    open_load: int
    starts_at: datetime  # now when working, else the start of their next working window
    # Set by strategies that keep a virtual clock (Weighted): the rep's value after this lead.
    routing_pass: float | None = None
    # The rep's business calendar as routing read it: the new deadline is counted in it.
    calendar: BusinessCalendar | None = field(default=None, compare=False, repr=False)


class RoutingStrategy(Protocol):
    """Pick one of ``candidates`` (never empty) for ``lead`` (None when unknown)."""

    def choose(
        self, candidates: Sequence[Candidate], *, lead: Lead | None, now: datetime
    ) -> Candidate | None: ...


def _load_then_round_robin(c: Candidate) -> tuple:
    """``LeastLoaded``'s order: the load, then the rep assigned longest ago; primary key
    last so the order is total. One tuple, no helper call: a sweep sorts every rep for
    every lead."""
    last = c.profile.last_assigned_at
    # Never assigned sorts first; datetimes compare as they are (no timestamp() per call).
    return (c.open_load, last is not None, last, c.profile.pk)


def _round_robin(c: Candidate) -> tuple:
    """The rep assigned longest ago first (``_load_then_round_robin`` without the load)."""
    return _load_then_round_robin(c)[1:]


def _first_to_start(found: Sequence[Candidate]) -> Sequence[Candidate]:
    """Reps working now; when nobody is, those whose hours start first."""
    earliest = min(c.starts_at for c in found)
    if all(c.starts_at == earliest for c in found):
        return found  # everyone is working, the usual case: no copy (a sweep asks per lead)
    return [c for c in found if c.starts_at == earliest]


class LeastLoaded:
    """Fewest open uncontacted leads wins; ties go round-robin.

    A rep back from an absence holds fewer leads, so they receive the next ones until
    level with the team — bounded by the others' load, never a backlog "owed" to them.
    """

    def choose(self, candidates, *, lead=None, now=None):
        return min(_first_to_start(candidates), key=_load_then_round_robin, default=None)


class Weighted:
    """Shares of new leads proportional to ``RepProfile.weight`` (stride scheduling).

    Each rep's ``routing_pass`` advances by 1/weight per lead; the lowest finishing value
    is due next. A rep rejoining the pool (absence, capacity, hours) restarts one stride
    behind the front runner, so they are neither flooded to catch up nor starved.
    """

    def choose(self, candidates, *, lead=None, now=None):
        pool = [c for c in _first_to_start(candidates) if c.profile.weight > 0]
        if not pool:
            return None
        # Active reps' values stay within one stride of each other; one far behind was
        # away (absence, full, off hours) and restarts a stride behind the front runner.
        floor = max(c.profile.routing_pass for c in pool) - max(1 / c.profile.weight for c in pool)

        def finish(c: Candidate) -> float:
            return max(c.profile.routing_pass, floor) + 1 / c.profile.weight

        chosen = min(pool, key=lambda c: (finish(c), *_round_robin(c)))
        return replace(chosen, routing_pass=finish(chosen))


def get_strategy() -> RoutingStrategy:
    """The strategy named by ``LEADFOLLOW["ROUTING_STRATEGY"]`` (a class or an object)."""
    strategy = import_string(lf_settings.ROUTING_STRATEGY)
    return strategy() if isinstance(strategy, type) else strategy


def matching_rule(lead: Lead | None) -> RoutingRule | None:
    """The first active rule (by priority) whose conditions the lead meets."""
    if lead is None:
        return None
    return next((rule for rule in active_routing_rules() if rule.matches(lead)), None)


def active_routing_rules() -> list[RoutingRule]:
    """Active rules by priority with their reps, cached per process (``rulecache``)."""
    return rulecache.cached(
        "routing", lambda: list(RoutingRule.objects.active().prefetch_related("reps"))
    )


def sla_minutes(lead: Lead) -> int:
    """A matching routing rule's SLA, else the source's, else the site's; a hot lead
    (score ≥ HOT_SCORE_THRESHOLD) gets HOT_SLA_MINUTES when that is shorter."""
    rule = matching_rule(lead)
    if rule is not None and rule.sla_minutes:
        minutes = rule.sla_minutes
    else:
        minutes = lf_settings.SLA_MINUTES_BY_SOURCE.get(
            lead.source, lf_settings.FIRST_RESPONSE_SLA_MINUTES
        )
    hot = lf_settings.HOT_SCORE_THRESHOLD
    if hot is not None and lead.score >= hot:
        minutes = min(minutes, lf_settings.HOT_SLA_MINUTES)
    return minutes


def candidates(
    now: datetime,
    *,
    exclude_user_ids: Collection = (),
    only_rep_ids: Collection | None = None,
    include_full: bool = False,
) -> list[Candidate]:
    """Reps who may take a lead: accepting, present (not absent, not paused), under
    capacity, by when they work. Two queries whatever the size of the lead table.

    ``include_full`` keeps reps at capacity too (``RepPool`` tracks loads that go down).
    """
    profiles = (
        RepProfile.objects.accepting()
        .present(now)
        .exclude(user_id__in=exclude_user_ids)
        .select_related("user")
    )
    if only_rep_ids is not None:
        profiles = profiles.filter(pk__in=only_rep_ids)
    return _candidates_from(list(profiles), now, include_full=include_full)


def _candidates_from(
    profiles: list[RepProfile],
    now: datetime,
    *,
    include_full: bool = False,
    loads: dict[int, int] | None = None,
) -> list[Candidate]:
    if loads is None:
        loads = open_loads([p.user_id for p in profiles]) if profiles else {}
    found = []
    for profile in profiles:
        load = loads.get(profile.user_id, 0)
        if not include_full and load >= profile.effective_capacity:
            continue
        calendar = rep_calendar(profile)
        starts_at = now if is_open(now, calendar) else next_opening(now, calendar)
        if starts_at is not None:
            found.append(Candidate(profile, load, starts_at, calendar=calendar))
    return found


def least_loaded(found: list[Candidate]) -> Candidate | None:
    """Kept for callers of the first version; prefer ``LeastLoaded().choose``."""
    return LeastLoaded().choose(found) if found else None


def _pick(
    now: datetime,
    lead: Lead | None,
    exclude_user_ids: Collection,
    only_rep_ids=None,
    *,
    exact: bool = True,
) -> Candidate | None:
    # Lock every eligible rep in primary-key order (never one by one in load order) so
    # concurrent intakes cannot deadlock. ``exact``: read the loads after the locks, in a
    # second statement — under READ COMMITTED it sees a concurrent winner's commit, so two
    # intakes cannot both fill a rep's last free slot. Otherwise the loads come with the
    # locking statement (one statement less) and may miss a lead committed while this one
    # waited for a lock: the caller takes the slot with an UPDATE that counts again
    # (``ownership.assign_at_intake``) and picks ``exact``ly if that fails.
    shape = (
        exact,
        tuple(sorted(exclude_user_ids)),
        None if only_rep_ids is None else tuple(sorted(only_rep_ids)),
    )
    using = router.db_for_write(RepProfile)
    profiles = _ELIGIBLE_LOCKED(shape, using, now=now)
    _attach_known_users(using, profiles)
    if exact:
        found = _candidates_from(profiles, now)
    else:
        loads = {p.user_id: p.counted_load for p in profiles}
        found = _candidates_from(profiles, now, loads=loads)
    return get_strategy().choose(found, lead=lead, now=now) if found else None


def _eligible_locked(shape: tuple, *, now: datetime) -> QuerySet:
    """The reps who may take a lead at ``now``, locked in pk order, with their user's
    name (``lf_username``) and, unless ``exact``, their load (``counted_load``)."""
    exact, exclude_user_ids, only_rep_ids = shape
    eligible = RepProfile.objects.accepting().present(now)
    if exclude_user_ids:
        eligible = eligible.exclude(user_id__in=exclude_user_ids)
    if only_rep_ids is not None:
        eligible = eligible.filter(pk__in=only_rep_ids)
    username = get_user_model().USERNAME_FIELD
    locked = (
        eligible.select_for_update(of=("self",))
        .annotate(lf_username=F(f"user__{username}"))
        .order_by("pk")
    )
    return locked if exact else locked.annotate(counted_load=open_load_of_rep())


# Intake runs ``_eligible_locked`` for every lead with a new ``now``: building and
# compiling it cost Django more CPU than PostgreSQL spends running it, so it is compiled
# once per shape (exact or not, the reps left out, a routing rule's reps).
_ELIGIBLE_LOCKED = Prepared(_eligible_locked, max_shapes=64)


def _attach_known_users(using: str, profiles: list[RepProfile]) -> None:
    """Each rep's user as far as the locking statement read it (key and username; the
    other fields load on first access, as with ``.only()``): every intake reads all the
    eligible reps, and building their full users cost more than the statement."""
    User = get_user_model()
    pk_name = User._meta.pk.attname
    username_name = User._meta.get_field(User.USERNAME_FIELD).attname
    names = [f.attname for f in User._meta.concrete_fields if f.attname in (pk_name, username_name)]
    for profile in profiles:
        known = {pk_name: profile.user_id, username_name: profile.lf_username}
        profile.user = User.from_db(using, names, [known[name] for name in names])


def pick_rep(
    now: datetime,
    *,
    exclude_user_ids: Collection = (),
    lead: Lead | None = None,
    exact: bool = True,
) -> Candidate | None:
    """Choose a rep and hold a row lock on their profile until the transaction ends.

    With ``lead``, the first matching routing rule limits the choice to its reps; if
    none of them can take the lead and the rule allows it, every rep is considered.
    ``exact=False``: see ``_pick`` (intake's one-statement-less path).
    """
    rule = matching_rule(lead)
    if rule is None:
        return _pick(now, lead, exclude_user_ids, exact=exact)
    rep_ids = {rep.pk for rep in rule.reps.all()}
    chosen = (
        _pick(now, lead, exclude_user_ids, only_rep_ids=rep_ids, exact=exact) if rep_ids else None
    )
    if chosen is None and rule.fallback_to_all:
        chosen = _pick(now, lead, exclude_user_ids, exact=exact)
    return chosen


@lru_cache(maxsize=1)
def _every_rep_locked(now: datetime) -> QuerySet:
    """Every rep row, locked in pk order, marked ``available`` (accepting and present at
    ``now``). Built once per ``now``: a sweep pass locks the reps again for every batch,
    and building the query cost as much as running it. Evaluate a copy (``.all()``)."""
    available = RepProfile.objects.accepting().present(now).filter(pk=OuterRef("pk"))
    return (
        RepProfile.objects.select_for_update(of=("self",))
        .select_related("user")
        .annotate(available=Exists(available))
        .order_by("pk")
    )


# ``_every_rep_locked`` without the users, compiled once and run with each ``now``: the
# batches of a sweep pass lock the reps with it (``RepPool.relock``).
_EVERY_REP_LOCKED = Prepared(lambda _, *, now: _every_rep_locked(now).select_related(None))


class RepPool:
    """The reps a batch of leads is routed among, read once and then kept in memory.

    ``pick_rep()`` locks the eligible reps and counts every rep's load for each lead: fine
    for intake's one lead per transaction, too slow for a sweep moving hundreds. The sweep
    locks every rep row first (pk order) and then builds one pool: no other transaction
    can route to those reps until it commits, so the loads read here stay true while the
    pool adds the leads it hands out and takes back the ones it moves away. Leads
    contacted meanwhile only make a load lower than counted (never overfilling).

    The strategy's state lives on the profiles, which ``ownership`` updates in memory too
    (``last_assigned_at``, ``routing_pass``). Build it with ``RepPool.lock()`` and use it in
    the same transaction only; the next batch of the same pass takes ``pool.relock()``.
    """

    def __init__(
        self,
        now: datetime,
        found: Sequence[Candidate],
        *,
        rules: Sequence[RoutingRule] = (),
        strategy: RoutingStrategy | None = None,
    ) -> None:
        self.now = now
        # Every available rep, full or not, in the order candidates() returned them.
        self._reps: dict[int, Candidate] = {c.profile.pk: c for c in found}
        self._by_user: dict[int, int] = {c.profile.user_id: c.profile.pk for c in found}
        # Read once: the pool asks "has room?" of every rep for every lead it routes.
        self._capacity: dict[int, int] = {c.profile.pk: c.profile.effective_capacity for c in found}
        self._rules = list(rules)
        self._strategy = strategy if strategy is not None else get_strategy()

    @classmethod
    def lock(cls, now: datetime) -> RepPool:
        """Lock every rep row, in primary-key order, and build the pool: two statements.

        ``pick_rep()`` locks the candidates of one lead in pk order; a batch picks for many
        leads with different candidate sets, so two sweeps could each hold a rep the other
        waits for. Taking them all up front, in the same order intake uses, rules that
        out. The locking statement reads the reps too (which of them are available now);
        their loads are counted by a second statement, after the locks were granted, so a
        concurrent intake's commit is counted.
        """
        profiles = [profile for profile in _every_rep_locked(now).all() if profile.available]
        found = _candidates_from(profiles, now, include_full=True, loads=open_loads())
        return cls(now, found, rules=active_routing_rules())

    def relock(self) -> RepPool:
        """The pool for the next batch of the same pass (same ``now``), in that batch's
        transaction: every rep row locked again in pk order, and their availability,
        capacity, strategy state and loads read again — a concurrent intake or a
        manager's change between two batches is seen, as with ``lock()``. Cheaper: the
        locking statement is compiled once and the users come from this pool
        (the one query for them only when a rep joined meanwhile)."""
        rows = _EVERY_REP_LOCKED(None, router.db_for_write(RepProfile), now=self.now)
        profiles = [p for p in rows if p.available]
        users = {c.profile.user_id: c.profile.user for c in self._reps.values()}
        joined = {p.user_id for p in profiles} - users.keys()
        if joined:
            users.update(get_user_model()._default_manager.in_bulk(joined))
        for profile in profiles:
            profile.user = users[profile.user_id]
        found = _candidates_from(profiles, self.now, include_full=True, loads=open_loads())
        return RepPool(self.now, found, rules=active_routing_rules(), strategy=self._strategy)

    def __bool__(self) -> bool:
        return any(self._has_room(c) for c in self._reps.values())

    def _has_room(self, c: Candidate) -> bool:
        return c.open_load < self._capacity[c.profile.pk]

    def matching_rule(self, lead: Lead | None) -> RoutingRule | None:
        """Like ``matching_rule()``, from the rules read with the pool."""
        if lead is None:
            return None
        return next((rule for rule in self._rules if rule.matches(lead)), None)

    def _choose(
        self, lead: Lead | None, exclude_user_ids: Collection, only_rep_ids=None
    ) -> Candidate | None:
        capacity = self._capacity  # run for every rep and every lead a batch routes
        found = [
            c
            for pk, c in self._reps.items()
            if c.open_load < capacity[pk]
            and c.profile.user_id not in exclude_user_ids
            and (only_rep_ids is None or pk in only_rep_ids)
        ]
        return self._strategy.choose(found, lead=lead, now=self.now) if found else None

    def pick(self, lead: Lead, *, exclude_user_ids: Collection = ()) -> Candidate | None:
        """What ``pick_rep(now, exclude_user_ids=…, lead=lead)`` would choose now.

        The chosen rep's slot is taken at once and the lead's current owner's freed: the
        caller must give ``lead`` to the result (``ownership.move()``) in this transaction.
        """
        rule = self.matching_rule(lead)
        if rule is None:
            chosen = self._choose(lead, exclude_user_ids)
        else:
            rep_ids = {rep.pk for rep in rule.reps.all()}
            chosen = self._choose(lead, exclude_user_ids, rep_ids) if rep_ids else None
            if chosen is None and rule.fallback_to_all:
                chosen = self._choose(lead, exclude_user_ids)
        if chosen is not None:
            self._add_load(self._by_user.get(lead.owner_id), -1)
            self._add_load(chosen.profile.pk, +1)
        return chosen

    def _add_load(self, rep_pk: int | None, delta: int) -> None:
        rep = self._reps.get(rep_pk)
        if rep is not None:
            # The constructor, not replace() (which inspects the fields): twice per lead.
            load = max(rep.open_load + delta, 0)
            self._reps[rep_pk] = Candidate(
                rep.profile, load, rep.starts_at, rep.routing_pass, rep.calendar
            )


def _load_counted() -> LeadQuerySet:
    """What a rep's load counts: their open leads nobody has contacted yet."""
    return Lead.objects.open().uncontacted()


@lru_cache(maxsize=1)
def open_load_of_rep() -> Coalesce:
    """The same count as ``open_loads()``, as a subquery on a ``RepProfile`` query (one
    index probe per rep through the open leads' partial index). Built once per process:
    it never changes, intake uses it twice per lead, and a query copies an expression it
    is given (``resolve_expression``), so sharing it is safe."""
    per_rep = (
        _load_counted()
        .filter(owner_id=OuterRef("user_id"))
        .order_by()
        .values("owner_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(per_rep), 0)


def open_loads(user_ids: Collection | None = None) -> dict[int, int]:
    """Open, uncontacted leads held per owner's user id (what capacity counts).

    Counted from the leads' side, through the partial index of open uncontacted leads:
    its cost follows the open work, not every lead ever received (a ``Count`` over the
    reps' reverse relation joins and scans the whole history)."""
    if user_ids is None:
        sql, params = _every_load_sql(using := router.db_for_read(Lead))
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            return dict(cursor.fetchall())
    return dict(_loads_query().filter(owner_id__in=user_ids).values_list("owner_id", "n"))


def _loads_query() -> QuerySet:
    per_owner = _load_counted().filter(owner__isnull=False).order_by().values("owner_id")
    return per_owner.annotate(n=Count("*"))


@lru_cache(maxsize=4)
def _every_load_sql(using: str) -> tuple[str, tuple]:
    """Every owner's load, compiled once: each sweep batch, the rep list and the managers'
    pages count them all (two integers a row, nothing to convert)."""
    query = _loads_query().values_list("owner_id", "n").query
    return query.get_compiler(using=using).as_sql()


def available_now(user_ids: Collection, now: datetime) -> set[int]:
    """The users among ``user_ids`` who could work a lead right now: accepting, present and
    inside their working hours (capacity aside: it is about leads they already hold).
    One query."""
    if not user_ids:
        return set()
    profiles = RepProfile.objects.accepting().present(now).filter(user_id__in=user_ids)
    return {p.user_id for p in profiles if is_open(now, rep_calendar(p))}


_UNKNOWN: Any = object()


def absent_until(now: datetime) -> Subquery:
    """For a ``RepProfile`` queryset's ``annotate()``: when the absence the rep is in at
    ``now`` ends (the latest, if several overlap), else NULL. One query for a whole list."""
    current = Absence.objects.filter(rep=OuterRef("pk"), starts_at__lte=now, ends_at__gt=now)
    return Subquery(current.order_by("-ends_at").values("ends_at")[:1])


def unavailability(
    profile: RepProfile,
    now: datetime,
    *,
    load: int | None = None,
    absence_ends: datetime | None = _UNKNOWN,
) -> list[str]:
    """Why the rep cannot take a lead now, in words for a manager (empty: they can).

    ``load`` is their open uncontacted leads and ``absence_ends`` the end of their current
    absence (None: not absent) when the caller read them already (see :func:`absent_until`)."""
    reasons = []
    if not profile.user.is_active:
        reasons.append(gettext("account inactive"))
    if not profile.accepting_leads:
        reasons.append(gettext("not accepting leads"))
    if profile.is_paused(now):
        reasons.append(
            gettext("paused until %(until)s")
            % {"until": date_format(timezone.localtime(profile.paused_until, profile.zone),
                                    "DATETIME_FORMAT")}
            if profile.paused_until
            else gettext("paused (%(why)s)") % {"why": profile.get_pause_reason_display()}
        )  # fmt: skip
    if absence_ends is _UNKNOWN:
        absence = (
            Absence.objects.filter(rep=profile, starts_at__lte=now, ends_at__gt=now)
            .order_by("-ends_at")
            .first()
        )
        absence_ends = absence.ends_at if absence is not None else None
    if absence_ends is not None:
        until = date_format(timezone.localtime(absence_ends, profile.zone), "DATETIME_FORMAT")
        reasons.append(gettext("absent until %(until)s") % {"until": until})
    calendar = rep_calendar(profile)
    if not is_open(now, calendar):
        opens = next_opening(now, calendar)
        reasons.append(
            gettext("outside working hours (next from %(at)s)")
            % {"at": date_format(timezone.localtime(opens, profile.zone), "DATETIME_FORMAT")}
            if opens
            else gettext("no working hours")
        )
    if load is None:
        load = open_loads([profile.user_id]).get(profile.user_id, 0)
    if load >= profile.effective_capacity:
        reasons.append(
            gettext("full (%(load)s of %(capacity)s)")
            % {"load": load, "capacity": profile.effective_capacity}
        )
    return reasons
