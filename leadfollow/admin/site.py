"""leadfollow's additions to the project's admin site, made once from ``AppConfig.ready()``
(after every app's admin module registered its ModelAdmins)."""

from __future__ import annotations

from functools import wraps

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from leadfollow.people import is_manager


def add_dashboard_to_app_list(site: admin.AdminSite = admin.site) -> None:
    """Put "Dashboard" first in leadfollow's section of the admin's start page, app page
    and navigation sidebar, for managers (a direct link, not a model)."""
    if getattr(site.get_app_list, "_leadfollow_dashboard", False):
        return
    original = site.get_app_list

    @wraps(original)
    def get_app_list(request, app_label=None):
        app_list = original(request, app_label)
        if not is_manager(request.user):
            return app_list
        try:
            url = reverse(f"{site.name}:leadfollow_dashboard")
        except NoReverseMatch:
            return app_list
        for app in app_list:
            if app["app_label"] == "leadfollow":
                app["models"].insert(
                    0,
                    {
                        "name": _("Dashboard: cold leads and response times"),
                        "object_name": "Dashboard",
                        "admin_url": url,
                        "add_url": None,
                        "view_only": True,
                        "perms": {"view": True},
                    },
                )
        return app_list

    get_app_list._leadfollow_dashboard = True
    site.get_app_list = get_app_list
