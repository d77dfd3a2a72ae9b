from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadFollowConfig(AppConfig):
    name = "leadfollow"
    verbose_name = _("Lead follow-up")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from leadfollow import (
            checks,  # noqa: F401  registers the system checks
            rulecache,
            scoring,  # noqa: F401  rescores leads when rules change
        )

        rulecache.connect_receivers()
        if self.apps.is_installed("django.contrib.admin"):
            from leadfollow.admin.reps import add_user_admin_action
            from leadfollow.admin.site import add_dashboard_to_app_list

            add_user_admin_action()
            add_dashboard_to_app_list()
