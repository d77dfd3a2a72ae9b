"""Personal data: erasure that keeps the metrics, retention, and subject access.

Everything here reads one registry: which model holds personal data in which fields, and how
to find a lead's rows. A model added later is one line, e.g. ::

    register("leadfollow.WebhookDelivery", ["payload"], lead="lead")

Erasure replaces those fields with a tombstone (``TOMBSTONE`` for required text, "" for
optional text, ``{}``/``[]`` for JSON, NULL where the column allows it) and leaves every
other column alone: received, assigned, first contacted, status, score, source, owner and the
Assignment history stay, so ``leadfollow.metrics`` gives the same figures afterwards and a
rep's record stays true. Retention and the three doors (command, admin, API) all call
:func:`erase`. The subject-access export walks the same registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from leadfollow.conf import lf_settings
from leadfollow.models import (
    OPEN_STATUSES,
    Assignment,
    ErasureRecord,
    ErasureVia,
    Lead,
    Reminder,
)

#: What a required text field (a lead's name, an admin log's title) reads after erasure.
TOMBSTONE = "[erased]"

EXPORT_FORMAT = "leadfollow.subject-access/1"


# --- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """A model that holds personal data: its personal ``fields`` and how to find a lead's rows
    (``lead``: the lookup path from the model to the lead's id, or ``rows``: a function of the
    lead ids returning a queryset). ``export``: include its rows in the subject-access export."""

    label: str
    fields: tuple[str, ...]
    lead: str | None = None
    rows: Callable[[Sequence[int]], QuerySet] | None = None
    export: bool = True

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.label)

    def queryset(self, lead_ids: Sequence[int]) -> QuerySet:
        if self.rows is not None:
            return self.rows(lead_ids)
        return self.model._base_manager.filter(**{f"{self.lead}__in": list(lead_ids)})

    def tombstones(self) -> dict[str, Any]:
        return {name: tombstone_for(self.model._meta.get_field(name)) for name in self.fields}

    def pending(self, lead_ids: Sequence[int]) -> QuerySet:
        """The lead's rows that still hold something in a personal field."""
        erased = Q()
        for name, value in self.tombstones().items():
            erased &= Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})
        return self.queryset(lead_ids).exclude(erased)


_REGISTRY: dict[str, Holder] = {}


def register(
    label: str,
    fields: Iterable[str] = (),
    *,
    lead: str | None = None,
    rows: Callable[[Sequence[int]], QuerySet] | None = None,
    export: bool = True,
) -> None:
    """Declare that ``label`` ("app_label.Model") holds personal data in ``fields``.

    Give ``lead`` (e.g. ``"lead"`` for a foreign key to Lead) or ``rows``. No fields: rows
    kept as they are but exported (e.g. reminders). Registering a label again replaces it.
    """
    if (lead is None) == (rows is None):
        raise ImproperlyConfigured(f"privacy.register({label!r}): give lead= or rows=.")
    _REGISTRY[label] = Holder(label, tuple(fields), lead=lead, rows=rows, export=export)


def holders() -> list[Holder]:
    """Registered holders whose app is installed (django-q2 and the admin are optional)."""
    found = []
    for holder in _REGISTRY.values():
        try:
            apps.get_app_config(holder.label.split(".")[0])
        except LookupError:
            continue
        found.append(holder)
    return found


def tombstone_for(model_field: models.Field) -> Any:
    """What an erased value of this column is: NULL if allowed, else empty, else TOMBSTONE."""
    if model_field.null:
        return None
    if isinstance(model_field, models.JSONField):
        default = model_field.get_default()
        return [] if isinstance(default, list) else {}
    if isinstance(model_field, models.CharField | models.TextField):
        if model_field.blank:
            return ""
        return TOMBSTONE[: model_field.max_length or None]
    raise ImproperlyConfigured(
        f"{model_field.model._meta.label}.{model_field.name}: no tombstone for "
        f"{type(model_field).__name__}; make it nullable or blank."
    )


