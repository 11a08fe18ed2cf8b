"""Handoff's own runs as an event log: a workflow's RunEvents, opened as a process map.

Each run is a case (its external id); each timeline entry that says what happened to the case
becomes an activity named after the step or the human decision. Bookkeeping entries (a step
starting, comments, alerts, circuit changes) are left out: they are not steps of the process.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.escalations.models import Escalation
from apps.runs.models import RunEvent
from apps.workflows.models import Workflow

from ..models import EventLog, ProcessMap
from .imports import enqueue_import_after_commit
from .maps import unique_slug

RECEIVED = "Case received"
COMPLETED = "Completed"
SYSTEM = "system"

_FIXED = {
    RunEvent.Kind.CREATED: RECEIVED,
    RunEvent.Kind.ESCALATED: "Handed to a person",
    RunEvent.Kind.CLAIMED: "Claimed by a person",
    RunEvent.Kind.RESUMED: "Resumed",
    RunEvent.Kind.COMPLETED: COMPLETED,
    RunEvent.Kind.CANCELLED: "Cancelled",
    RunEvent.Kind.RECOVERED: "Recovered after a lost job",
    RunEvent.Kind.PARKED: "Parked (circuit open)",
}
_PER_STEP = {
    RunEvent.Kind.STEP_SUCCEEDED: "{step}",
    RunEvent.Kind.STEP_FAILED: "{step} failed",
    RunEvent.Kind.RETRY_SCHEDULED: "Retry {step}",
    RunEvent.Kind.STEP_SKIPPED: "{step} skipped",
}
_RESOLUTIONS = dict(Escalation.Resolution.choices)


def activity_of(event: RunEvent) -> str | None:
    """The activity a timeline entry stands for, or None for bookkeeping."""
    if event.kind in _FIXED:
        return _FIXED[event.kind]
    if event.kind in _PER_STEP:
        name = event.step.name if event.step_id else "step"
        return _PER_STEP[event.kind].format(step=name)
    if event.kind == RunEvent.Kind.RESOLVED:
        how = _RESOLUTIONS.get((event.detail or {}).get("resolution"), "by a person")
        return f"Resolved: {how}"
    return None


def runs_events(workflow: Workflow) -> Iterator[tuple[str, str, datetime, str]]:
    """The workflow's runs as ``(case, activity, timestamp, resource)``, in timeline order."""
    entries = (
        RunEvent.objects.filter(run__workflow=workflow)
        .exclude(kind__in=_SKIPPED_KINDS)
        .select_related("run", "step", "actor")
        .order_by("run_id", "at", "id")
    )
    for event in entries.iterator(chunk_size=5000):
        activity = activity_of(event)
        if activity is None:
            continue
        resource = event.actor.get_username() if event.actor_id else SYSTEM
        yield event.run.external_id, activity, event.at, resource


_SKIPPED_KINDS = [
    RunEvent.Kind.STEP_STARTED,
    RunEvent.Kind.COMMENTED,
    RunEvent.Kind.ALERT_SENT,
    RunEvent.Kind.CIRCUIT_OPENED,
    RunEvent.Kind.CIRCUIT_CLOSED,
]


def workflow_steps_path(workflow: Workflow, *, with_bounds: bool = False) -> list[str]:
    """The ideal path a workflow's newest published version describes (its step names), with
    the runs log's first and last activities when ``with_bounds``."""
    version = workflow.versions.filter(published_at__isnull=False).order_by("-number").first()
    steps = [s.name for s in version.steps.order_by("position")] if version else []
    return [RECEIVED, *steps, COMPLETED] if with_bounds else steps


@transaction.atomic
def workflow_runs_log(*, workflow: Workflow, user=None) -> EventLog:
    """A new log of the workflow's runs, on the workflow's own process map (made on first use),
    imported in the background like an uploaded file."""
    process_map = ProcessMap.objects.filter(workflow=workflow).first()
    if process_map is None:
        name = f"{workflow.name}: runs"
        process_map = ProcessMap.objects.create(
            slug=unique_slug(f"{workflow.slug}-runs"),
            name=name,
            team=workflow.team,
            owner=user,
            description=f"How the workflow {workflow.name} really runs, from its run timelines.",
            status=ProcessMap.Status.LIVE
            if workflow.status == Workflow.Status.LIVE
            else ProcessMap.Status.AUTOMATING,
            workflow=workflow,
            ideal_paths=[workflow_steps_path(workflow, with_bounds=True)],
            ideal_source=f"steps of {workflow.name}",
        )
    log = EventLog.objects.create(
        process_map=process_map,
        name=f"Runs until {timezone.localtime():%Y-%m-%d %H:%M}",
        format=EventLog.Format.RUNS,
        status=EventLog.Status.QUEUED,
        uploaded_by=user,
    )
    enqueue_import_after_commit(log.pk)
    return log
