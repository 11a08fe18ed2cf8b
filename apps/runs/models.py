from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class HandoverReason(models.TextChoices):
    """Why the engine hands a case to a person (the escalations app takes these as its reasons)."""

    RETRIES_EXHAUSTED = "retries_exhausted", "Retries exhausted"
    PERMANENT_ERROR = "permanent_error", "Permanent error"
    OUT_OF_BOUNDS = "out_of_bounds", "Out of bounds"
    TIMEOUT = "timeout", "Timed out"
    MANUAL_REVIEW = "manual_review", "Manual review"


class Run(models.Model):
    """One case through one pinned workflow version."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING_RETRY = "waiting_retry", "Waiting to retry"
        ESCALATED = "escalated", "With a person"
        COMPLETED = "completed", "Completed"
        COMPLETED_SKIPPED = "completed_skipped", "Completed with skipped steps"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.WAITING_RETRY)
    FINISHED = (Status.COMPLETED, Status.COMPLETED_SKIPPED, Status.CANCELLED)

    class Source(models.TextChoices):
        API = "api", "Intake API"
        CSV = "csv", "CSV upload"
        MANUAL = "manual", "Entered by hand"
        DEMO = "demo", "Demo"

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.PROTECT, related_name="runs"
    )
    version = models.ForeignKey(
        "workflows.WorkflowVersion", on_delete=models.PROTECT, related_name="runs"
    )
    external_id = models.CharField(max_length=200)
    data = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    current_step = models.ForeignKey(
        "workflows.Step", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    human_minutes = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "external_id"], name="run_external_id_unique_per_workflow"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="run_status_updated"),
            models.Index(fields=["workflow", "-created_at"], name="run_workflow_created"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow.slug}/{self.external_id}"

    def get_absolute_url(self) -> str:
        return reverse("runs:detail", args=[self.pk])


class StepAttempt(models.Model):
    """One try of one step. Created queued (its due time in the database), claimed by a worker."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class ErrorKind(models.TextChoices):
        TRANSIENT = "transient", "Transient"
        PERMANENT = "permanent", "Permanent"
        OUT_OF_BOUNDS = "out_of_bounds", "Out of bounds"
        MANUAL_REVIEW = "manual_review", "Needs a person"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="attempts")
    step = models.ForeignKey("workflows.Step", on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveIntegerField()
    try_number = models.PositiveIntegerField(
        default=1,
        help_text="Attempt within the current round of the retry policy; a person's retry or "
        "resume starts a new round.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    due_at = models.DateTimeField(help_text="When the attempt may start (retries wait).")
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_kind = models.CharField(max_length=16, choices=ErrorKind.choices, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(default=dict, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    job_id = models.CharField(max_length=100, blank=True)
    # The lease: the worker running the attempt renews lease_expires_at; only the holder of
    # lease_token may record the outcome, so an attempt recovered from a worker presumed dead
    # is recorded once even if that worker wakes up.
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    recoveries = models.PositiveIntegerField(
        default=0, help_text="Times the attempt was taken back from a worker that stopped."
    )
    parked_on = models.CharField(
        max_length=200, blank=True, help_text="Target whose open circuit holds this attempt back."
    )
    # Set from the database clock at the claim: past it (plus a grace period) the attempt has
    # timed out whatever its worker says, and no heartbeat extends its lease beyond it.
    deadline_at = models.DateTimeField(null=True, blank=True)
    # The worker's last sign of life (database clock). Seen past the deadline, the worker was
    # stuck in the step (a timeout); last seen before it, the worker died (a recovery).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(
        max_length=120,
        blank=True,
        help_text="Sent to the systems the step calls. Automatic retries and recoveries reuse "
        "it; a person's resume or retry starts a new one.",
    )

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "step", "number"], name="attempt_number_unique_per_run_step"
            ),
            models.UniqueConstraint(
                fields=["run", "step"],
                condition=Q(status="succeeded"),
                name="one_successful_attempt_per_run_step",
            ),
            models.UniqueConstraint(
                fields=["run"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_attempt_per_run",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="attempt_status_due"),
            models.Index(fields=["status", "lease_expires_at"], name="attempt_status_lease"),
            models.Index(fields=["status", "enqueued_at"], name="attempt_status_enqueued"),
        ]

    def __str__(self) -> str:
        return f"{self.run} · {self.step.key} #{self.number}"

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class RunEvent(models.Model):
    """The append-only timeline of a run."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        STEP_STARTED = "step_started", "Step started"
        STEP_SUCCEEDED = "step_succeeded", "Step succeeded"
        STEP_FAILED = "step_failed", "Step failed"
        STEP_SKIPPED = "step_skipped", "Step skipped"
        RETRY_SCHEDULED = "retry_scheduled", "Retry scheduled"
        ESCALATED = "escalated", "Handed to a person"
        CLAIMED = "claimed", "Claimed"
        COMMENTED = "commented", "Commented"
        RESOLVED = "resolved", "Resolved"
        RESUMED = "resumed", "Resumed"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        RECOVERED = "recovered", "Recovered"
        PARKED = "parked", "Parked"
        CIRCUIT_OPENED = "circuit_opened", "Circuit opened"
        CIRCUIT_CLOSED = "circuit_closed", "Circuit closed"
        ALERT_SENT = "alert_sent", "Alert sent"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    step = models.ForeignKey(
        "workflows.Step", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    attempt = models.ForeignKey(
        StepAttempt, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    message = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run", "at", "id"]
        indexes = [models.Index(fields=["run", "at"], name="event_run_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.get_kind_display()}"

    @property
    def actor_label(self) -> str:
        return self.actor.get_username() if self.actor else "system"


class Circuit(models.Model):
    """A circuit breaker for one external target (the host an http.request step calls).

    Closed: calls go through. Open: after ``threshold`` consecutive transient failures, attempts
    that call the target are parked until ``retry_at`` instead of burning their retries.
    Half-open: one probe goes through; its success closes the circuit, its failure opens it
    again.
    """

    class State(models.TextChoices):
        CLOSED = "closed", "Closed"
        OPEN = "open", "Open"
        HALF_OPEN = "half_open", "Half-open"

    target = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    probe_started_at = models.DateTimeField(null=True, blank=True)
    times_opened = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["target"]

    def __str__(self) -> str:
        return f"{self.target} ({self.get_state_display()})"
