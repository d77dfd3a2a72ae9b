from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from leadfollow.admin.safeinput import SafeLookupsAdminMixin
from leadfollow.models import ApiKey
from leadfollow.models.apikeys import KEY_PREFIX


@admin.register(ApiKey)
class ApiKeyAdmin(SafeLookupsAdminMixin, admin.ModelAdmin):
    """Keys are generated on save and shown once; only their hash is kept."""

    list_display = ["source", "name", "key_id", "events_any_source", "created_at", "revoked_at"]
    list_filter = ["source", "events_any_source", "revoked_at"]
    search_fields = ["source", "name", "prefix"]
    fields = ["source", "name", "events_any_source", "key_id", "created_at", "revoked_at"]
    readonly_fields = ["key_id", "created_at"]
    actions = ["revoke"]
    created_template = "leadfollow/admin/apikey_created.html"

    @admin.display(description=_("key id"))
    def key_id(self, obj: ApiKey) -> str:
        return f"{KEY_PREFIX}_{obj.prefix}" if obj.prefix else "—"

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created, raw_key = ApiKey.objects.create_key(
            source=obj.source, name=obj.name, events_any_source=obj.events_any_source
        )
        obj.pk, obj.prefix, obj.signing_secret = created.pk, created.prefix, created.signing_secret
        obj._raw_key = raw_key

    def response_add(self, request, obj, post_url_continue=None):
        # Shown in this response only, never in a message (messages may live in a cookie).
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "api_key": obj,
            "raw_key": getattr(obj, "_raw_key", ""),
            "title": _("API key created"),
        }
        return TemplateResponse(request, self.created_template, context)

    @admin.action(description=_("Revoke selected keys"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, ngettext("%d key revoked.", "%d keys revoked.", count) % count)
