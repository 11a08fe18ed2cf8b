"""The engine: claim a step attempt, run its action under its time limit, record the outcome.

Execution is at-least-once (a job may be delivered twice, a worker may die); recording is
exactly-once: the claim is a conditional update that hands out a lease token, and the outcome,
the run's transition and its events are written in one transaction that first checks the
attempt is still running under that token.
"""

from __future__ import annotations

import json
import logging
import random
import traceback as tb
import uuid
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.workflows.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    registry,
)
from apps.workflows.actions.expressions import check_bounds
from apps.workflows.models import Step

from ..hooks import handover
from ..models import Circuit, HandoverReason, Run, RunEvent, StepAttempt
from .circuits import circuit_failure, circuit_gate, circuit_success, circuit_wait_until
from .events import event_append
from .leases import (
    DeadlineExceeded,
    claim_deadline,
    db_retry,
    failure_of,
    lease_heartbeat,
    new_lease_token,
    time_limit,
)
from .scheduling import attempt_schedule, backoff_delay, due_in
from .transitions import run_move

logger = logging.getLogger(__name__)


def idempotency_key(*, run_id: int, step_key: str, round_start: int) -> str:
    """A new key for the systems an action calls, one per round of the retry policy.

    Automatic retries and recoveries of a round reuse it (stored on the attempt), so the other
    side does not do the work twice; a person's resume or retry starts a round, and so a key, of
    its own: the request may carry different data, which a strict API refuses under a key it has
    seen. ``round_start`` is the number of the round's first attempt of the step; the random
    tail keeps a database that was reset from sending keys the other side already knows.
    """
    return f"handoff-run-{run_id}-{step_key}-{round_start}-{uuid.uuid4().hex[:8]}"


def attempt_create(
    *, run: Run, step: Step, delay_s: float = 0.0, after: StepAttempt | None = None
) -> StepAttempt:
    """Queue the next attempt of ``step`` (inside the caller's transaction).

    ``after`` is the failed attempt it retries under the step's policy; without it a new round
    of the policy starts (a first try, or a person's retry or resume), with a new idempotency key.
    """
    number = (
        after.number + 1
        if after is not None
        else (run.attempts.filter(step=step).aggregate(n=Max("number"))["n"] or 0) + 1
    )
    attempt = StepAttempt.objects.create(
        run=run,
        step=step,
        number=number,
        try_number=after.try_number + 1 if after else 1,
        idempotency_key=after.idempotency_key
        if after is not None
        else idempotency_key(run_id=run.pk, step_key=step.key, round_start=number),
        due_at=due_in(delay_s),
        # Due now: handed to RQ at commit. Later: the scheduler hands it over when due.
        enqueued_at=timezone.now() if delay_s <= 0 else None,
    )
    attempt_schedule(attempt=attempt, timeout_s=step.timeout_s)
    return attempt


def attempt_execute(*, attempt_id: int, worker: str = "", job_id: str = "") -> str:
    """Run one attempt. Returns what happened, for the job's result and the logs."""
    claimed = db_retry(
        lambda: attempt_claim(attempt_id=attempt_id, worker=worker, job_id=job_id),
        what=f"claiming attempt {attempt_id}",
    )
    if isinstance(claimed, str):
        return claimed
    attempt, data, token = claimed
    step = attempt.step
    target = registry.target_of(step.action, step.config)
    ctx = ActionContext(
        run_id=attempt.run_id,
        step_key=step.key,
        attempt_number=attempt.number,
        idempotency_key=attempt.idempotency_key,
        data=data,
        config=step.config,
        timeout_s=step.timeout_s,
    )
    ids = {"run_id": attempt.run_id, "attempt_id": attempt_id, "token": token}
    error: ActionError | None = None
    with lease_heartbeat(attempt_id=attempt_id, token=token, timeout_s=step.timeout_s):
        try:
            with time_limit(step.timeout_s, attempt_id=attempt_id):
                check_bounds(step.bounds, data)
                result = registry.get(step.action).execute(ctx)
        except (Exception, DeadlineExceeded) as exc:  # noqa: BLE001 - each failure is recorded
            error = failure_of(exc)
            trace = tb.format_exc()
            outcome = db_retry(
                lambda: _record_failure(**ids, error=error, trace=trace),
                what=f"recording attempt {attempt_id}",
            )
        except BaseException:
            # A cold shutdown (second SIGTERM, Ctrl-C) stops the job here: hand it back.
            _hand_back(**ids)
            raise
        else:
            outcome = db_retry(
                lambda: attempt_record_success(**ids, result=result),
                what=f"recording attempt {attempt_id}",
            )
    if target:
        _tell_circuit(target=target, run_id=attempt.run_id, error=error)
    return outcome


