from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from .actions import registry
from .models import IntakeToken, Step, Workflow, WorkflowVersion


class StepForm(forms.ModelForm):
    action = forms.ChoiceField(choices=registry.choices)

    class Meta:
        model = Step
        fields = [
            "position",
            "key",
            "name",
            "action",
            "config",
            "bounds",
            "max_attempts",
            "timeout_s",
            "initial_interval_s",
            "backoff_coefficient",
            "max_interval_s",
            "jitter",
            "non_retryable_errors",
            "on_failure",
        ]


class StepInline(admin.StackedInline):
    model = Step
    form = StepForm
    extra = 0
    fieldsets = [
        (None, {"fields": [("position", "key", "name"), "action", "config", "bounds"]}),
        (
            "Retry policy and failure",
            {
                "fields": [
                    ("max_attempts", "timeout_s"),
                    ("initial_interval_s", "backoff_coefficient", "max_interval_s", "jitter"),
                    "non_retryable_errors",
                    "on_failure",
                ]
            },
        ),
    ]

    def has_add_permission(self, request, obj=None):
        return obj is None or not obj.is_published

    def has_change_permission(self, request, obj=None):
        # A published version is what runs are pinned to: it never changes.
        return obj is None or not obj.is_published

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.is_published


class VersionInline(admin.TabularInline):
    model = WorkflowVersion
    fields = ["number", "note", "published_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "team", "status", "went_live_at"]
    list_filter = ["status", "team"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [VersionInline]


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ["workflow", "number", "note", "published_at", "step_count"]
    list_filter = ["workflow"]
    inlines = [StepInline]
    actions = ["publish", "copy_as_draft"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("workflow")

    def get_readonly_fields(self, request, obj=None):
        return (
            ["workflow", "number", "published_at"] if obj and obj.is_published else ["published_at"]
        )

    @admin.display(description="Steps")
    def step_count(self, obj: WorkflowVersion) -> int:
        return obj.steps.count()

    @admin.action(description="Publish (new cases start on it; it can no longer be edited)")
    def publish(self, request, queryset):
        from .services import version_publish

        for version in queryset:
            try:
                version_publish(version=version)
            except ValueError as exc:
                self.message_user(request, f"{version}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{version} published.")

    @admin.action(description="Copy as a new draft version")
    def copy_as_draft(self, request, queryset):
        from .services import version_copy

        for version in queryset:
            copy = version_copy(version=version, user=request.user)
            self.message_user(request, f"Draft {copy} created from v{version.number}.")


@admin.register(IntakeToken)
class IntakeTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "workflow", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["workflow"]
    readonly_fields = ["workflow", "prefix", "digest", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        # Tokens are made by `manage.py intake_token <slug>`, which shows the token once.
        return False

    @admin.action(description="Revoke")
    def revoke(self, request, queryset):
        with transaction.atomic():
            count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} token(s) revoked.")
