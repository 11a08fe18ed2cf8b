"""What keeps an attempt honest while it runs: its time limit, its lease, database retries."""

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
from django.utils import timezone

from apps.workflows.actions import AttemptTimeout

from ..models import StepAttempt

logger = logging.getLogger(__name__)
T = TypeVar("T")


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


def lease_until():
    return timezone.now() + timedelta(seconds=settings.HANDOFF_LEASE_SECONDS)


def new_lease_token() -> uuid.UUID:
    return uuid.uuid4()


@contextlib.contextmanager
def lease_heartbeat(*, attempt_id: int, token: uuid.UUID):
    """Renew the attempt's lease from a thread while the action runs.

    The thread uses its own database connection, opened only if the action outlives one
    heartbeat, and closed when it stops. A failed renewal is logged, not raised: if the lease
    runs out, the reconciler takes the attempt back, and the token fences this worker out.
    """
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.HANDOFF_HEARTBEAT_SECONDS):
                try:
                    StepAttempt.objects.filter(
                        pk=attempt_id, lease_token=token, status=StepAttempt.Status.RUNNING
                    ).update(lease_expires_at=lease_until())
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
