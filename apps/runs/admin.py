from django.contrib import admin

from .models import Run, RunEvent, StepAttempt


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
    list_display = ["external_id", "workflow", "status", "current_step", "source", "created_at"]
    list_filter = ["status", "workflow", "source"]
    search_fields = ["external_id"]
    list_select_related = ["workflow", "current_step"]
    readonly_fields = [
        "workflow",
        "version",
        "external_id",
        "status",
        "current_step",
        "source",
        "created_at",
        "updated_at",
        "finished_at",
    ]
    inlines = [AttemptInline, EventInline]

    def has_add_permission(self, request):
        # Cases enter through intake (API, CSV, the run form), which starts the engine.
        return False


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
