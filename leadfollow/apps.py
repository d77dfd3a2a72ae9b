from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadFollowConfig(AppConfig):
    name = "leadfollow"
    verbose_name = _("Lead follow-up")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from leadfollow import (
            checks,  # noqa: F401  registers the system checks
            engagement,  # noqa: F401  refreshes behaviour points when its rules change
            rulecache,
            scoring,  # noqa: F401  rescores leads when rules change
        )
        from leadfollow.api import authentication
        from leadfollow.webhooks import events

        rulecache.connect_receivers()
        authentication.connect_receivers()  # API keys re-read when one changes
        events.connect_receivers()  # endpoints re-read by every process when one is saved
        if self.apps.is_installed("django.contrib.admin"):
            from leadfollow.admin.reps import add_user_admin_action
            from leadfollow.admin.site import add_dashboard_to_app_list

            add_user_admin_action()
            add_dashboard_to_app_list()
