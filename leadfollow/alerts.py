"""How leadfollow tells people about leads: alert channels chosen by dotted path.

``LEADFOLLOW["ALERT_CHANNELS"]`` maps a key to a class (like Django's ``EMAIL_BACKEND``);
a rep's ``RepProfile.alert_channel`` picks the key. Shipped: ``email`` (the default),
``chat`` (Slack- or Microsoft Teams-compatible incoming webhook) and ``webhook`` (a generic
receiver, signed in the Standard Webhooks format with the rep's ``alert_secret``). A
channel that fails, or a person without one, gets the e-mail.

A message is a *kind* (``lead_assigned``, ``sla_warning``, ``follow_up``,
``lead_escalated``, …) and one template per kind and channel, all overridable:

- e-mail: ``leadfollow/email/<kind>_subject.txt`` and ``leadfollow/email/<kind>.txt``;
- chat: ``leadfollow/chat/<kind>.txt``; webhook: ``leadfollow/alert_webhook/<kind>.txt``.

A kind without a chat or webhook template uses its e-mail subject and body there, so a new
message needs only its two e-mail templates.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.template import Context, TemplateDoesNotExist
from django.template.backends.django import Template as DjangoBackendTemplate
from django.template.loader import get_template
from django.utils import timezone
from django.utils.module_loading import import_string

from leadfollow.conf import lf_settings
from leadfollow.webhooks import outbound, signing

logger = logging.getLogger(__name__)

EMAIL = "email"


def render_text(name: str, context: dict) -> str:
    """Render a plain-text template without HTML escaping: an e-mail body is not HTML, and
    "O'Brien & Sons <sales>" must not arrive as "O&#x27;Brien &amp; Sons &lt;sales&gt;"."""
    template = get_template(name)
    if isinstance(template, DjangoBackendTemplate):
        return template.template.render(Context(context, autoescape=False))
    return template.render(context)  # another engine: its own escaping rules


@dataclass
class Alert:
    kind: str
    context: dict
    recipients: list = field(default_factory=list)  # users

    def subject(self) -> str:
        # One line: no header injection from a lead's name.
        return " ".join(
            render_text(f"leadfollow/email/{self.kind}_subject.txt", self.context).split()
        )

    def body(self) -> str:
        return render_text(f"leadfollow/email/{self.kind}.txt", self.context)

    def text(self, folder: str) -> str:
        """``leadfollow/<folder>/<kind>.txt``, else the e-mail's subject and body."""
        try:
            return render_text(f"leadfollow/{folder}/{self.kind}.txt", self.context).strip()
        except TemplateDoesNotExist:
            return f"{self.subject()}\n\n{self.body().strip()}"


class AlertChannel:
    """Send ``alert`` to its recipients; return whether it went. Raise or return False to
    fall back to e-mail."""

    def send(self, alert: Alert) -> bool:
        raise NotImplementedError


class EmailChannel(AlertChannel):
    """Today's e-mail: one message to every recipient with an address."""

    def send(self, alert: Alert) -> bool:
        addresses = [user.email for user in alert.recipients if user.email]
        if not addresses:
            return False
        EmailMessage(alert.subject(), alert.body(), lf_settings.FROM_EMAIL, addresses).send()
        return True


def _profile(user):
    try:
        return user.leadfollow_rep
    except Exception:  # no RepProfile (RelatedObjectDoesNotExist), e.g. a manager
        return None


def _post_json(url: str, document: dict, headers: dict | None = None) -> bool:
    body = json.dumps(document, separators=(",", ":")).encode()
    response = outbound.post(url, body, headers or {})
    if not response.ok:
        logger.warning("leadfollow: alert to %s failed: %s", urlsplit(url).hostname, response.error)
    return response.ok


TEAMS_HOSTS = ("webhook.office.com", "logic.azure.com", "api.powerplatform.com")


