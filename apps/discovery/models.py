from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class ProcessMap(models.Model):
    """A process under study: what people saw (observations) and what the systems logged."""

    class Status(models.TextChoices):
        MAPPING = "mapping", "Mapping"
        AUTOMATING = "automating", "Automating"
        LIVE = "live", "Live"

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="process_maps")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_process_maps",
    )
    description = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.MAPPING)
    workflow = models.ForeignKey(
        "workflows.Workflow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Set on the map of a workflow's own runs (its event log is built from them).",
    )
    # Ideal versus real: one or more ideal paths (ordered activities); a case conforms when it
    # follows one of them exactly, or deviates only in ways listed as accepted.
    ideal_paths = models.JSONField(default=list, blank=True)
    ideal_source = models.CharField(max_length=200, blank=True)
    accepted_deviations = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow"],
                condition=Q(workflow__isnull=False),
                name="one_runs_map_per_workflow",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("discovery:map", args=[self.slug])


class Observation(models.Model):
    """A note typed in by someone who watched the work being done."""

    class Kind(models.TextChoices):
        BOTTLENECK = "bottleneck", "Bottleneck"
        EXCEPTION = "exception", "Exception"
        IMPLICIT_DECISION = "implicit_decision", "Implicit decision"
        WORKAROUND = "workaround", "Workaround"
        HANDOFF = "handoff", "Handoff"
        NOTE = "note", "Note"

    process_map = models.ForeignKey(
        ProcessMap, on_delete=models.CASCADE, related_name="observations"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.NOTE)
    activity = models.CharField(
        max_length=255, blank=True, help_text="The activity it happens at (blank: the whole map)."
    )
    text = models.TextField()
    times_per_week = models.DecimalField(
        "how often (times a week)", max_digits=8, decimal_places=1, null=True, blank=True
    )
    minutes_each = models.PositiveIntegerField("minutes it costs each time", null=True, blank=True)
    observed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="observations",
        verbose_name="seen by",
    )
    observed_on = models.DateField("seen on")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-observed_on", "-id"]
        indexes = [models.Index(fields=["process_map", "kind"], name="observation_map_kind")]
        constraints = [
            models.CheckConstraint(
                condition=Q(times_per_week__isnull=True) | Q(times_per_week__gte=0),
                name="observation_frequency_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:60]}"

    @property
    def minutes_per_week(self):
        if self.times_per_week is None or self.minutes_each is None:
            return None
        return self.times_per_week * self.minutes_each


class EventLog(models.Model):
    """An imported log. Its events arrive all at once, in one transaction, or not at all."""

    class Status(models.TextChoices):
        MAPPING = "mapping", "Waiting for its columns"
        QUEUED = "queued", "Queued"
        IMPORTING = "importing", "Importing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XES = "xes", "XES"
        RUNS = "runs", "Handoff runs"

    process_map = models.ForeignKey(ProcessMap, on_delete=models.CASCADE, related_name="logs")
    name = models.CharField(max_length=200)
    format = models.CharField(max_length=4, choices=Format.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    mapping = models.JSONField(
        default=dict, blank=True, help_text="CSV columns: case, activity, timestamp, resource."
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Progress of the import, written outside its transaction so the page can poll it.
    phase = models.CharField(max_length=40, blank=True)
    bytes_total = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    events_read = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Set when ready (the import's transaction).
    event_count = models.PositiveIntegerField(default=0)
    case_count = models.PositiveIntegerField(default=0)
    discovery = models.JSONField(
        null=True, blank=True, help_text="Mining results, computed when the import finished."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("discovery:log", args=[self.process_map.slug, self.pk])

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.READY:
            return 100
        if not self.bytes_total:
            return 0
        # Reading the file is most of the work; writing the events is the last tenth.
        return min(90, int(90 * self.bytes_read / self.bytes_total))

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.IMPORTING)

    @property
    def looks_stuck(self) -> bool:
        """Queued for minutes with no worker taking it (Redis lost the job, or no worker runs)."""
        from django.utils import timezone

        return (
            self.status == self.Status.QUEUED
            and (timezone.now() - self.created_at).total_seconds() > 120
        )


class EventLogFile(models.Model):
    """The uploaded file, kept in the database (not on a web server's disk) so that any worker
    can import it; gzip-compressed. Deleted once the import succeeds."""

    log = models.OneToOneField(EventLog, on_delete=models.CASCADE, related_name="file")
    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    size = models.BigIntegerField(help_text="Bytes stored (gzip-compressed).")

    def __str__(self) -> str:
        return self.filename


class Event(models.Model):
    log = models.ForeignKey(EventLog, on_delete=models.CASCADE, related_name="events")
    case_id = models.CharField(max_length=255)
    activity = models.CharField(max_length=255)
    timestamp = models.DateTimeField()
    resource = models.CharField(max_length=255, blank=True)
    position = models.PositiveIntegerField(help_text="Order in the file (breaks timestamp ties).")

    class Meta:
        ordering = ["log", "case_id", "timestamp", "position"]
        indexes = [
            models.Index(fields=["log", "case_id", "timestamp", "position"], name="event_case"),
            models.Index(fields=["log", "activity"], name="event_activity"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} · {self.activity} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"
