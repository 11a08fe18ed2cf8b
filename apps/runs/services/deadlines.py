"""Hard deadlines: the reconciler's sweep of attempts still running past their deadline.

An attempt's ``deadline_at`` is set at its claim (database clock: claim + the step's limit).
In the worker, the limit is an alarm that an action blocked in C code never sees, and the
watchdog that then ends the process may itself not get to run (a frozen machine). So past
deadline + grace the database decides: the attempt failed with a timeout, under the step's
retry policy (retried, or handed to a person as timed out). It is not a worker death, so it
does not count as a recovery. The failure takes the attempt out of RUNNING, which fences its
worker out: a late outcome is refused and no heartbeat renews the lease.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F
from django.db.models.functions import Now

from apps.workflows.actions import AttemptTimeout

from ..models import RunEvent, StepAttempt
from .engine import fail_locked, lock_running
from .events import event_append
from .leases import deadline_grace, deadline_grace_s

logger = logging.getLogger(__name__)


def overdue_attempts():
    """Running attempts past deadline + grace, by the database clock (which set the deadline),
    whose worker was still alive after the deadline: stuck in the step. An attempt whose worker
    went silent before its deadline died with its worker; its lease runs out and the lease sweep
    recovers it without spending a try."""
    cutoff = ExpressionWrapper(Now() - deadline_grace(), output_field=DateTimeField())
    return StepAttempt.objects.filter(
        status=StepAttempt.Status.RUNNING,
        deadline_at__lt=cutoff,
        heartbeat_at__gt=F("deadline_at"),
    )


def time_out_overdue_attempts(*, limit: int = 1000) -> int:
    """Fail every overdue attempt as a timeout; returns how many."""
    found = list(overdue_attempts().values_list("pk", "run_id")[:limit])
    timed_out = 0
    for attempt_id, run_id in found:
        with transaction.atomic():
            locked = lock_running(run_id=run_id, attempt_id=attempt_id)
            # Checked again under the lock: its worker may have recorded it meanwhile.
            if locked is None or not overdue_attempts().filter(pk=attempt_id).exists():
                continue
            run, attempt = locked
            step = attempt.step
            who = attempt.worker or "its worker"
            event_append(
                run=run,
                kind=RunEvent.Kind.RECOVERED,
                step=step,
                attempt=attempt,
                message=f"{step.name}, attempt {attempt.number} ran past its {step.timeout_s:g} s "
                f"limit (+{deadline_grace_s():g} s grace) and had not stopped; {who} was fenced "
                "out and the attempt counts as timed out.",
                detail={"found": "deadline_passed", "worker": attempt.worker},
            )
            fail_locked(run=run, attempt=attempt, error=AttemptTimeout(step.timeout_s), trace="")
            logger.warning(
                "Attempt %s (run %s) ran past its deadline on %s: recorded as timed out",
                attempt_id,
                run_id,
                who,
            )
            timed_out += 1
    return timed_out
