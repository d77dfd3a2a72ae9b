"""Who people are to leadfollow: the one definition of "a manager" and of "a user's time zone".

A leaf module (no leadfollow models), so models, views, the API, the admin and the
notifications can all ask it without import circles.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

#: The permission that makes a user a manager: they see and manage every rep's leads.
MANAGE_PERMISSION = "leadfollow.manage_leads"


def is_manager(user) -> bool:
    """Active and holding ``leadfollow.manage_leads`` (directly or through a group), or an
    active superuser. Admin pages also need ``is_staff``, as every Django admin page does."""
    return bool(user is not None and user.is_authenticated and user.has_perm(MANAGE_PERMISSION))


def managers() -> QuerySet:
    """The users for whom :func:`is_manager` holds, as a queryset (e.g. to e-mail them)."""
    app_label, codename = MANAGE_PERMISSION.split(".")
    permission = Q(content_type__app_label=app_label, codename=codename)
    granted = Q(user_permissions__in=_permissions(permission)) | Q(
        groups__permissions__in=_permissions(permission)
    )
    users = get_user_model().objects.filter(Q(is_superuser=True) | granted, is_active=True)
    return users.distinct()


def _permissions(condition: Q) -> QuerySet:
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(condition)


def user_zone(user) -> ZoneInfo:
    """The time zone a user's "today", deadlines and e-mails are shown in: their rep
    profile's zone, else the site's business calendar (``LEADFOLLOW["TIME_ZONE"]``)."""
    from leadfollow.conf import lf_settings

    profile = getattr(user, "leadfollow_rep", None) if user is not None else None
    if profile is not None and profile.timezone:
        return ZoneInfo(profile.timezone)
    return ZoneInfo(lf_settings.TIME_ZONE)
