from django.conf import settings
from django.db import models
from django.db.models import Q


class IncidentQuerySet(models.QuerySet):
    def unresolved(self):
        return self.exclude(status=Incident.Status.RESOLVED)


class Incident(models.Model):
    """One problem, however often it is seen: deduplicated by its fingerprint while unresolved.

    Its first seen, acknowledged and resolved times are what metrics read for time to
    acknowledge and time to recover.
    """

    class Kind(models.TextChoices):
        CIRCUIT_OPEN = "circuit_open", "A system Handoff calls is down"
        ERROR_SIGNATURE = "error_signature", "A step fails for many cases"
        NO_WORKER = "no_worker", "No worker is running"
        SCHEDULER_SILENT = "scheduler_silent", "The scheduler is silent"
        BACKLOG = "backlog", "Steps wait too long to start"
        SLA_OVERDUE = "sla_overdue", "Cases are past their SLA"
        RECOVERED = "recovered", "Lost or stuck cases were recovered"
        CHANNEL_DOWN = "channel_down", "An alert channel cannot deliver"
        ZOMBIE = "zombie", "A live workflow that is not alive"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        SNOOZED = "snoozed", "Snoozed"
        RESOLVED = "resolved", "Resolved"

    fingerprint = models.CharField(max_length=255)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=300, help_text="What broke, in plain words.")
    detail = models.JSONField(default=dict, blank=True)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    workflow = models.ForeignKey(
        "workflows.Workflow",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    occurrences = models.PositiveIntegerField(default=1)
    regression_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="regressions",
        help_text="The resolved incident with the same fingerprint that this one brings back.",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when it resolved itself.",
    )
    note = models.TextField(blank=True)
    runs = models.ManyToManyField("runs.Run", blank=True, related_name="incidents")

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=~Q(status="resolved"),
                name="one_unresolved_incident_per_fingerprint",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "status", "-last_seen"], name="incident_team_status"),
            models.Index(fields=["workflow", "resolved_at"], name="incident_workflow_resolved"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_resolved(self) -> bool:
        return self.status == self.Status.RESOLVED
