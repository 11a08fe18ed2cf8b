"""Circuit breakers per external target: stop hammering a system that is down.

State lives in the database (``Circuit``), shared by every worker. Writes are conditional
updates that match no row in the common case (closed, no failures), so a healthy target costs
one read per attempt and no row lock.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..models import Circuit, Run, RunEvent, StepAttempt
from .events import event_append

logger = logging.getLogger(__name__)
State = Circuit.State


def circuit_gate(*, target: str) -> Circuit | None:
    """The open circuit an attempt to ``target`` must wait for, or None if it may go ahead.

    When the cool-down has passed, exactly one caller wins the half-open probe (a conditional
    update); the others keep waiting. A probe whose worker died is replaced after one lease.
    """
    circuit = Circuit.objects.filter(target=target).first()
    if circuit is None or circuit.state == State.CLOSED:
        return None
    now = timezone.now()
    stale_probe = now - timedelta(seconds=settings.HANDOFF_LEASE_SECONDS)
    won_probe = Circuit.objects.filter(
        Q(state=State.OPEN, retry_at__lte=now)
        | Q(state=State.HALF_OPEN, probe_started_at__lt=stale_probe),
        pk=circuit.pk,
    ).update(state=State.HALF_OPEN, probe_started_at=now)
    if won_probe:
        logger.info("Circuit for %s half-open: probing", target)
        return None
    circuit.refresh_from_db()
    return circuit


def circuit_wait_until(circuit: Circuit):
    """When a parked attempt should look again."""
    now = timezone.now()
    if circuit.state == State.OPEN and circuit.retry_at and circuit.retry_at > now:
        return circuit.retry_at
    # Half-open: the probe is out; look again soon (closing the circuit wakes parked attempts).
    return now + timedelta(seconds=min(5.0, settings.HANDOFF_CIRCUIT_COOLDOWN))


def circuit_success(*, target: str, run: Run) -> None:
    """The target answered: reset its failures; a successful probe closes the circuit."""
    reset = Circuit.objects.filter(target=target).filter(
        ~Q(state=State.CLOSED) | Q(consecutive_failures__gt=0)
    )
    with transaction.atomic():
        was_open = list(reset.exclude(state=State.CLOSED).values_list("pk", flat=True))
        reset.update(
            state=State.CLOSED, consecutive_failures=0, retry_at=None, probe_started_at=None
        )
        if was_open:
            woken, batches = _release_parked(target=target)
            interval = settings.HANDOFF_CIRCUIT_RELEASE_INTERVAL
            span = (batches - 1) * interval if batches else 0.0
            when = (
                f"over {span:g} s, {settings.HANDOFF_CIRCUIT_RELEASE_BATCH} every {interval:g} s"
                if batches > 1
                else "now"
            )
            event_append(
                run=run,
                kind=RunEvent.Kind.CIRCUIT_CLOSED,
                message=f"{target} answers again: circuit closed, {woken} parked attempt(s) "
                f"resume {when}.",
                detail={
                    "target": target,
                    "resumed": woken,
                    "batches": batches,
                    "over_s": span,
                },
            )
            logger.info(
                "Circuit for %s closed; %d parked attempt(s) resume %s", target, woken, when
            )


def _release_parked(*, target: str) -> tuple[int, int]:
    """Make the attempts parked on ``target`` due in batches, oldest first, so a target that
    just recovered is not hit by all of them at once. Returns (attempts, batches)."""
    size = settings.HANDOFF_CIRCUIT_RELEASE_BATCH
    interval = timedelta(seconds=settings.HANDOFF_CIRCUIT_RELEASE_INTERVAL)
    parked = StepAttempt.objects.filter(status=StepAttempt.Status.QUEUED, parked_on=target)
    pks = list(parked.order_by("pk").values_list("pk", flat=True))
    now = timezone.now()
    woken = batches = 0
    for start in range(0, len(pks), size):
        # Still conditional on being parked and queued: one claimed meanwhile is left alone.
        released = parked.filter(pk__in=pks[start : start + size]).update(
            due_at=now + batches * interval
        )
        if released:
            woken += released
            batches += 1
    return woken, batches


def circuit_failure(*, target: str, run: Run, error: str) -> None:
    """A transient failure calling the target; opens the circuit at the threshold."""
    now = timezone.now()
    cooldown = timedelta(seconds=settings.HANDOFF_CIRCUIT_COOLDOWN)
    threshold = settings.HANDOFF_CIRCUIT_THRESHOLD
    with transaction.atomic():
        circuit, _ = Circuit.objects.get_or_create(target=target)
        Circuit.objects.filter(pk=circuit.pk).update(
            consecutive_failures=F("consecutive_failures") + 1, last_error=error[:1000]
        )
        # Open it when the threshold is reached, or again when a half-open probe failed.
        opened = Circuit.objects.filter(
            Q(state=State.CLOSED, consecutive_failures__gte=threshold) | Q(state=State.HALF_OPEN),
            pk=circuit.pk,
        ).update(
            state=State.OPEN,
            opened_at=now,
            retry_at=now + cooldown,
            probe_started_at=None,
            times_opened=F("times_opened") + 1,
        )
        if opened:
            failures = Circuit.objects.values_list("consecutive_failures", flat=True).get(
                pk=circuit.pk
            )
            event_append(
                run=run,
                kind=RunEvent.Kind.CIRCUIT_OPENED,
                message=f"{target} failed {failures} time(s) in a row ({error}): circuit "
                f"open; calls to it wait {cooldown.total_seconds():g} s instead of burning "
                "retries.",
                detail={
                    "target": target,
                    "failures": failures,
                    "error": error,
                    "retry_at": (now + cooldown).isoformat(),
                },
            )
            logger.warning("Circuit for %s opened after %d failures", target, failures)
