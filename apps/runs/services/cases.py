"""What a person does to a case, through the engine: resume (after editing its data), retry a
step, skip a step, finish it by hand, cancel it.

Each service checks that ``user`` may act on the team's cases (so admin and commands cannot go
around the roles), locks the run (re-entrant inside a caller's transaction that already holds
it), moves it through ``transitions`` and appends the timeline.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.permissions import require_can_act
from apps.workflows.models import Step

from ..hooks import handover
from ..models import Run, RunEvent, StepAttempt
from .engine import attempt_create, run_advance
from .events import event_append
from .transitions import IllegalTransition, run_move


def person(user) -> str:
    """How a person is named on timelines and in messages."""
    return (user.get_full_name() or user.get_username()) if user else "nobody"


def run_lock(*, run: Run | int) -> Run:
    """The run, locked for the rest of the transaction (the engine's lock order: run first)."""
    return (
        Run.objects.select_for_update(no_key=True, of=("self",))
        .select_related("workflow__team", "version", "current_step")
        .get(pk=run.pk if isinstance(run, Run) else run)
    )


def _lock_for_a_person(run: Run | int, user) -> Run:
    """Lock the run for ``user``'s decision. A run whose hand-over is still open is decided in
    the inbox (which closes the hand-over first), never around it: that would leave an open
    escalation on a case that moved on."""
    run = run_lock(run=run)
    require_can_act(user=user, team=run.workflow.team)
    if run.status == Run.Status.ESCALATED and handover().runs_waiting_for_a_person([run.pk]):
        raise IllegalTransition(
            "This case is with a person: decide it from its escalation in the inbox."
        )
    return run


def case_data_diff(*, run: Run, changes: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields ``changes`` would change in the run's data, as old → new."""
    bad = [name for name in changes if not str(name).isidentifier()]
    if bad:
        raise ValidationError({"data": f"Field names must be plain names: {', '.join(bad)}."})
    return [
        {"field": name, "old": run.data.get(name), "new": value}
        for name, value in changes.items()
        if run.data.get(name) != value or name not in run.data
    ]


def _minutes(human_minutes: Decimal | int) -> dict[str, Any]:
    return {"human_minutes": F("human_minutes") + human_minutes} if human_minutes else {}


@transaction.atomic
def run_resume(
    *,
    run: Run | int,
    step: Step,
    user,
    changes: dict[str, Any] | None = None,
    human_minutes: Decimal | int = 0,
) -> StepAttempt:
    """Run ``step`` again on a fresh round of its retry policy (and a new idempotency key),
    after applying ``changes`` to the case data. Without changes it is a person's retry."""
    run = _lock_for_a_person(run, user)
    diff = case_data_diff(run=run, changes=changes or {})
    data = {**run.data, **(changes or {})}
    run_move(
        run=run, to=Run.Status.RUNNING, current_step=step, data=data, **_minutes(human_minutes)
    )
    attempt = attempt_create(run=run, step=step)
    changed = ", ".join(f"{d['field']}: {d['old']!r} → {d['new']!r}" for d in diff)
    event_append(
        run=run,
        kind=RunEvent.Kind.RESUMED,
        actor=user,
        step=step,
        attempt=attempt,
        message=f"{step.name} runs again"
        + (f" with {changed}" if changed else "")
        + ", with a fresh set of attempts under a new idempotency key "
        + f"({attempt.idempotency_key}).",
        detail={"diff": diff, "idempotency_key": attempt.idempotency_key},
    )
    return attempt


def run_retry_step(
    *, run: Run | int, step: Step, user, human_minutes: Decimal | int = 0
) -> StepAttempt:
    """A person's retry: the step again, as it is, on a fresh round."""
    return run_resume(run=run, step=step, user=user, human_minutes=human_minutes)


@transaction.atomic
def run_skip_step(
    *, run: Run | int, step: Step, user, note: str, human_minutes: Decimal | int = 0
) -> str:
    """Carry on after ``step`` without it; the run ends "completed with skipped steps"."""
    run = _lock_for_a_person(run, user)
    event_append(
        run=run,
        kind=RunEvent.Kind.STEP_SKIPPED,
        actor=user,
        step=step,
        message=f"{step.name} skipped by {person(user)}: {note}",
    )
    return run_advance(run=run, after=step, **_minutes(human_minutes))


@transaction.atomic
def run_finish_by_hand(*, run: Run | int, user, note: str, human_minutes: Decimal | int = 0) -> Run:
    run = _lock_for_a_person(run, user)
    _finish(
        run=run,
        to=Run.Status.COMPLETED,
        kind=RunEvent.Kind.COMPLETED,
        user=user,
        message=f"Completed by hand by {person(user)}: {note}",
        human_minutes=human_minutes,
    )
    return run


@transaction.atomic
def run_cancel(*, run: Run | int, user, note: str, human_minutes: Decimal | int = 0) -> Run:
    """Cancel the case. An attempt queued or running is cancelled too, which fences its worker
    out: whatever it finds, it cannot record it."""
    run = _lock_for_a_person(run, user)
    run.attempts.filter(status__in=[StepAttempt.Status.QUEUED, StepAttempt.Status.RUNNING]).update(
        status=StepAttempt.Status.CANCELLED, lease_token=None, finished_at=timezone.now()
    )
    _finish(
        run=run,
        to=Run.Status.CANCELLED,
        kind=RunEvent.Kind.CANCELLED,
        user=user,
        message=f"Cancelled by {person(user)}: {note}",
        human_minutes=human_minutes,
    )
    return run


def _finish(*, run: Run, to: str, kind: str, user, message: str, human_minutes) -> None:
    run_move(
        run=run, to=to, current_step=None, finished_at=timezone.now(), **_minutes(human_minutes)
    )
    event_append(run=run, kind=kind, actor=user, message=message)
