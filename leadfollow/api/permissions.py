"""Who may do what: sources post leads; managers manage; reps see and log their own."""

from __future__ import annotations

from rest_framework import permissions

from leadfollow.models import ApiKey
from leadfollow.people import is_manager


class IsSource(permissions.BasePermission):
    """Authenticated with a source's API key or signature."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


class IsManager(permissions.BasePermission):
    """Has ``leadfollow.manage_leads`` (or is a superuser)."""

    def has_permission(self, request, view) -> bool:
        return is_manager(request.user)