def attempt_claim(
    *, attempt_id: int, worker: str, job_id: str
) -> tuple[StepAttempt, dict, uuid.UUID] | str:
    now = timezone.now()
    with transaction.atomic():
        attempt = StepAttempt.objects.select_related("step", "run").filter(pk=attempt_id).first()
        if attempt is None:
            logger.warning("Attempt %s does not exist; nothing to do", attempt_id)
            return "missing"
        if attempt.status != StepAttempt.Status.QUEUED:
            logger.info(
                "Attempt %s is %s, not queued: this delivery changes nothing",
                attempt_id,
                attempt.status,
            )
            return "duplicate"
        run = attempt.run
        if run.status not in Run.ACTIVE:
            # Cancelled or finished while the job waited: the attempt has nothing to do.
            StepAttempt.objects.filter(pk=attempt_id, status=StepAttempt.Status.QUEUED).update(
                status=StepAttempt.Status.CANCELLED, finished_at=now
            )
            logger.info("Run %s is %s: attempt %s cancelled", run.pk, run.status, attempt_id)
            return "run_not_active"
        target = registry.target_of(attempt.step.action, attempt.step.config)
        if target and (circuit := circuit_gate(target=target)):
            return _park(attempt=attempt, circuit=circuit)
        token = new_lease_token()
        # The conditional update is the claim: of two deliveries, one changes a row.
        claimed = StepAttempt.objects.filter(
            pk=attempt_id, status=StepAttempt.Status.QUEUED
        ).update(
            status=StepAttempt.Status.RUNNING,
            started_at=now,
            worker=worker,
            job_id=job_id,
            input=run.data,
            lease_token=token,
            **claim_deadline(timeout_s=attempt.step.timeout_s),
            parked_on="",
        )
        if not claimed:
            return "duplicate"
        run_move(run=run, to=Run.Status.RUNNING, current_step=attempt.step)
        event_append(
            run=run,
            kind=RunEvent.Kind.STEP_STARTED,
            step=attempt.step,
            attempt=attempt,
            message=f"{attempt.step.name}: attempt {attempt.number} started"
            + (f" on {worker}" if worker else ""),
            at=now,
        )
    return attempt, dict(run.data), token


def _park(*, attempt: StepAttempt, circuit: Circuit) -> str:
    """Hold an attempt back while its target's circuit is open; it spends no attempt."""
    # A little spread, so parked attempts do not all come back in the same second.
    wake = circuit_wait_until(circuit) + timedelta(seconds=random.uniform(0, 1))
    first_time = not attempt.parked_on
    StepAttempt.objects.filter(pk=attempt.pk, status=StepAttempt.Status.QUEUED).update(
        due_at=wake, enqueued_at=None, parked_on=circuit.target
    )
    if first_time:
        run_move(run=attempt.run, to=Run.Status.WAITING_RETRY)
        event_append(
            run=attempt.run,
            kind=RunEvent.Kind.PARKED,
            step=attempt.step,
            attempt=attempt,
            message=f"{attempt.step.name} waits: {circuit.target} is failing and its circuit "
            "is open. No attempt is spent; the step runs when the target answers again.",
            detail={"target": circuit.target, "until": wake.isoformat()},
        )
    return "parked"


