"""Resolving an escalation: the person's decision, recorded, and the run handed on.

Resume, retry and skip give the run back to the engine (a real worker carries it on);
completed by hand and cancel finish it. The run is locked before the escalation, in the
engine's order, so a resolve and a worker never deadlock.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.runs.models import Run, RunEvent, StepAttempt

# The module, not its names: the engine imports this package to open escalations.
from apps.runs.services import engine
from apps.runs.services.events import event_append

from ..models import Escalation
from ..permissions import require_can_act
from .claims import EscalationConflict, holder_message, person

R = Escalation.Resolution
NEEDS_STEP = (R.RESUMED, R.RETRIED, R.SKIPPED)
NEEDS_NOTE = {
    R.SKIPPED: "Say why the step is skipped.",
    R.DONE_BY_HAND: "Say what was done by hand.",
    R.CANCELLED: "Say why the case is cancelled.",
}


def coerce_edit(*, field: str, old: Any, raw: str) -> Any:
    """Read a value typed into a form as the type the field had (text stays text)."""
    raw = raw.strip()
    try:
        if isinstance(old, bool):
            if raw.lower() not in {"true", "false", "yes", "no", "1", "0"}:
                raise ValueError("expected true or false")
            return raw.lower() in {"true", "yes", "1"}
        if isinstance(old, int):
            return int(raw)
        if isinstance(old, float):
            return float(raw)
        if isinstance(old, dict | list):
            value = json.loads(raw)
            if not isinstance(value, type(old)):
                raise ValueError(f"expected a JSON {'object' if isinstance(old, dict) else 'list'}")
            return value
    except (ValueError, TypeError) as exc:
        kind = "yes/no" if isinstance(old, bool) else type(old).__name__
        raise ValidationError({field: f"{raw!r} is not a valid {kind}: {exc}."}) from exc
    return raw


@transaction.atomic
def escalation_resolve(
    *,
    escalation: Escalation,
    user: AbstractBaseUser,
    resolution: str,
    note: str = "",
    minutes: Decimal | int | None = None,
    changes: dict[str, Any] | None = None,
) -> Escalation:
    """Resolve an open or claimed escalation; refused (EscalationConflict) if someone else
    holds it or it is already resolved; ValidationError names what is missing; PermissionDenied
    if ``user`` may not act on it (before anything is locked)."""
    require_can_act(user=user, escalation=escalation)
    run = (
        Run.objects.select_for_update(no_key=True, of=("self",))
        .select_related("workflow__team", "version", "current_step")
        .get(pk=escalation.run_id)
    )
    current = (
        Escalation.objects.select_for_update(of=("self",))
        .select_related("team", "step", "assignee", "resolved_by")
        .get(pk=escalation.pk)
    )
    if current.status == Escalation.Status.RESOLVED or (
        current.status == Escalation.Status.CLAIMED and current.assignee_id != user.pk
    ):
        raise EscalationConflict(holder_message(current))
    step = current.step or run.current_step
    _validate(resolution=resolution, note=note, minutes=minutes, step=step)

    now = timezone.now()
    spent = _human_minutes(escalation=current, resolution=resolution, minutes=minutes, now=now)
    current.status = Escalation.Status.RESOLVED
    current.resolution = resolution
    current.note = note.strip()
    current.resolved_at = now
    current.resolved_by = user
    current.assignee = current.assignee or user
    current.claimed_at = current.claimed_at or now
    current.human_minutes = spent
    current.save(
        update_fields=[
            "status",
            "resolution",
            "note",
            "resolved_at",
            "resolved_by",
            "assignee",
            "claimed_at",
            "human_minutes",
        ]
    )
    run.human_minutes += spent
    diff = _apply_changes(run=run, changes=changes or {}) if resolution == R.RESUMED else []
    event_append(
        run=run,
        kind=RunEvent.Kind.RESOLVED,
        actor=user,
        step=step,
        message=f"{person(user)} resolved it: {R(resolution).label}"
        + (f" — {current.note}" if current.note else "")
        + f" ({spent:g} min).",
        detail={
            "escalation": current.pk,
            "resolution": resolution,
            "minutes": float(spent),
            "diff": diff,
        },
        at=now,
    )
    _hand_on(run=run, step=step, resolution=resolution, user=user, note=current.note, diff=diff)
    return current


def _validate(*, resolution: str, note: str, minutes, step) -> None:
    if resolution not in R.values:
        raise ValidationError({"resolution": f"Unknown resolution {resolution!r}."})
    errors: dict[str, str] = {}
    if resolution in NEEDS_NOTE and not note.strip():
        errors["note"] = NEEDS_NOTE[resolution]
    if resolution == R.DONE_BY_HAND and (minutes is None or Decimal(minutes) <= 0):
        errors["minutes"] = "Give the minutes the case took by hand."
    if resolution in NEEDS_STEP and step is None:
        errors["resolution"] = (
            "This case has no step to run again: complete it by hand or cancel it."
        )
    if errors:
        raise ValidationError(errors)


def _human_minutes(*, escalation: Escalation, resolution: str, minutes, now) -> Decimal:
    if resolution == R.DONE_BY_HAND:
        return Decimal(minutes).quantize(Decimal("0.01"))
    if escalation.claimed_at is None:
        return Decimal("0")
    held = Decimal((now - escalation.claimed_at).total_seconds()) / 60
    return min(held, Decimal(escalation.team.max_human_minutes)).quantize(Decimal("0.01"))


def _apply_changes(*, run: Run, changes: dict[str, Any]) -> list[dict[str, Any]]:
    bad = [name for name in changes if not str(name).isidentifier()]
    if bad:
        raise ValidationError({"data": f"Field names must be plain names: {', '.join(bad)}."})
    diff = [
        {"field": name, "old": run.data.get(name), "new": value}
        for name, value in changes.items()
        if run.data.get(name) != value or name not in run.data
    ]
    run.data = {**run.data, **changes}
    return diff


def _hand_on(*, run: Run, step, resolution: str, user, note: str, diff) -> None:
    if resolution in (R.RESUMED, R.RETRIED):
        run.status = Run.Status.RUNNING
        run.current_step = step
        run.save(update_fields=["status", "current_step", "data", "human_minutes", "updated_at"])
        changed = ", ".join(f"{d['field']}: {d['old']!r} → {d['new']!r}" for d in diff)
        event_append(
            run=run,
            kind=RunEvent.Kind.RESUMED,
            actor=user,
            step=step,
            message=f"{step.name} runs again"
            + (f" with {changed}" if changed else "")
            + ", with a fresh set of attempts.",
            detail={"diff": diff},
        )
        engine.attempt_create(run=run, step=step)
    elif resolution == R.SKIPPED:
        event_append(
            run=run,
            kind=RunEvent.Kind.STEP_SKIPPED,
            actor=user,
            step=step,
            message=f"{step.name} skipped by {person(user)}: {note}",
        )
        run.save(update_fields=["human_minutes"])
        engine.run_advance(run=run, after=step)
    elif resolution == R.DONE_BY_HAND:
        _finish(
            run=run,
            status=Run.Status.COMPLETED,
            kind=RunEvent.Kind.COMPLETED,
            user=user,
            message=f"Completed by hand by {person(user)}: {note}",
        )
    else:
        run.attempts.filter(status=StepAttempt.Status.QUEUED).update(
            status=StepAttempt.Status.CANCELLED
        )
        _finish(
            run=run,
            status=Run.Status.CANCELLED,
            kind=RunEvent.Kind.CANCELLED,
            user=user,
            message=f"Cancelled by {person(user)}: {note}",
        )


def _finish(*, run: Run, status: str, kind: str, user, message: str) -> None:
    run.status = status
    run.current_step = None
    run.finished_at = timezone.now()
    run.save(
        update_fields=[
            "status",
            "current_step",
            "finished_at",
            "data",
            "human_minutes",
            "updated_at",
        ]
    )
    event_append(run=run, kind=kind, actor=user, message=message)
