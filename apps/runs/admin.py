from django.contrib import admin

from apps.accounts.admin_actions import ask_note_then

from .models import Run, RunEvent, StepAttempt
from .services import IllegalTransition, run_cancel

NO_SAVE = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AttemptInline(ReadOnlyInline):
    model = StepAttempt
    fields = ["step", "number", "status", "started_at", "finished_at", "error_kind", "message"]


class EventInline(ReadOnlyInline):
    model = RunEvent
    fields = ["at", "kind", "step", "actor", "message"]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Runs are read here and changed only through the engine's services: a form that saved a
    run would write back its case data as it was when the page opened, over a worker's."""

    list_display = ["external_id", "workflow", "status", "current_step", "source", "created_at"]
    list_filter = ["status", "workflow", "source"]
    search_fields = ["external_id"]
    list_select_related = ["workflow", "current_step"]
    inlines = [AttemptInline, EventInline]
    actions = ["cancel"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Nothing on the page is editable: no save buttons that would pretend otherwise.
        extra_context = {**(extra_context or {}), **NO_SAVE}
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request):
        # Cases enter through intake (API, CSV, the run form), which starts the engine.
        return False

    def has_delete_permission(self, request, obj=None):
        # A deleted run loses its timeline; cancel it instead.
        return False

    @admin.action(description="Cancel the selected cases", permissions=["change"])
    def cancel(self, request, queryset):
        return ask_note_then(
            self,
            request,
            queryset.select_related("workflow"),
            title="Cancel cases",
            button="Cancel these cases",
            apply=lambda run, note: run_cancel(run=run, user=request.user, note=note),
            refused=(IllegalTransition,),
        )


@admin.register(StepAttempt)
class StepAttemptAdmin(admin.ModelAdmin):
    list_display = ["run", "step", "number", "status", "error_kind", "error_code", "started_at"]
    list_filter = ["status", "error_kind"]
    list_select_related = ["run__workflow", "step"]
    search_fields = ["run__external_id", "error_code", "message"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RunEvent)
class RunEventAdmin(admin.ModelAdmin):
    list_display = ["at", "run", "kind", "actor", "message"]
    list_filter = ["kind"]
    list_select_related = ["run__workflow", "actor"]
    search_fields = ["run__external_id", "message"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