def _tell_circuit(*, target: str, run_id: int, error: ActionError | None) -> None:
    """Report the target's answer to its circuit breaker; never fails the job."""
    run = Run(pk=run_id)
    try:
        if error is None or error.code.startswith("http_4") and error.code != "http_429":
            db_retry(lambda: circuit_success(target=target, run=run), what="closing a circuit")
        elif error.kind == "transient":
            db_retry(
                lambda: circuit_failure(target=target, run=run, error=error.code),
                what="opening a circuit",
            )
    except Exception:
        logger.exception("Could not update the circuit for %s", target)


def _hand_back(*, run_id: int, attempt_id: int, token: uuid.UUID) -> None:
    """Put an interrupted attempt back in the queue (best effort: the lease covers a failure)."""
    try:
        with transaction.atomic():
            handed = StepAttempt.objects.filter(
                pk=attempt_id, status=StepAttempt.Status.RUNNING, lease_token=token
            ).update(
                status=StepAttempt.Status.QUEUED,
                lease_token=None,
                lease_expires_at=None,
                enqueued_at=None,
                due_at=timezone.now(),
            )
            if handed:
                event_append(
                    run_id=run_id,
                    kind=RunEvent.Kind.RECOVERED,
                    message="The worker was stopped in the middle of the step; the attempt was "
                    "handed back and runs again under the same idempotency key.",
                    detail={"attempt": attempt_id, "how": "handed_back"},
                )
    except Exception:
        logger.exception("Could not hand attempt %s back; its lease will run out", attempt_id)


def lock_running(
    *, run_id: int, attempt_id: int, token: uuid.UUID | None = None
) -> tuple[Run, StepAttempt] | None:
    """Lock the run, then the attempt (always in that order).

    None if the attempt is no longer running under ``token`` (given): its lease was taken over.
    """
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
    if attempt.status != StepAttempt.Status.RUNNING or (
        token is not None and attempt.lease_token != token
    ):
        logger.warning(
            "Attempt %s is %s under another lease: outcome not recorded", attempt_id, attempt.status
        )
        return None
    return run, attempt


def attempt_record_success(
    *, run_id: int, attempt_id: int, token: uuid.UUID, result: ActionResult
) -> str:
    now = timezone.now()
    with transaction.atomic():
        locked = lock_running(run_id=run_id, attempt_id=attempt_id, token=token)
        if locked is None:
            return "stale"
        run, attempt = locked
        attempt.status = StepAttempt.Status.SUCCEEDED
        attempt.finished_at = now
        attempt.lease_expires_at = None
        attempt.output = _jsonable(result.updates)
        attempt.detail = _jsonable(result.detail)
        attempt.save(
            update_fields=["status", "finished_at", "lease_expires_at", "output", "detail"]
        )
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
        return run_advance(run=run, after=attempt.step)


def run_advance(*, run: Run, after: Step, **fields: Any) -> str:
    """Queue the step after ``after``, or complete the run, writing ``fields`` (such as its
    data) in the same move. The caller holds the run's lock."""
    following = run.version.steps.filter(position__gt=after.position).order_by("position").first()
    if following is None:
        skipped = run.events.filter(kind=RunEvent.Kind.STEP_SKIPPED).exists()
        run_move(
            run=run,
            to=Run.Status.COMPLETED_SKIPPED if skipped else Run.Status.COMPLETED,
            current_step=None,
            finished_at=timezone.now(),
            data=run.data,
            **fields,
        )
        event_append(
            run=run,
            kind=RunEvent.Kind.COMPLETED,
            message="All steps done, with skipped steps: check what they would have done."
            if skipped
            else "All steps done.",
            detail={"skipped_steps": skipped},
        )
        return "completed"
    run_move(run=run, to=Run.Status.RUNNING, current_step=following, data=run.data, **fields)
    attempt_create(run=run, step=following)
    return "advanced"


