"""When attempts run: backoff delays, and handing due attempts to RQ after commit."""

from __future__ import annotations

import logging
import math
import random
from datetime import datetime, timedelta

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from ..models import StepAttempt

logger = logging.getLogger(__name__)

# Time a job needs besides its database waits and its action: loading, enqueueing what follows.
JOB_OVERHEAD_S = 30


def backoff_delay(
    *,
    attempt_number: int,
    initial_s: float,
    coefficient: float,
    max_s: float,
    jitter: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before the attempt after ``attempt_number``.

    Exponential (initial × coefficient^(n−1)), capped at ``max_s``, minus up to ``jitter`` of
    itself at random so a burst of failures does not come back as a burst of retries. A
    ``Retry-After`` from the other side is honoured even past the cap: retrying earlier is
    certain to fail.
    """
    base = min(max_s, initial_s * coefficient ** (attempt_number - 1))
    delay = base * (1 - jitter * (rng or random).random())
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return delay


def queue():
    return django_rq.get_queue("default")


def job_id_for(attempt_id: int, recoveries: int) -> str:
    """One RQ job id per delivery round: a recovered attempt never reuses a dead job's id."""
    return f"attempt-{attempt_id}-{recoveries}"


def job_timeout_s(step_timeout_s: float) -> int:
    """How long RQ lets an attempt's job run before killing it.

    RQ's kill records nothing, so it must never come first: the job may wait for the database
    (up to ``HANDOFF_DB_RETRY_SECONDS``) three times (the claim, the outcome, the circuit), and
    its action runs until its limit plus the grace after which the watchdog ends the worker.
    """
    return math.ceil(
        step_timeout_s
        + settings.HANDOFF_DEADLINE_GRACE_SECONDS
        + 3 * settings.HANDOFF_DB_RETRY_SECONDS
        + JOB_OVERHEAD_S
    )


def enqueue_attempt(
    attempt_id: int, job_timeout: float, recoveries: int = 0, *, at_front: bool = False
) -> None:
    """Put a job for the attempt on the queue now (call it after commit).

    ``at_front`` is for recovered attempts: they already waited their turn once.
    """
    from ..tasks import execute_attempt

    try:
        queue().enqueue(
            execute_attempt,
            attempt_id,
            job_id=job_id_for(attempt_id, recoveries),
            job_timeout=job_timeout_s(job_timeout),
            result_ttl=300,
            failure_ttl=7 * 24 * 3600,
            at_front=at_front,
        )
    except RedisError:
        # Leave it to the scheduler: it enqueues every due attempt that was never handed over.
        logger.exception(
            "Could not enqueue attempt %s; the scheduler will hand it over", attempt_id
        )
        StepAttempt.objects.filter(pk=attempt_id, status=StepAttempt.Status.QUEUED).update(
            enqueued_at=None
        )


def attempt_schedule(*, attempt: StepAttempt, timeout_s: float, at_front: bool = False) -> None:
    """Hand a queued attempt to RQ once the surrounding transaction commits, if it was created
    due now (``enqueued_at`` set).

    Attempts due later stay in the database only; ``enqueue_due_attempts`` hands them over when
    their time comes, so a retry's schedule survives Redis losing its own.
    """
    if attempt.enqueued_at is None:
        return
    # Robust: one enqueue that raises (logged by Django) must not stop the callbacks after it,
    # such as the other attempts of the same commit; the reconciler finds its job missing.
    transaction.on_commit(
        lambda: enqueue_attempt(attempt.pk, timeout_s, attempt.recoveries, at_front=at_front),
        robust=True,
    )


def enqueue_due_attempts(*, now: datetime | None = None, limit: int = 500) -> int:
    """Enqueue queued attempts whose due time has come and that no job carries yet."""
    now = now or timezone.now()
    due = list(
        StepAttempt.objects.filter(
            status=StepAttempt.Status.QUEUED, enqueued_at__isnull=True, due_at__lte=now
        )
        .order_by("due_at")
        .values_list("pk", "step__timeout_s", "recoveries")[:limit]
    )
    handed = 0
    for pk, timeout_s, recoveries in due:
        # Conditional: another scheduler may have handed it over meanwhile.
        if StepAttempt.objects.filter(pk=pk, enqueued_at__isnull=True).update(enqueued_at=now):
            enqueue_attempt(pk, timeout_s, recoveries)
            handed += 1
    return handed


def due_in(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)
