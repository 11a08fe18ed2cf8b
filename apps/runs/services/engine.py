"""The engine: claim a step attempt, run its action under its time limit, record the outcome.

Execution is at-least-once (a job may be delivered twice, a worker may die); recording is
exactly-once: the claim is a conditional update, and the outcome, the run's transition and its
events are written in one transaction that first checks the attempt is still running.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import traceback as tb
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.escalations.models import Escalation
from apps.escalations.services import escalation_open
from apps.workflows.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    AttemptTimeout,
    classify,
    registry,
)
from apps.workflows.actions.expressions import check_bounds
from apps.workflows.models import Step

from ..models import Run, RunEvent, StepAttempt
from .events import event_append
from .scheduling import attempt_schedule, backoff_delay, due_in

logger = logging.getLogger(__name__)


def idempotency_key(*, run_id: int, step_key: str) -> str:
    """Stable across every attempt of one step of one run, for the systems an action calls."""
    return f"handoff-run-{run_id}-{step_key}"


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise AttemptTimeout in this thread after ``seconds``.

    Uses SIGALRM, so it only works in the main thread (where RQ runs jobs). It restores any
    outer alarm, such as RQ's own job timeout, when it leaves.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise AttemptTimeout(seconds)

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    outer_remaining, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if outer_remaining:
            left = outer_remaining - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))


def attempt_create(*, run: Run, step: Step, delay_s: float = 0.0) -> StepAttempt:
    """Queue the next attempt of ``step`` (inside the caller's transaction)."""
    last = run.attempts.filter(step=step).aggregate(n=Max("number"))["n"] or 0
    now = timezone.now()
    attempt = StepAttempt.objects.create(
        run=run,
        step=step,
        number=last + 1,
        due_at=due_in(delay_s),
        # Due now: handed to RQ at commit. Later: the scheduler hands it over when due.
        enqueued_at=now if delay_s <= 0 else None,
    )
    attempt_schedule(attempt=attempt, timeout_s=step.timeout_s)
    return attempt


def attempt_execute(*, attempt_id: int, worker: str = "", job_id: str = "") -> str:
    """Run one attempt. Returns what happened, for the job's result and the logs."""
    claimed = _claim(attempt_id=attempt_id, worker=worker, job_id=job_id)
    if claimed is None:
        logger.info("Attempt %s is not queued any more; this delivery changes nothing", attempt_id)
        return "duplicate"
    attempt, data = claimed
    step = attempt.step
    ctx = ActionContext(
        run_id=attempt.run_id,
        step_key=step.key,
        attempt_number=attempt.number,
        idempotency_key=idempotency_key(run_id=attempt.run_id, step_key=step.key),
        data=data,
        config=step.config,
        timeout_s=step.timeout_s,
    )
    try:
        with time_limit(step.timeout_s):
            check_bounds(step.bounds, data)
            result = registry.get(step.action).execute(ctx)
    except Exception as exc:  # noqa: BLE001 - every failure is classified and recorded
        error = classify(exc)
        return _record_failure(
            run_id=attempt.run_id, attempt_id=attempt_id, error=error, trace=tb.format_exc()
        )
    return _record_success(run_id=attempt.run_id, attempt_id=attempt_id, result=result)


def _claim(*, attempt_id: int, worker: str, job_id: str) -> tuple[StepAttempt, dict] | None:
    now = timezone.now()
    with transaction.atomic():
        attempt = (
            StepAttempt.objects.select_related("step", "run")
            .filter(pk=attempt_id, status=StepAttempt.Status.QUEUED)
            .first()
        )
        if attempt is None:
            return None
        run = attempt.run
        # The conditional update is the claim: of two deliveries, one changes a row.
        claimed = StepAttempt.objects.filter(
            pk=attempt_id, status=StepAttempt.Status.QUEUED
        ).update(
            status=StepAttempt.Status.RUNNING,
            started_at=now,
            worker=worker,
            job_id=job_id,
            input=run.data,
        )
        if not claimed:
            return None
        Run.objects.filter(pk=run.pk).update(
            status=Run.Status.RUNNING, current_step=attempt.step, updated_at=now
        )
        event_append(
            run=run,
            kind=RunEvent.Kind.STEP_STARTED,
            step=attempt.step,
            attempt=attempt,
            message=f"{attempt.step.name}: attempt {attempt.number} started"
            + (f" on {worker}" if worker else ""),
            at=now,
        )
    return attempt, dict(run.data)


def _lock_running(*, run_id: int, attempt_id: int) -> tuple[Run, StepAttempt] | None:
    """Lock the run, then the attempt (always in that order); None if no longer running."""
    # Lock only these rows (of=self): a plain FOR UPDATE with joins would also lock the
    # workflow and team rows and serialise every worker on them. NO KEY UPDATE lets inserts
    # that reference the run (attempts, events) go on while it is held.
    run = (
        Run.objects.select_for_update(no_key=True, of=("self",))
        .select_related("workflow__team", "version")
        .get(pk=run_id)
    )
    attempt = (
        StepAttempt.objects.select_for_update(no_key=True, of=("self",))
        .select_related("step")
        .get(pk=attempt_id)
    )
    if attempt.status != StepAttempt.Status.RUNNING:
        logger.warning(
            "Attempt %s is %s, not running: outcome not recorded", attempt_id, attempt.status
        )
        return None
    return run, attempt


def _record_success(*, run_id: int, attempt_id: int, result: ActionResult) -> str:
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_running(run_id=run_id, attempt_id=attempt_id)
        if locked is None:
            return "stale"
        run, attempt = locked
        attempt.status = StepAttempt.Status.SUCCEEDED
        attempt.finished_at = now
        attempt.output = _jsonable(result.updates)
        attempt.detail = _jsonable(result.detail)
        attempt.save(update_fields=["status", "finished_at", "output", "detail"])
        run.data = {**run.data, **attempt.output}
        event_append(
            run=run,
            kind=RunEvent.Kind.STEP_SUCCEEDED,
            step=attempt.step,
            attempt=attempt,
            message=f"{attempt.step.name} succeeded"
            + (f": set {', '.join(sorted(attempt.output))}" if attempt.output else ""),
            detail={"updates": attempt.output},
            at=now,
        )
        return _advance(run=run, after=attempt.step)


def _advance(*, run: Run, after: Step) -> str:
    """Queue the step after ``after``, or complete the run. The caller holds the run's lock."""
    following = run.version.steps.filter(position__gt=after.position).order_by("position").first()
    if following is None:
        run.status = Run.Status.COMPLETED
        run.current_step = None
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "current_step", "finished_at", "data", "updated_at"])
        event_append(run=run, kind=RunEvent.Kind.COMPLETED, message="All steps done.")
        return "completed"
    run.status = Run.Status.RUNNING
    run.current_step = following
    run.save(update_fields=["status", "current_step", "data", "updated_at"])
    attempt_create(run=run, step=following)
    return "advanced"


