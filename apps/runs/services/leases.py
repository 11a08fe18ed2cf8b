"""What keeps an attempt honest while it runs: its time limit and deadline, its lease, database
retries."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import DateTimeField, ExpressionWrapper, F, Value
from django.db.models.functions import Coalesce, Least, Now
from django.utils import timezone

from apps.workflows.actions import ActionError, AttemptTimeout, classify

from ..models import StepAttempt
from .watchdog import watched

logger = logging.getLogger(__name__)
T = TypeVar("T")


class DeadlineExceeded(BaseException):
    """An attempt ran past its step's time limit.

    A BaseException, like KeyboardInterrupt, so that an action's ``except Exception`` cannot
    swallow it and carry on (or even report a success). The engine records it as a timeout.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The step did not finish within {seconds:g} seconds.")
        self.seconds = seconds


def failure_of(exc: BaseException) -> ActionError:
    """The ActionError to record for what an action raised (a time limit counts as a timeout)."""
    if isinstance(exc, DeadlineExceeded):
        return AttemptTimeout(exc.seconds)
    return classify(exc)


def deadline_grace_s() -> float:
    return settings.HANDOFF_DEADLINE_GRACE_SECONDS


def deadline_grace() -> timedelta:
    return timedelta(seconds=deadline_grace_s())


@contextlib.contextmanager
def time_limit(seconds: float, *, attempt_id: int | None = None):
    """Raise DeadlineExceeded in this thread after ``seconds``, and on leaving if the block
    overran anyway (it swallowed the alarm, or ran outside the main thread).

    Uses SIGALRM, so the alarm only works in the main thread (where RQ runs jobs). It restores
    any outer alarm, such as RQ's own job timeout, when it leaves. With ``attempt_id``, the
    worker's watchdog (if installed) ends the process should the block outlive the grace
    period: an action blocked in C code never sees the alarm.
    """
    started = time.monotonic()
    try:
        with (
            watched(attempt_id=attempt_id, limit_s=seconds, grace_s=deadline_grace_s()),
            _alarm(seconds),
        ):
            yield
    except Exception as exc:
        # Whatever an overrunning action produced (a result, or an error of its own once it
        # swallowed the alarm) is not trusted: the step ran out of time.
        if time.monotonic() - started > seconds:
            raise DeadlineExceeded(seconds) from exc
        raise
    if time.monotonic() - started > seconds:
        raise DeadlineExceeded(seconds)


@contextlib.contextmanager
def _alarm(seconds: float):
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise DeadlineExceeded(seconds)

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    outer_remaining, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            # Nested, so an alarm that lands while stopping the timer still restores these.
            signal.signal(signal.SIGALRM, previous_handler)
            if outer_remaining:
                left = outer_remaining - (time.monotonic() - started)
                signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))


def lease_until():
    return timezone.now() + timedelta(seconds=settings.HANDOFF_LEASE_SECONDS)


def new_lease_token() -> uuid.UUID:
    return uuid.uuid4()


def claim_deadline(*, timeout_s: float) -> dict:
    """Fields for the claim's conditional update: the attempt's deadline, from the database
    clock (the reconciler compares it with the same clock), and a lease that ends no later
    than deadline + grace."""
    deadline = ExpressionWrapper(Now() + timedelta(seconds=timeout_s), output_field=DateTimeField())
    cap = ExpressionWrapper(deadline + deadline_grace(), output_field=DateTimeField())
    return {
        "deadline_at": deadline,
        "heartbeat_at": Now(),
        "lease_expires_at": Least(Value(lease_until(), output_field=DateTimeField()), cap),
    }


def renewed_lease() -> Least:
    """A heartbeat's new lease end: never past deadline + grace, so a worker stuck in its
    action cannot keep its attempt from the reconciler (Coalesce: an attempt claimed before
    deadlines existed has none)."""
    until = Value(lease_until(), output_field=DateTimeField())
    cap = ExpressionWrapper(F("deadline_at") + deadline_grace(), output_field=DateTimeField())
    return Least(until, Coalesce(cap, until))


@contextlib.contextmanager
def lease_heartbeat(*, attempt_id: int, token: uuid.UUID, timeout_s: float | None = None):
    """Renew the attempt's lease from a thread while the action runs.

    The thread uses its own database connection, opened only if the action outlives one
    heartbeat, and closed when it stops. A failed renewal is logged, not raised: if the lease
    runs out, the reconciler takes the attempt back, and the token fences this worker out.
    One beat falls just after the step's limit (``timeout_s``): a worker still in its action
    then is stuck in it, and the reconciler tells that (a timeout) from a worker that died
    before it (a recovery) by that beat.
    """
    stop = threading.Event()
    every = settings.HANDOFF_HEARTBEAT_SECONDS
    past_deadline = time.monotonic() + timeout_s + 1.0 if timeout_s is not None else None

    def next_wait() -> float:
        if past_deadline is None:
            return every
        left = past_deadline - time.monotonic()
        return left if 0 < left < every else every

    def beat() -> None:
        try:
            while not stop.wait(next_wait()):
                try:
                    StepAttempt.objects.filter(
                        pk=attempt_id, lease_token=token, status=StepAttempt.Status.RUNNING
                    ).update(lease_expires_at=renewed_lease(), heartbeat_at=Now())
                except (OperationalError, InterfaceError):
                    logger.warning("Could not renew the lease of attempt %s", attempt_id)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"lease-{attempt_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def db_retry(fn: Callable[[], T], *, what: str, budget_s: float | None = None) -> T:
    """Run ``fn`` (one transaction), retrying while the database is unreachable.

    Each try is a whole transaction, so a connection lost halfway leaves nothing half-written;
    the connection is dropped and opened anew before the next try.
    """
    budget_s = settings.HANDOFF_DB_RETRY_SECONDS if budget_s is None else budget_s
    deadline = time.monotonic() + budget_s
    delay = 0.25
    while True:
        try:
            return fn()
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning(
                "Database unavailable while %s (%s); retrying in %.2f s",
                what,
                exc.__class__.__name__,
                delay,
            )
            with contextlib.suppress(Exception):
                connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
