from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse


class Workflow(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PILOT = "pilot", "Pilot"
        LIVE = "live", "Live"
        PAUSED = "paused", "Paused"
        RETIRED = "retired", "Retired"

    ACCEPTING = (Status.PILOT, Status.LIVE)

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="workflows")
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    went_live_at = models.DateTimeField(null=True, blank=True)
    baseline_minutes = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Measured minutes a person spends on one case without the automation.",
    )
    baseline_source = models.CharField(max_length=200, blank=True)
    baseline_sample_size = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def accepts_cases(self) -> bool:
        return self.status in self.ACCEPTING


class WorkflowVersion(models.Model):
    """An immutable-once-published list of steps. A run pins the version it started on."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    note = models.CharField(max_length=200, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    case_schema = models.JSONField(
        default=dict,
        blank=True,
        help_text="What case data must look like before a case may start, as JSON Schema "
        '(Draft 2020-12), e.g. {"type": "object", "required": ["amount"], "properties": '
        '{"amount": {"type": "number"}, "due_date": {"type": "string", "format": "date"}}}. '
        "Empty: any case data is accepted.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="version_number_unique"),
        ]

    def __str__(self) -> str:
        state = "published" if self.published_at else "draft"
        return f"{self.workflow} v{self.number} ({state})"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    def clean(self) -> None:
        from .schema import case_schema_errors

        if self.case_schema is None:
            self.case_schema = {}
        errors = case_schema_errors(self.case_schema)
        if errors:
            raise ValidationError({"case_schema": errors})


class Step(models.Model):
    class OnFailure(models.TextChoices):
        ESCALATE = "escalate", "Hand the case to a person"
        SKIP = "skip", "Skip the step and carry on"

    version = models.ForeignKey(WorkflowVersion, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    key = models.SlugField(max_length=60, help_text="Stable name of the step within the workflow.")
    name = models.CharField(max_length=200)
    action = models.CharField(max_length=60)
    config = models.JSONField(default=dict, blank=True)
    bounds = models.JSONField(
        default=list,
        blank=True,
        help_text="Expressions over case data that must hold before the step runs, e.g. "
        '["amount <= 10000", "confidence >= 0.8"].',
    )
    # Retry policy.
    max_attempts = models.PositiveIntegerField(default=3)
    initial_interval_s = models.FloatField(default=1.0)
    backoff_coefficient = models.FloatField(default=2.0)
    max_interval_s = models.FloatField(default=300.0)
    jitter = models.FloatField(
        default=0.2, help_text="Share of each delay drawn at random (0 = none, 1 = up to 100%)."
    )
    timeout_s = models.FloatField(default=30.0, help_text="Per-attempt time limit.")
    non_retryable_errors = models.JSONField(
        default=list,
        blank=True,
        help_text='Error codes never retried, e.g. ["http_404", "ConnectionError", "timeout"].',
    )
    on_failure = models.CharField(
        max_length=10, choices=OnFailure.choices, default=OnFailure.ESCALATE
    )

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "position"], name="step_position_unique"),
            models.UniqueConstraint(fields=["version", "key"], name="step_key_unique"),
            models.CheckConstraint(
                condition=models.Q(max_attempts__gte=1), name="step_attempts_gte_1"
            ),
            models.CheckConstraint(
                condition=models.Q(initial_interval_s__gte=0, max_interval_s__gte=0),
                name="step_intervals_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(backoff_coefficient__gte=1), name="step_backoff_gte_1"
            ),
            models.CheckConstraint(
                condition=models.Q(jitter__gte=0, jitter__lte=1), name="step_jitter_0_1"
            ),
            models.CheckConstraint(
                condition=models.Q(timeout_s__gt=0), name="step_timeout_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"

    def clean(self) -> None:
        from .actions import registry

        errors = registry.validate_step(action=self.action, config=self.config, bounds=self.bounds)
        if errors:
            raise ValidationError(errors)


class WorkflowStatusChange(models.Model):
    """One move of a workflow's status: who, when, why. Written only by workflow_set_status;
    survival metrics read when a workflow went live, was paused or retired from these rows."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=10, choices=Workflow.Status.choices)
    to_status = models.CharField(max_length=10, choices=Workflow.Status.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when the system moved it (the demo, a command).",
    )
    at = models.DateTimeField()
    reason = models.TextField()

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["workflow", "at"], name="workflow_status_change_at")]

    def __str__(self) -> str:
        return f"{self.workflow}: {self.from_status} → {self.to_status}"


class IntakeToken(models.Model):
    """A bearer token for the intake API, stored as a SHA-256 digest (the token is random)."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(max_length=12, help_text="First characters, to tell tokens apart.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… for {self.workflow}"

    def get_absolute_url(self) -> str:
        return reverse("admin:workflows_intaketoken_change", args=[self.pk])
