from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.runs.models import HandoverReason


class EscalationQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(status=Escalation.Status.RESOLVED)


class Escalation(models.Model):
    """A case handed to a person, with the reason in plain words."""

    # The engine names the reason when it hands a case over; the inbox shows the same labels.
    Reason = HandoverReason

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLAIMED = "claimed", "Claimed"
        RESOLVED = "resolved", "Resolved"

    class Priority(models.IntegerChoices):
        LOW = 1, "Low"
        NORMAL = 2, "Normal"
        HIGH = 3, "High"
        URGENT = 4, "Urgent"

    class Resolution(models.TextChoices):
        RESUMED = "resumed", "Resumed after editing data"
        RETRIED = "retried", "Step retried"
        SKIPPED = "skipped", "Step skipped"
        DONE_BY_HAND = "done_by_hand", "Completed by hand"
        CANCELLED = "cancelled", "Case cancelled"

    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="escalations")
    step = models.ForeignKey(
        "workflows.Step", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    attempt = models.ForeignKey(
        "runs.StepAttempt", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="escalations")
    # Copied from the run when the escalation opens, so the inbox filters and searches on this
    # table alone instead of joining a million runs.
    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.PROTECT, related_name="escalations"
    )
    case_ref = models.CharField(max_length=200, help_text="The run's external id.")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    summary = models.TextField(help_text="What went wrong, in plain words.")
    detail = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="escalations",
    )
    opened_at = models.DateTimeField()
    due_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.TextField(blank=True)
    human_minutes = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)

    objects = EscalationQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run"],
                condition=~Q(status="resolved"),
                name="one_open_escalation_per_run",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "status", "due_at"], name="escalation_team_status_due"),
            # The inbox's pages: unresolved escalations by due time, overall and per workflow.
            models.Index(
                fields=["due_at", "id"],
                condition=~Q(status="resolved"),
                name="escalation_unresolved_due",
            ),
            models.Index(
                fields=["workflow", "due_at", "id"],
                condition=~Q(status="resolved"),
                name="escalation_unresolved_wf_due",
            ),
            # The tab counts read only this index (PostgreSQL; other databases ignore include).
            models.Index(
                fields=["team", "due_at"],
                include=["assignee", "status"],
                condition=~Q(status="resolved"),
                name="escalation_unresolved_team",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: {self.run}"

    @property
    def is_resolved(self) -> bool:
        return self.status == self.Status.RESOLVED

    def is_overdue(self, now=None) -> bool:
        """Past its due time and still waiting for a person."""
        return not self.is_resolved and self.due_at < (now or timezone.now())


class Comment(models.Model):
    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author} on {self.escalation_id}: {self.text[:40]}"
