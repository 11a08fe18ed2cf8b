from django.conf import settings
from django.db import models
from django.db.models import Q


class ManualCase(models.Model):
    """A case a team member handled by hand, outside the automation.

    Timed (a start/stop timer: ``started_at`` and ``finished_at``) it is a measurement of the
    manual way, what the baseline is; typed (``minutes`` given) it is kept but is not a
    measurement. Either way it counts as bypass in the period it was recorded. A timer that is
    still running has no ``finished_at`` yet.
    """

    class Reason(models.TextChoices):
        AUTOMATION_DOWN = "automation_down", "The automation was down"
        NOT_SUPPORTED = "not_supported", "The case is not supported"
        FASTER_BY_HAND = "faster_by_hand", "Faster by hand"
        DIDNT_KNOW = "didnt_know", "Didn't know about the automation"
        BASELINE = "baseline", "Timing the manual way (baseline)"
        OTHER = "other", "Other"

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.PROTECT, related_name="manual_cases"
    )
    external_id = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="manual_cases"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="Timer start.")
    finished_at = models.DateTimeField(null=True, blank=True, help_text="Timer stop.")
    timed = models.BooleanField(
        default=False, help_text="Measured with the start/stop timer (typed minutes are not)."
    )
    minutes = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    recorded_at = models.DateTimeField(help_text="When it was done (the timer's stop).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes__isnull=True) | Q(minutes__gte=0),
                name="manual_case_minutes_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(timed=False) | Q(started_at__isnull=False),
                name="manual_case_timed_has_start",
            ),
            # One running timer per person.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(timed=True, finished_at__isnull=True),
                name="one_running_timer_per_user",
            ),
        ]
        indexes = [
            models.Index(fields=["workflow", "recorded_at"], name="manual_case_wf_recorded"),
            models.Index(fields=["workflow", "external_id"], name="manual_case_wf_external"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow.slug}/{self.external_id or self.pk} by hand"


class CensusCase(models.Model):
    """A case the source system reports as having occurred. One that matches neither a run nor
    a manual case (by external id) went around Handoff."""

    class Source(models.TextChoices):
        API = "api", "Census API"
        CSV = "csv", "CSV upload"
        DEMO = "demo", "Demo"

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.PROTECT, related_name="census_cases"
    )
    external_id = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    reported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "external_id"], name="census_external_id_unique_per_workflow"
            ),
        ]
        indexes = [
            models.Index(fields=["workflow", "occurred_at"], name="census_wf_occurred"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow.slug}/{self.external_id} (census)"
