"""Checks over the database, which is the source of truth: fresh queries only (the tests run
under ``transactional_db``, so each query sees what the worker processes committed)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from django.db.models import Count, Q

from apps.escalations.models import Escalation
from apps.runs.models import Circuit, Run, RunEvent, StepAttempt

SETTLED = (Run.Status.COMPLETED, Run.Status.ESCALATED, Run.Status.CANCELLED)


def wait_until(
    predicate: Callable[[], object],
    *,
    timeout: float,
    what: str,
    explain: Callable[[], str] | None = None,
    interval: float = 0.1,
):
    """Poll ``predicate`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f"\n{explain()}" if explain else ""
            raise AssertionError(f"Timed out after {timeout:g} s waiting for {what}.{detail}")
        time.sleep(interval)


def run_counts() -> Counter:
    return Counter(Run.objects.values_list("status", flat=True))


def attempt_counts() -> Counter:
    return Counter(StepAttempt.objects.values_list("status", flat=True))


def recovered_counts() -> Counter:
    """What the reconciler (and hand-backs) found, by ``found``/``how``."""
    details = RunEvent.objects.filter(kind=RunEvent.Kind.RECOVERED).values_list("detail", flat=True)
    return Counter(d.get("found") or d.get("how") or "?" for d in details)


def timeline(run: Run) -> str:
    lines = []
    for event in run.events.order_by("at", "id"):
        lines.append(f"    {event.at:%H:%M:%S.%f} {event.kind:<16} {event.message[:110]}")
    for attempt in run.attempts.select_related("step").order_by("id"):
        lines.append(
            f"    attempt {attempt.pk} {attempt.step.key}#{attempt.number} {attempt.status} "
            f"worker={attempt.worker or '-'} recoveries={attempt.recoveries} "
            f"enqueued_at={attempt.enqueued_at and f'{attempt.enqueued_at:%H:%M:%S.%f}'} "
            f"parked_on={attempt.parked_on or '-'} error={attempt.error_code or '-'}"
        )
    return "\n".join(lines)


def describe_state(max_runs: int = 5) -> str:
    """The engine's state in a few lines, for an assertion message."""
    unsettled = list(Run.objects.exclude(status__in=SETTLED).order_by("id")[:max_runs])
    parts = [
        f"runs: {dict(run_counts())}",
        f"attempts: {dict(attempt_counts())}",
        f"recovered events: {dict(recovered_counts())}",
        f"circuits: {list(Circuit.objects.values_list('target', 'state', 'consecutive_failures'))}",
    ]
    for run in unsettled:
        parts.append(
            f"  unsettled run {run.pk} ({run.external_id}, {run.status}):\n{timeline(run)}"
        )
    return "\n".join(parts)


def assert_every_case_settled() -> Counter:
    """Every case reached an end the engine may leave it in, and its records agree.

    Returns the run counts by status.
    """
    runs = list(Run.objects.order_by("id"))
    assert runs, "no runs were created"
    unsettled = [r for r in runs if r.status not in SETTLED]
    assert not unsettled, "runs not settled:\n" + "\n".join(
        f"  run {r.pk} ({r.external_id}) is {r.status}:\n{timeline(r)}" for r in unsettled
    )
    pending = list(
        StepAttempt.objects.filter(
            status__in=[StepAttempt.Status.QUEUED, StepAttempt.Status.RUNNING]
        ).values_list("pk", "run_id", "status")
    )
    assert not pending, f"attempts left queued or running (pk, run, status): {pending}"
    doubled = list(
        StepAttempt.objects.filter(status=StepAttempt.Status.SUCCEEDED)
        .values("run_id", "step_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not doubled, f"steps that succeeded more than once: {doubled}"
    for run in runs:
        kinds = list(run.events.order_by("at", "id").values_list("kind", flat=True))
        assert kinds and kinds[0] == RunEvent.Kind.CREATED, (
            f"run {run.pk}'s timeline does not start with created:\n{timeline(run)}"
        )
        if run.status == Run.Status.ESCALATED:
            open_ = Escalation.objects.open().filter(run=run).count()
            assert open_ == 1, f"escalated run {run.pk} has {open_} open escalations"
        if run.status == Run.Status.COMPLETED:
            assert kinds.count(RunEvent.Kind.COMPLETED) == 1, (
                f"completed run {run.pk} has {kinds.count('completed')} completed events:\n"
                f"{timeline(run)}"
            )
    return Counter(r.status for r in runs)


def assert_nothing_half_written() -> None:
    """Each recorded outcome has its event, exactly once: no transaction was cut in two."""
    attempts = StepAttempt.objects.filter(
        status__in=[StepAttempt.Status.SUCCEEDED, StepAttempt.Status.FAILED]
    ).annotate(
        succeeded_events=Count("events", filter=Q(events__kind=RunEvent.Kind.STEP_SUCCEEDED)),
        failed_events=Count("events", filter=Q(events__kind=RunEvent.Kind.STEP_FAILED)),
    )
    for attempt in attempts:
        expected = (1, 0) if attempt.status == StepAttempt.Status.SUCCEEDED else (0, 1)
        assert (attempt.succeeded_events, attempt.failed_events) == expected, (
            f"attempt {attempt.pk} is {attempt.status} with {attempt.succeeded_events} "
            f"step_succeeded and {attempt.failed_events} step_failed events:\n"
            f"{timeline(attempt.run)}"
        )
    running = list(StepAttempt.objects.filter(status=StepAttempt.Status.RUNNING).values("pk"))
    assert not running, f"attempts left running: {running}"


def all_settled(runs: int) -> Callable[[], bool]:
    def check() -> bool:
        return sum(run_counts()[status] for status in SETTLED) == runs

    return check


def mid_run() -> Counter | None:
    """Some cases done, some in flight with jobs in Redis, some waiting for a retry."""
    runs = run_counts()
    in_redis = StepAttempt.objects.filter(
        status=StepAttempt.Status.QUEUED, enqueued_at__isnull=False
    ).count()
    if runs["completed"] >= 3 and runs["waiting_retry"] >= 1 and in_redis >= 3:
        return runs + Counter(jobs_in_redis=in_redis)
    return None