def _record_failure(
    *, run_id: int, attempt_id: int, token: uuid.UUID, error: ActionError, trace: str
) -> str:
    with transaction.atomic():
        locked = lock_running(run_id=run_id, attempt_id=attempt_id, token=token)
        if locked is None:
            return "stale"
        run, attempt = locked
        return fail_locked(run=run, attempt=attempt, error=error, trace=trace)


def fail_locked(*, run: Run, attempt: StepAttempt, error: ActionError, trace: str) -> str:
    """Record a failed attempt and decide what follows: retry, skip or a person.

    The caller holds the locks of ``lock_running`` inside a transaction.
    """
    now = timezone.now()
    step = attempt.step
    attempt.status = StepAttempt.Status.FAILED
    attempt.finished_at = now
    attempt.lease_expires_at = None
    attempt.error_kind = error.kind
    attempt.error_code = error.code[:100]
    attempt.message = error.message
    attempt.traceback = trace
    attempt.detail = _jsonable(error.detail)
    attempt.save(
        update_fields=[
            "status",
            "finished_at",
            "lease_expires_at",
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
    if retryable and attempt.try_number < step.max_attempts:
        return _schedule_retry(run=run, attempt=attempt, error=error)
    if error.kind in ("transient", "permanent") and step.on_failure == Step.OnFailure.SKIP:
        event_append(
            run=run,
            kind=RunEvent.Kind.STEP_SKIPPED,
            step=step,
            message=f"{step.name} skipped: the step is set to carry on when it fails.",
        )
        return run_advance(run=run, after=step)
    reason, summary = _escalation_reason(
        step=step, attempt=attempt, error=error, retryable=retryable
    )
    run_hand_over(
        run=run,
        reason=reason,
        summary=summary,
        step=step,
        attempt=attempt,
        detail={"kind": error.kind, "code": error.code, **_jsonable(error.detail)},
    )
    return "escalated"


def run_hand_over(
    *,
    run: Run,
    reason: str,
    summary: str,
    step: Step | None = None,
    attempt: StepAttempt | None = None,
    detail: dict[str, Any] | None = None,
    **extra: Any,
) -> Any:
    """Hand a run to a person: the run waits with a person, and the registered hand-over (the
    inbox) gets the case, in the caller's transaction. The caller holds the run's lock.
    Returns what the hand-over made (an escalation); ``extra`` goes to it (a priority)."""
    run_move(run=run, to=Run.Status.ESCALATED, data=run.data)
    return handover().open(
        run=run, reason=reason, summary=summary, step=step, attempt=attempt, detail=detail, **extra
    )


def _schedule_retry(*, run: Run, attempt: StepAttempt, error: ActionError) -> str:
    step = attempt.step
    delay = backoff_delay(
        attempt_number=attempt.try_number,
        initial_s=step.initial_interval_s,
        coefficient=step.backoff_coefficient,
        max_s=step.max_interval_s,
        jitter=step.jitter,
        retry_after_s=error.retry_after,
    )
    run_move(run=run, to=Run.Status.WAITING_RETRY)
    following = attempt_create(run=run, step=step, delay_s=delay, after=attempt)
    why = (
        f"the other side asked to wait {error.retry_after:g} s"
        if error.retry_after
        else f"backoff after try {attempt.try_number} of {step.max_attempts}"
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
    R = HandoverReason
    if error.kind == "out_of_bounds":
        return R.OUT_OF_BOUNDS, f"{step.name} stopped the case: {error.message}"
    if error.kind == "manual_review":
        return R.MANUAL_REVIEW, f"{step.name} asks a person to decide: {error.message}"
    if retryable:
        tries = f"{attempt.try_number} attempt{'s' if attempt.try_number > 1 else ''}"
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
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))
