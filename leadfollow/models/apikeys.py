"""Credentials of the systems that post leads (one per source), and Idempotency-Key records."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from django.db import models
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

KEY_PREFIX = "lf"


def hash_key(raw_key: str) -> str:
    # A random 256-bit key needs no slow hash: nobody can brute-force its sha256.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def split_key(raw_key: str) -> str | None:
    """The lookup prefix of a key shaped ``lf_<prefix>.<secret>``, or None."""
    head, dot, secret = raw_key.partition(".")
    kind, underscore, prefix = head.partition("_")
    if not (dot and underscore and secret and kind == KEY_PREFIX and prefix):
        return None
    return prefix


# Sent after a queryset wrote keys (``update()``, ``delete()``): the per-process key cache
# (``leadfollow.api.authentication``) listens, as it does to post_save and post_delete.
keys_changed = Signal()


class ApiKeyQuerySet(models.QuerySet):
    """Keys are cached per process (``leadfollow.api.authentication``); every write through
    a queryset — the admin's "revoke", a site's own ``update()`` — makes every process read
    them again, as saving or deleting one key does."""

    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)

    def update(self, **kwargs) -> int:
        changed = super().update(**kwargs)
        keys_changed.send(sender=ApiKey)
        return changed

    def delete(self):
        deleted = super().delete()
        keys_changed.send(sender=ApiKey)
        return deleted

    def create_key(
        self, *, source: str, name: str = "", events_any_source: bool = False
    ) -> tuple[ApiKey, str]:
        """A new key for ``source``. Returns the row and the raw key, shown only this once."""
        prefix = secrets.token_hex(6)
        raw_key = f"{KEY_PREFIX}_{prefix}.{secrets.token_urlsafe(32)}"
        api_key = self.create(
            source=source,
            name=name,
            prefix=prefix,
            key_hash=hash_key(raw_key),
            signing_secret=secrets.token_urlsafe(32),
            events_any_source=events_any_source,
        )
        return api_key, raw_key


class ApiKey(models.Model):
    """What lets one sender (a landing-page builder, an ad platform…) post leads.

    The sender either sends the key itself (``Authorization: Api-Key <key>``; only its
    hash is stored) or signs the raw body with the signing secret (HMAC-SHA256), naming
    the key by its public prefix. The lead's source comes from here, never from the body.
    """

    name = models.CharField(_("name"), max_length=120, blank=True)
    source = models.SlugField(_("source"), max_length=64)
    prefix = models.CharField(_("key id"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    # Kept readable: verifying an HMAC needs the secret itself, as on the sender's side.
    signing_secret = models.CharField(_("signing secret"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    # Off by default: an event's 404 would otherwise tell a key of one source whether an
    # address is another source's lead (issue 18). On for systems that report on every lead,
    # such as the e-mail provider's webhook.
    events_any_source = models.BooleanField(
        _("events may name any source's leads"),
        default=False,
        help_text=_(
            "Let this key's engagement events (api/events/) name leads of every source, e.g. "
            "for your e-mail provider's webhook. Off: only leads of its own source; any other "
            "lead answers 404, exactly like an unknown one."
        ),
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["source", "-created_at"]

    def __str__(self) -> str:
        return f"{self.source} · {KEY_PREFIX}_{self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def matches(self, raw_key: str) -> bool:
        return hmac.compare_digest(self.key_hash, hash_key(raw_key))

    def signature(self, timestamp: str, body: bytes) -> str:
        """Hex HMAC-SHA256 of ``timestamp + "." + body`` with this key's signing secret."""
        message = timestamp.encode() + b"." + body
        return hmac.new(self.signing_secret.encode(), message, hashlib.sha256).hexdigest()


class IdempotencyRecord(models.Model):
    """The first response to an ``Idempotency-Key``, replayed for retries within the TTL."""

    source = models.SlugField(_("source"), max_length=64)
    key = models.CharField(_("idempotency key"), max_length=255)
    request_hash = models.CharField(_("request hash"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True)
    response = models.JSONField(_("response body"), null=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "key"], name="leadfollow_idempotency_unique_key"
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="leadfollow_idempotency_age_idx")]

    def __str__(self) -> str:
        return f"{self.source} · {self.key}"

    @classmethod
    def purge(cls, older_than: datetime) -> int:
        """Delete records created before ``older_than``; returns how many."""
        return cls.objects.filter(created_at__lt=older_than).delete()[0]


class UsedSignature(models.Model):
    """A signature a signed intake request already used, kept until its timestamp could no
    longer be accepted. In the database (not the cache): the unique index refuses a replay
    across every worker, and the row commits or rolls back with the intake it let in."""

    key_prefix = models.CharField(_("key id"), max_length=16)
    signature = models.CharField(_("signature"), max_length=64, unique=True)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("used signature")
        verbose_name_plural = _("used signatures")

    def __str__(self) -> str:
        return f"{self.key_prefix} · {self.signature[:12]}…"

    @classmethod
    def purge(cls, now: datetime) -> int:
        """Delete signatures whose timestamps are no longer accepted anyway; how many."""
        return cls.objects.filter(expires_at__lt=now).delete()[0]
