from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse

from .actions import registry
from .models import IntakeToken, Step, Workflow, WorkflowStatusChange, WorkflowVersion
from .services import REASON_REQUIRED, intake_token_revoke, workflow_set_status


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


class StatusChangeInline(admin.TabularInline):
    model = WorkflowStatusChange
    fields = ["at", "from_status", "to_status", "who", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "status change"
    verbose_name_plural = "Status history"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")

    def has_view_permission(self, request, obj=None):
        # Whoever may see a workflow sees its history; the rows have no admin page of their own.
        return request.user.has_perm("workflows.view_workflow") or request.user.has_perm(
            "workflows.change_workflow"
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="By")
    def who(self, obj: WorkflowStatusChange) -> str:
        return obj.changed_by.get_username() if obj.changed_by else "system"


class StatusMoveForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Kept in each workflow's status history, with your name and the time.",
        error_messages={"required": REASON_REQUIRED},
    )


# (status, label of the action): each asks for a reason on a confirmation page first.
STATUS_ACTIONS = [
    (Workflow.Status.PILOT, "Move to pilot…"),
    (Workflow.Status.LIVE, "Go live…"),
    (Workflow.Status.PAUSED, "Pause…"),
    (Workflow.Status.DRAFT, "Back to draft…"),
    (Workflow.Status.RETIRED, "Retire…"),
]


def _status_action(status: str, description: str):
    def action(modeladmin: "WorkflowAdmin", request, queryset):
        return modeladmin.set_status(request, queryset, status=status)

    action.__name__ = f"set_status_{status}"
    return admin.action(description=description, permissions=["change"])(action)


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "team", "status", "went_live_at"]
    list_filter = ["status", "team"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    # Status moves go through workflow_set_status (the actions below), which keeps the history.
    readonly_fields = ["status", "went_live_at"]
    inlines = [VersionInline, StatusChangeInline]
    actions = [_status_action(status, label) for status, label in STATUS_ACTIONS]

    def set_status(self, request, queryset, *, status: str):
        """Ask for a reason (Django admin's confirmation-page style), then move each one."""
        form = StatusMoveForm(request.POST if request.POST.get("post") else None)
        if form.is_valid():
            for workflow in queryset:
                try:
                    workflow_set_status(
                        workflow=workflow,
                        status=status,
                        user=request.user,
                        reason=form.cleaned_data["reason"],
                    )
                except (ValidationError, PermissionDenied) as exc:
                    text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                    self.message_user(request, f"{workflow}: {text}", messages.ERROR)
                else:
                    self.message_user(
                        request, f"{workflow} is now {workflow.get_status_display().lower()}."
                    )
            return None
        label = Workflow.Status(status).label.lower()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Move to {label}: why?",
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "status_label": label,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/workflows/workflow/set_status.html", context)


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ["workflow", "number", "note", "published_at", "step_count"]
    list_filter = ["workflow"]
    inlines = [StepInline]
    actions = ["publish", "copy_as_draft"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("workflow")

    def get_readonly_fields(self, request, obj=None):
        # A published version's steps and case schema are what its runs were checked against.
        if obj and obj.is_published:
            return ["workflow", "number", "published_at", "case_schema"]
        return ["published_at"]

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

    @admin.action(description="Revoke", permissions=["change"])
    def revoke(self, request, queryset):
        count = intake_token_revoke(tokens=queryset, user=request.user)
        self.message_user(request, f"{count} token(s) revoked.")