def _record_failure(*, run_id: int, attempt_id: int, error: ActionError, trace: str) -> str:
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_running(run_id=run_id, attempt_id=attempt_id)
        if locked is None:
            return "stale"
        run, attempt = locked
        step = attempt.step
        attempt.status = StepAttempt.Status.FAILED
        attempt.finished_at = now
        attempt.error_kind = error.kind
        attempt.error_code = error.code[:100]
        attempt.message = error.message
        attempt.traceback = trace
        attempt.detail = _jsonable(error.detail)
        attempt.save(
            update_fields=[
                "status",
                "finished_at",
                "error_kind",
                "error_code",
                "message",
                "traceback",
                "detail",
            ]
        )
        event_append(
            run=run,
            kind=RunEvent.Kind.STEP_FAILED,
            step=step,
            attempt=attempt,
            message=f"{step.name}, attempt {attempt.number}: {error.message}",
            detail={"kind": error.kind, "code": error.code},
            at=now,
        )
        retryable = error.kind == "transient" and error.code not in step.non_retryable_errors
        if retryable and attempt.number < step.max_attempts:
            return _schedule_retry(run=run, attempt=attempt, error=error)
        if error.kind in ("transient", "permanent") and step.on_failure == Step.OnFailure.SKIP:
            event_append(
                run=run,
                kind=RunEvent.Kind.STEP_SKIPPED,
                step=step,
                message=f"{step.name} skipped: the step is set to carry on when it fails.",
            )
            return _advance(run=run, after=step)
        reason, summary = _escalation_reason(
            step=step, attempt=attempt, error=error, retryable=retryable
        )
        run.save(update_fields=["data", "updated_at"])
        escalation_open(
            run=run,
            reason=reason,
            summary=summary,
            step=step,
            attempt=attempt,
            detail={"kind": error.kind, "code": error.code, **_jsonable(error.detail)},
        )
        return "escalated"


def _schedule_retry(*, run: Run, attempt: StepAttempt, error: ActionError) -> str:
    step = attempt.step
    delay = backoff_delay(
        attempt_number=attempt.number,
        initial_s=step.initial_interval_s,
        coefficient=step.backoff_coefficient,
        max_s=step.max_interval_s,
        jitter=step.jitter,
        retry_after_s=error.retry_after,
    )
    run.status = Run.Status.WAITING_RETRY
    run.save(update_fields=["status", "updated_at"])
    following = attempt_create(run=run, step=step, delay_s=delay)
    why = (
        f"the other side asked to wait {error.retry_after:g} s"
        if error.retry_after
        else (f"backoff after attempt {attempt.number} of {step.max_attempts}")
    )
    event_append(
        run=run,
        kind=RunEvent.Kind.RETRY_SCHEDULED,
        step=step,
        attempt=following,
        message=f"{step.name}: attempt {following.number} in {delay:.1f} s ({why}).",
        detail={
            "due_at": following.due_at.isoformat(),
            "delay_s": round(delay, 3),
            "why": why,
            "error": error.code,
        },
    )
    return "retry_scheduled"


def _escalation_reason(
    *, step: Step, attempt: StepAttempt, error: ActionError, retryable: bool
) -> tuple[str, str]:
    R = Escalation.Reason
    if error.kind == "out_of_bounds":
        return R.OUT_OF_BOUNDS, f"{step.name} stopped the case: {error.message}"
    if error.kind == "manual_review":
        return R.MANUAL_REVIEW, f"{step.name} asks a person to decide: {error.message}"
    if retryable:
        tries = f"{attempt.number} attempt{'s' if attempt.number > 1 else ''}"
        if error.code == "timeout":
            return R.TIMEOUT, (
                f"{step.name} timed out on all {tries} (limit {step.timeout_s:g} s each)."
            )
        return R.RETRIES_EXHAUSTED, (
            f"{step.name} failed {tries}, as many as its policy allows. Last error: {error.message}"
        )
    if error.kind == "transient":
        return R.PERMANENT_ERROR, (
            f"{step.name} failed and its policy never retries `{error.code}`: {error.message}"
        )
    return R.PERMANENT_ERROR, f"{step.name} failed and retrying would not help: {error.message}"


def _jsonable(value: Any) -> Any:
    """Case data must stay JSON: turn what an action returned into JSON-safe values."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))
