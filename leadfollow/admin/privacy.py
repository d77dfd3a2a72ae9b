"""Admin doors to leadfollow.privacy: erase and export actions on leads, the audit trail."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadfollow import privacy
from leadfollow.admin.readonly import ReadOnlyAdminMixin
from leadfollow.admin.safeinput import SafeLookupsAdminMixin
from leadfollow.models import OPEN_STATUSES, ErasureRecord, ErasureVia
from leadfollow.people import is_manager


class PrivacyActionsMixin:
    """For LeadAdmin: "Erase personal data…" (with a confirmation page) and "Export"."""

    erase_template = "admin/leadfollow/lead/erase_personal_data.html"

    def has_manage_permission(self, request) -> bool:
        return is_manager(request.user)

    @admin.action(permissions=["manage"], description=_("Erase personal data…"))
    def erase_personal_data(self, request, queryset):
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        if "apply" in request.POST:
            force = request.POST.get("force") == "1"
            try:
                result = privacy.erase(ids, actor=request.user, via=ErasureVia.ADMIN, force=force)
            except privacy.LeadsStillOpen as error:
                self.message_user(request, str(error), messages.ERROR)
                return None
            self.message_user(
                request,
                gettext("Erased %(records)s record(s) of %(leads)s lead(s).")
                % {"records": result.records, "leads": len(result.lead_ids)},
                messages.SUCCESS if result.records else messages.INFO,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Erase personal data"),
            "opts": self.model._meta,
            "lead_ids": ids,
            "open_count": queryset.filter(status__in=OPEN_STATUSES, erased_at__isnull=True).count(),
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action": "erase_personal_data",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "query": request.GET.urlencode(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.erase_template, context)

    @admin.action(permissions=["manage"], description=_("Export personal data (JSON)"))
    def export_personal_data(self, request, queryset):
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        document = privacy.export_leads(ids)
        response = HttpResponse(
            json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True),
            content_type="application/json; charset=utf-8",
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="leadfollow-export-{stamp}.json"'
        return response


@admin.register(ErasureRecord)
class ErasureRecordAdmin(SafeLookupsAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the audit trail is written by leadfollow.privacy.erase alone."""

    list_display = ["created_at", "via", "actor", "records", "forced", "lead_ids"]
    list_filter = ["via", "forced"]
    readonly_fields = ["created_at", "via", "actor", "forced", "lead_ids", "counts", "records"]

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or is_manager(request.user)

    def has_module_permission(self, request):
        return super().has_module_permission(request) or is_manager(request.user)