def _failed_task_rows(lead_ids: Sequence[int]) -> QuerySet:
    """django-q2 failures of leadfollow tasks about these leads. Task arguments are ids and
    results of successful tasks are counts, but a failure stores the error text."""
    from django_q.models import Task

    assignments = set(Assignment.objects.filter(lead_id__in=lead_ids).values_list("pk", flat=True))
    reminders = set(Reminder.objects.filter(lead_id__in=lead_ids).values_list("pk", flat=True))
    about = {
        "send_first_touch": set(lead_ids),
        "notify_assignment": assignments,
        "notify_escalation": assignments,
        "notify_reminder": reminders,
    }
    failures = Task.objects.filter(success=False, func__startswith="leadfollow.tasks.")
    matched = [
        task.pk
        for task in failures.only("id", "func", "args").iterator()
        if task.args and task.args[0] in about.get(task.func.rsplit(".", 1)[-1], ())
    ]
    return Task.objects.filter(pk__in=matched)


def _admin_log_rows(lead_ids: Sequence[int]) -> QuerySet:
    """The admin's history titles (``object_repr``) of these leads: "Jo Meyer (web)"."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from leadfollow.models import ColdLead, Submission

    lead_types = ContentType.objects.get_for_models(Lead, ColdLead, for_concrete_models=False)
    submissions = Submission.objects.filter(lead_id__in=lead_ids).values_list("pk", flat=True)
    return LogEntry.objects.filter(
        Q(content_type__in=lead_types.values(), object_id__in=[str(pk) for pk in lead_ids])
        | Q(
            content_type=ContentType.objects.get_for_model(Submission),
            object_id__in=[str(pk) for pk in submissions],
        )
    )


# What leadfollow holds about a person. One line per model; tests/test_privacy.py fails when
# a leadfollow model has a text or JSON column that is neither here nor in NOT_PERSONAL.
register(
    "leadfollow.Lead",
    ["name", "email", "phone", "company", "message", "external_id", "attributes"],
    lead="pk",
)
register("leadfollow.Submission", ["message", "external_id", "attributes"], lead="lead")
register("leadfollow.ContactAttempt", ["note"], lead="lead")
register("leadfollow.Assignment", ["note"], lead="lead")  # hand-back reasons
register("leadfollow.Reminder", [], lead="lead")  # the e-mail ledger: ids and times only
# Event snapshots of the lead's own fields (exported with the lead itself); erased with it.
register("leadfollow.WebhookDelivery", ["payload", "error"], lead="lead", export=False)
register("leadfollow.EngagementEvent", ["properties"], lead="lead")  # pages seen, mail clicks
register("django_q.Task", ["result"], rows=_failed_task_rows, export=False)
register("admin.LogEntry", ["object_repr"], rows=_admin_log_rows, export=False)

#: Text and JSON columns of leadfollow's models that never hold a lead's personal data.
NOT_PERSONAL: dict[str, set[str]] = {
    "leadfollow.Lead": {"source", "status", "consent_purpose", "consent_text"},
    "leadfollow.Submission": {"source", "consent_purpose", "consent_text"},
    "leadfollow.ContactAttempt": {"channel", "outcome"},
    "leadfollow.Assignment": {"reason"},
    "leadfollow.ResponseRollup": {"source"},  # counts per day, owner and source
    "leadfollow.Reminder": {"kind"},
    "leadfollow.ErasureRecord": {"via", "lead_ids", "counts"},
    # Keys, reps and rules: the site's own configuration, not its leads. An Idempotency-Key
    # response holds ids, the owner's username and a deadline; it is purged after its TTL.
    "leadfollow.ApiKey": {"name", "source", "prefix", "key_hash", "signing_secret"},
    "leadfollow.IdempotencyRecord": {"source", "key", "request_hash", "response"},
    "leadfollow.UsedSignature": {"key_prefix", "signature"},
    "leadfollow.RepProfile": {
        "timezone",
        "working_hours",
        "pause_reason",
        "alert_channel",
        "alert_url",
        "alert_secret",
        "holiday_country",
        "holiday_subdivision",
    },
    "leadfollow.WebhookEndpoint": {"name", "url", "secret", "events"},
    # The idempotency id is unique per source (it cannot be one tombstone); leadfollow's own
    # ids hold only a lead id and a hash, and senders are told to send opaque ids.
    "leadfollow.EngagementEvent": {"type", "source", "idempotency_id"},
    "leadfollow.EngagementRule": {"name", "event_type", "note"},
    "leadfollow.WebhookDelivery": {"event_id", "event", "status"},
    "leadfollow.Absence": {"reason"},
    "leadfollow.RoutingRule": {"name", "sources", "attribute", "attribute_values"},
    "leadfollow.ScoringRule": {"name", "field_path", "operator", "value", "note"},
}


# --- finding a person's leads ----------------------------------------------------------------


class PrivacyError(Exception):
    """A request that cannot be answered as asked; ``str()`` is meant for the user."""


class LeadsStillOpen(PrivacyError):
    def __init__(self, lead_ids: Sequence[int]):
        self.lead_ids = list(lead_ids)
        super().__init__(
            _(
                "Lead(s) %(ids)s are still open. Close them first, or force the erasure "
                "(their status and owner stay as they are)."
            )
            % {"ids": ", ".join(map(str, self.lead_ids))}
        )


@sensitive_variables("email", "address")
def normalise_email(email: str) -> str:
    """The address as intake stores it (lower-cased); ``PrivacyError`` if it is not one."""
    address = (email or "").strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise PrivacyError(_("Enter a valid e-mail address.")) from None
    return address


@sensitive_variables("email")
def find_leads(*, email: str | None = None, lead_id: int | None = None) -> list[int]:
    """Ids of the leads an erasure or export is about: every lead with this address, or the
    one lead. Exactly one of the two; ``PrivacyError`` otherwise."""
    if (email is None) == (lead_id is None):
        raise PrivacyError(_("Give either an e-mail address or a lead id."))
    if email is not None:
        leads = Lead.objects.filter(email=normalise_email(email))
    else:
        leads = Lead.objects.filter(pk=lead_id)
    return list(leads.order_by("pk").values_list("pk", flat=True))


# --- erasure -------------------------------------------------------------------------------


@dataclass
class ErasureResult:
    lead_ids: list[int]
    counts: dict[str, int] = field(default_factory=dict)
    record: ErasureRecord | None = None
    dry_run: bool = False

    @property
    def records(self) -> int:
        return sum(self.counts.values())


def erase(
    lead_ids: Iterable[int],
    *,
    actor=None,
    via: str = ErasureVia.CODE,
    force: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ErasureResult:
    """Replace the personal fields of these leads and of every registered row about them.

    Refuses (``LeadsStillOpen``, nothing changed) while a lead not yet erased is open, unless
    ``force``. Idempotent: rows already erased are not written again, and an erasure that
    changes nothing writes no audit row. ``dry_run`` counts what would change.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = Lead.objects.select_for_update().filter(pk__in=list(lead_ids)).order_by("pk")
        rows = list(locked.values_list("pk", "status", "erased_at"))
        ids = [pk for pk, _status, _erased in rows]
        still_open = [pk for pk, status, erased in rows if status in OPEN_STATUSES and not erased]
        if still_open and not force:
            raise LeadsStillOpen(still_open)
        result = ErasureResult(ids, dry_run=dry_run)
        if not ids:
            return result
        for holder in holders():
            if not holder.fields:
                continue
            pending = holder.pending(ids)
            changed = pending.count() if dry_run else pending.update(**holder.tombstones())
            if changed:
                result.counts[holder.label] = changed
        if dry_run or not result.counts:
            return result
        Lead.objects.filter(pk__in=ids, erased_at__isnull=True).update(erased_at=now)
        result.record = ErasureRecord.objects.create(
            created_at=now,
            actor=actor if getattr(actor, "pk", None) else None,
            via=via,
            forced=bool(still_open),
            lead_ids=ids,
            counts=result.counts,
            records=result.records,
        )
    return result


