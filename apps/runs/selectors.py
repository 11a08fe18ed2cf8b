"""Reads for the run pages and the health check."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Prefetch, QuerySet
from rq import Worker

from apps.accounts.selectors import sees_all_teams, visible_workflows
from apps.workflows.models import Step

from .models import Run, RunEvent, StepAttempt

# ---------------------------------------------------------------------------------------------
# Runs


def run_list(*, user) -> QuerySet[Run]:
    """Runs of the workflows ``user`` may see, with what a table row shows already joined."""
    runs = Run.objects.select_related("workflow", "version", "current_step")
    if sees_all_teams(user):
        return runs
    return runs.filter(workflow__in=visible_workflows(user))


@dataclass
class StepState:
    step: Step
    state: str  # pending, queued, running, waiting_retry, succeeded, failed, escalated, skipped
    label: str
    attempts: int = 0
    is_current: bool = False


@dataclass
class RunDetail:
    run: Run
    # The apps built on runs add to a run through its reverse relations; runs does not import
    # them (the escalations app's Escalation here).
    escalation: Any | None
    steps: list[StepState]
    attempts: list[StepAttempt]
    events: list[RunEvent]
    escalations: list[Any] = field(default_factory=list)

    @property
    def escalation_overdue(self) -> bool:
        return self.escalation is not None and self.escalation.is_overdue()


STEP_STATE_LABELS = {
    "pending": "Not reached",
    "queued": "Queued",
    "running": "Running",
    "waiting_retry": "Waiting to retry",
    "succeeded": "Done",
    "failed": "Failed",
    "escalated": "With a person",
    "skipped": "Skipped",
    "cancelled": "Cancelled",
}
# Only a person starts a new round of a step's attempts (escalation retry or resume).
REQUEUED_LABEL = "Queued again by a person"


def run_detail(*, user, pk: int) -> RunDetail:
    """Everything the run page shows; raises ``Run.DoesNotExist`` for a run ``user`` may not see."""
    run = run_list(user=user).select_related("workflow__team").get(pk=pk)
    attempts = list(run.attempts.select_related("step").order_by("id"))
    events = list(run.events.select_related("actor", "step").order_by("at", "id"))
    escalations = list(run.escalations.select_related("assignee", "step").order_by("-opened_at"))
    open_escalation = next((e for e in escalations if not e.is_resolved), None)
    steps = _step_states(
        run=run,
        steps=list(run.version.steps.order_by("position")),
        attempts=attempts,
        skipped={e.step_id for e in events if e.kind == RunEvent.Kind.STEP_SKIPPED},
    )
    return RunDetail(
        run=run,
        escalation=open_escalation,
        steps=steps,
        attempts=attempts,
        events=events,
        escalations=escalations,
    )


def _step_states(
    *, run: Run, steps: list[Step], attempts: list[StepAttempt], skipped: set[int]
) -> list[StepState]:
    """Where each step of the pinned version stands, judged from its latest attempt."""
    latest: dict[int, StepAttempt] = {}
    counts: dict[int, int] = {}
    for attempt in attempts:
        latest[attempt.step_id] = attempt
        counts[attempt.step_id] = counts.get(attempt.step_id, 0) + 1
    states = []
    for step in steps:
        last = latest.get(step.pk)
        is_current = run.current_step_id == step.pk and run.status not in Run.FINISHED
        if step.pk in skipped:
            state = "skipped"
        elif last is None:
            state = "pending"
        elif (
            last.status == StepAttempt.Status.FAILED
            and is_current
            and (run.status == Run.Status.ESCALATED)
        ):
            state = "escalated"
        elif last.status == StepAttempt.Status.QUEUED and last.try_number > 1:
            # Only the policy's own retries wait; a person's retry or resume starts a new round
            # (try_number 1) and is simply queued.
            state = "waiting_retry"
        else:
            state = last.status
        requeued = state == "queued" and last.number > 1
        states.append(
            StepState(
                step=step,
                state=state,
                label=REQUEUED_LABEL if requeued else STEP_STATE_LABELS[state],
                attempts=counts.get(step.pk, 0),
                is_current=is_current,
            )
        )
    return states


# ---------------------------------------------------------------------------------------------
# Health

CHECK_TIMEOUT_S = 1.0


def system_health() -> dict:
    """The state of the database, Redis and the RQ workers; never raises.

    Failures report the exception's class name only: messages can carry hosts and credentials.
    """
    report = {"database": _check_database()}
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=CHECK_TIMEOUT_S,
            socket_timeout=CHECK_TIMEOUT_S,
            retry_on_timeout=False,
        )
    except Exception as exc:  # noqa: BLE001 - a malformed URL is a failed check, not a 500
        report["redis"] = {"ok": False, "error": type(exc).__name__}
    else:
        try:
            report["redis"] = _check_redis(client)
            if report["redis"]["ok"]:
                report["workers"] = _check_workers(client)
        finally:
            client.close()
    # Workers register in Redis: without it there is nothing to count (and no second wait).
    report.setdefault("workers", {"ok": False, "count": 0, "error": "RedisUnavailable"})
    report_ok = all(check["ok"] for check in report.values())
    return {"status": "ok" if report_ok else "degraded", **report}


def _check_database() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        return {"ok": False, "vendor": connection.vendor, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor, "ms": _ms_since(started)}


def _check_redis(client: redis.Redis) -> dict:
    started = time.monotonic()
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": _ms_since(started)}


def _check_workers(client: redis.Redis) -> dict:
    try:
        count = len(Worker.all(connection=client))
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "count": 0, "error": type(exc).__name__}
    return {"ok": count >= 1, "count": count}


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def run_of_workflow(*, workflow_id: int, run_id: int) -> Run | None:
    """A run of one workflow with its attempts and timeline (the intake API reads with a
    workflow's token, not as a person); None for any other run."""
    return (
        Run.objects.filter(pk=run_id, workflow_id=workflow_id)
        .select_related("workflow", "version", "current_step")
        .prefetch_related(
            Prefetch("attempts", StepAttempt.objects.select_related("step").order_by("id")),
            Prefetch(
                "events", RunEvent.objects.select_related("step", "actor").order_by("at", "id")
            ),
        )
        .first()
    )
