from django.contrib import admin

from apps.accounts.admin_actions import ask_note_then
from apps.runs.admin import NO_SAVE
from apps.runs.services import IllegalTransition

from .models import Escalation
from .services import EscalationConflict, escalation_resolve

REFUSED = (EscalationConflict, IllegalTransition)


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    """Read here; decided through the inbox's services (the actions below call them), so a
    resolution always hands the run back to the engine."""

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
    actions = ["retry_step", "cancel_case"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), **NO_SAVE}
        return super().change_view(request, object_id, form_url, extra_context)

    def _resolve(self, request, queryset, *, resolution: str, title: str, button: str):
        return ask_note_then(
            self,
            request,
            queryset.select_related("run"),
            title=title,
            button=button,
            apply=lambda escalation, note: escalation_resolve(
                escalation=escalation, user=request.user, resolution=resolution, note=note
            ),
            refused=REFUSED,
        )

    @admin.action(description="Retry the step (a fresh round of attempts)", permissions=["change"])
    def retry_step(self, request, queryset):
        return self._resolve(
            request,
            queryset,
            resolution=Escalation.Resolution.RETRIED,
            title="Retry the step",
            button="Retry",
        )

    @admin.action(description="Cancel the cases", permissions=["change"])
    def cancel_case(self, request, queryset):
        return self._resolve(
            request,
            queryset,
            resolution=Escalation.Resolution.CANCELLED,
            title="Cancel the cases",
            button="Cancel these cases",
        )
