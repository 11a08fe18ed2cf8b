from django.contrib import admin

from .models import Escalation


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = [
        "opened_at",
        "run",
        "team",
        "reason",
        "status",
        "priority",
        "due_at",
        "assignee",
    ]
    list_filter = ["status", "reason", "team", "priority"]
    list_select_related = ["run", "workflow", "team", "assignee"]
    search_fields = ["case_ref", "summary"]
    readonly_fields = [
        "run",
        "step",
        "attempt",
        "team",
        "reason",
        "summary",
        "detail",
        "opened_at",
        "claimed_at",
        "resolved_at",
        "resolution",
        "human_minutes",
    ]

    def has_add_permission(self, request):
        return False
