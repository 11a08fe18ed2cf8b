from django.contrib import admin

from .models import EventLog, Observation, ProcessMap


class ObservationInline(admin.TabularInline):
    model = Observation
    extra = 0
    fields = [
        "kind",
        "activity",
        "text",
        "times_per_week",
        "minutes_each",
        "observed_by",
        "observed_on",
    ]
    autocomplete_fields = ["observed_by"]


class EventLogInline(admin.TabularInline):
    model = EventLog
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["name", "format", "status", "event_count", "case_count", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ProcessMap)
class ProcessMapAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "owner", "status", "workflow", "updated_at"]
    list_filter = ["status", "team"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["team", "owner", "workflow"]
    autocomplete_fields = ["owner"]
    inlines = [ObservationInline, EventLogInline]

    def has_delete_permission(self, request, obj=None):
        # Admin's confirmation page would list every event of every log: delete the logs from
        # the map page first (one query each).
        if obj is not None and obj.logs.exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Observation)
class ObservationAdmin(admin.ModelAdmin):
    list_display = ["kind", "activity", "short_text", "process_map", "observed_by", "observed_on"]
    list_filter = ["kind", "process_map"]
    search_fields = ["text", "activity"]
    list_select_related = ["process_map", "observed_by"]
    autocomplete_fields = ["observed_by"]
    date_hierarchy = "observed_on"

    @admin.display(description="What happens")
    def short_text(self, obj):
        return obj.text[:80]


@admin.register(EventLog)
class EventLogAdmin(admin.ModelAdmin):
    """Logs are imported from the upload page or the command, not typed in here."""

    list_display = [
        "name",
        "process_map",
        "format",
        "status",
        "event_count",
        "case_count",
        "finished_at",
    ]
    list_filter = ["status", "format"]
    search_fields = ["name", "process_map__name"]
    list_select_related = ["process_map"]
    exclude = ["discovery"]
    readonly_fields = [
        "process_map",
        "name",
        "format",
        "status",
        "mapping",
        "uploaded_by",
        "phase",
        "bytes_total",
        "bytes_read",
        "events_read",
        "error",
        "event_count",
        "case_count",
        "created_at",
        "started_at",
        "finished_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # from the map page, which deletes the events in one query
