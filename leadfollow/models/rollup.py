from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

#: The contacted buckets a rollup row counts (the response report's first four), then
#: the uncontacted leads, whose bucket (never, waiting, pending) depends on the moment the
#: report is read.
ROLLUP_CLASSES = ("5m", "1h", "24h", "later", "uncontacted")


def _count(label):
    return models.IntegerField(label, default=0)


class ResponseRollup(models.Model):
    """The response report's counts of one (day, owner, source), kept by database triggers.

    Written only by PostgreSQL triggers on the lead and assignment tables (every INSERT,
    UPDATE and DELETE that changes a count, whatever wrote it, adds a row of +1/−1
    differences) and collapsed by :func:`leadfollow.rollups.compact`; rows are summed when
    read, so they are exact at every moment. See :mod:`leadfollow.rollups`.
    """

    # In the site time zone the triggers were built for: a lead's receipt date, a move's.
    day = models.DateField(_("day"))
    # No foreign key constraint: a user's deletion sets the leads' owner to NULL, and the
    # triggers then move the counts themselves.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    source = models.SlugField(_("source"), max_length=64, db_index=False)
    # A difference written by a trigger, not yet collapsed into its key's single row.
    is_delta = models.BooleanField(_("not yet compacted"), default=True)
    received = _count(_("received"))
    n_5m = _count(_("within 5 minutes"))
    q_5m = _count(_("within 5 minutes, qualified"))
    dq_5m = _count(_("within 5 minutes, disqualified"))
    n_1h = _count(_("5 minutes to 1 hour"))
    q_1h = _count(_("5 minutes to 1 hour, qualified"))
    dq_1h = _count(_("5 minutes to 1 hour, disqualified"))
    n_24h = _count(_("1 to 24 hours"))
    q_24h = _count(_("1 to 24 hours, qualified"))
    dq_24h = _count(_("1 to 24 hours, disqualified"))
    n_later = _count(_("after 24 hours"))
    q_later = _count(_("after 24 hours, qualified"))
    dq_later = _count(_("after 24 hours, disqualified"))
    n_uncontacted = _count(_("not contacted"))
    q_uncontacted = _count(_("not contacted, qualified"))
    dq_uncontacted = _count(_("not contacted, disqualified"))
    # First contacted after the deadline; not contacted and given a deadline.
    late = _count(_("contacted after the deadline"))
    uncontacted_due = _count(_("not contacted, with a deadline"))
    # Moves (Assignment rows), filed by the day they happened and the rep they left, with
    # source "": deadlines missed (the sweep's moves and escalations) and moves away.
    breaches = _count(_("deadlines missed"))
    moved_away = _count(_("reassigned away"))

    class Meta:
        verbose_name = _("response rollup")
        verbose_name_plural = _("response rollups")
        indexes = [
            models.Index(fields=["day"], name="leadfollow_rollup_day_idx"),
            models.Index(
                fields=["day"],
                condition=models.Q(is_delta=True),
                name="leadfollow_rollup_delta_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_id} {self.source}"
