from django.contrib import admin

from leadfollow.models import ScoringRule


@admin.register(ScoringRule)
class ScoringRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "field_path", "operator", "value", "points", "active"]
    list_filter = ["active", "operator"]
    list_editable = ["active"]
    search_fields = ["name", "field_path", "note"]