class ChatWebhookChannel(AlertChannel):
    """A chat incoming webhook at the rep's ``alert_url``. Microsoft Teams URLs (Office 365
    connectors and Power Automate workflows) get an Adaptive Card message; any other URL
    Slack's ``{"text": …}``, which Mattermost, Rocket.Chat and Discord's ``/slack`` accept.
    Template: ``leadfollow/chat/<kind>.txt``."""

    folder = "chat"

    def document(self, alert: Alert, url: str) -> dict:
        text = alert.text(self.folder)
        host = urlsplit(url).hostname or ""
        if host.endswith(TEAMS_HOSTS):
            card = {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{"type": "TextBlock", "text": text, "wrap": True}],
            }
            return {
                "type": "message",
                "attachments": [
                    {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
                ],
            }
        # Slack reads &, < and > as markup (<!channel>, <url|link>): a lead's name must not.
        return {"text": text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")}

    def send(self, alert: Alert) -> bool:
        sent = False
        for user in alert.recipients:
            profile = _profile(user)
            if profile is None or not profile.alert_url:
                return False
            sent = _post_json(profile.alert_url, self.document(alert, profile.alert_url))
            if not sent:
                return False
        return sent


class SignedWebhookChannel(AlertChannel):
    """A JSON POST to the rep's ``alert_url``, signed like leadfollow's outbound webhooks
    (Standard Webhooks, the rep's ``alert_secret``). Template:
    ``leadfollow/alert_webhook/<kind>.txt`` (the ``text`` field)."""

    folder = "alert_webhook"

    def send(self, alert: Alert) -> bool:
        lead = alert.context.get("lead")
        sent = False
        for user in alert.recipients:
            profile = _profile(user)
            if profile is None or not profile.alert_url or not profile.alert_secret:
                return False
            message_id = f"alert_{uuid.uuid4().hex}"
            document = {
                "id": message_id,
                "type": f"alert.{alert.kind}",
                "timestamp": timezone.now().isoformat(),
                "recipient": {"id": user.pk, "username": user.get_username()},
                "lead_id": getattr(lead, "pk", None),
                "subject": alert.subject(),
                "text": alert.text(self.folder),
            }
            body = json.dumps(document, separators=(",", ":")).encode()
            headers = signing.signed_headers(profile.alert_secret, message_id, body)
            sent = outbound.post(profile.alert_url, body, headers).ok
            if not sent:
                return False
        return sent


@cache
def _channel_class(path: str) -> type[AlertChannel]:
    return import_string(path)


def channel(key: str) -> AlertChannel:
    """The channel configured under ``key`` in ``LEADFOLLOW["ALERT_CHANNELS"]``."""
    try:
        path = lf_settings.ALERT_CHANNELS[key]
    except KeyError:
        raise ImproperlyConfigured(
            f"No alert channel {key!r} in LEADFOLLOW['ALERT_CHANNELS']"
        ) from None
    return _channel_class(path)()


def channel_key(user) -> str:
    profile = _profile(user)
    key = profile.alert_channel if profile is not None else EMAIL
    return key if key in lf_settings.ALERT_CHANNELS else EMAIL


def send(kind: str, context: dict, users: Iterable) -> dict[str, int]:
    """Tell ``users`` about something: each on their channel, falling back to e-mail; the
    people on e-mail (by choice or fallback) share one message as before. Returns how many
    recipients each channel served (``{"email": 2, "chat": 1}``)."""
    served: dict[str, int] = {}
    by_email = []
    for user in users:
        key = channel_key(user)
        if key != EMAIL:
            try:
                if channel(key).send(Alert(kind, context, [user])):
                    served[key] = served.get(key, 0) + 1
                    continue
            except Exception:
                logger.exception("leadfollow: alert channel %r failed, e-mailing instead", key)
        by_email.append(user)
    if by_email and channel(EMAIL).send(Alert(kind, context, by_email)):
        served[EMAIL] = sum(1 for user in by_email if user.email)
    return served