# --- retention -----------------------------------------------------------------------------

RETENTION_BATCH_SIZE = 500


def retention_due(now: datetime | None = None) -> QuerySet:
    """Leads ``RETENTION_DAYS`` says must go: closed, not yet erased, and unchanged
    (``updated_at``) for longer than their status's number of days."""
    now = now or timezone.now()
    due = [
        Q(status=status, updated_at__lt=now - timedelta(days=days))
        for status, days in lf_settings.RETENTION_DAYS.items()
        if days is not None and status not in OPEN_STATUSES
    ]
    if not due:
        return Lead.objects.none()
    condition = due[0]
    for more in due[1:]:
        condition |= more
    return Lead.objects.filter(condition, erased_at__isnull=True).order_by("pk")


def apply_retention(
    now: datetime | None = None, *, dry_run: bool = False, batch_size: int = RETENTION_BATCH_SIZE
) -> ErasureResult:
    """Erase what :func:`retention_due` selects, a batch per transaction (one audit row
    each); ``dry_run``: count it. Returns the totals."""
    now = now or timezone.now()
    total = ErasureResult([], dry_run=dry_run)
    due = retention_due(now)
    after = 0
    while True:
        ids = list(due.filter(pk__gt=after).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return total
        after = ids[-1]
        batch = erase(ids, via=ErasureVia.RETENTION, dry_run=dry_run, now=now)
        total.lead_ids.extend(batch.lead_ids)
        for label, count in batch.counts.items():
            total.counts[label] = total.counts.get(label, 0) + count


# --- subject access ------------------------------------------------------------------------


class _RepNames:
    """Reps as the export shows them: their name, or "rep 1", "rep 2"… in order of
    appearance when ``EXPORT_PSEUDONYMISE_REPS`` is on."""

    def __init__(self, pseudonymise: bool):
        self.pseudonymise = pseudonymise
        self.labels: dict[int, str] = {}

    def __call__(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        if user_id not in self.labels:
            if self.pseudonymise:
                self.labels[user_id] = f"rep {len(self.labels) + 1}"
            else:
                from django.contrib.auth import get_user_model

                user = get_user_model()._base_manager.filter(pk=user_id).first()
                name = (user.get_full_name() or user.get_username()) if user else None
                self.labels[user_id] = name or f"user {user_id}"
        return self.labels[user_id]


def _exported(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _export_row(obj: models.Model, reps: _RepNames) -> dict[str, Any]:
    row = {}
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    for model_field in obj._meta.concrete_fields:
        value = model_field.value_from_object(obj)
        if model_field.is_relation and model_field.related_model is user_model:
            value = reps(value)
        row[model_field.name] = _exported(value)
    return row


def export_leads(lead_ids: Sequence[int], *, now: datetime | None = None) -> dict[str, Any]:
    """Everything registered about these leads, as JSON-ready data: each exported model's
    rows (all columns; reps by name or pseudonym), the assignment history included."""
    reps = _RepNames(lf_settings.EXPORT_PSEUDONYMISE_REPS)
    records = {}
    for holder in holders():
        if holder.export:
            rows = holder.queryset(lead_ids).order_by("pk")
            records[holder.label] = [_export_row(obj, reps) for obj in rows]
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _exported(now or timezone.now()),
        "lead_ids": list(lead_ids),
        "reps_pseudonymised": reps.pseudonymise,
        "records": records,
    }


@sensitive_variables("email")
def export_person(
    *, email: str | None = None, lead_id: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The subject-access export for an address (every lead with it) or one lead."""
    document = export_leads(find_leads(email=email, lead_id=lead_id), now=now)
    return {"email": normalise_email(email) if email is not None else None, **document}
