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

from apps.runs.models import RunEvent
from apps.runs.services import (
    case_data_diff,
    event_append,
    person,
    run_cancel,
    run_finish_by_hand,
    run_lock,
    run_resume,
    run_retry_step,
    run_skip_step,
)

from ..models import Escalation
from ..permissions import require_can_act
from .claims import EscalationConflict, holder_message

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
    run = run_lock(run=escalation.run_id)
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
    diff = case_data_diff(run=run, changes=changes or {}) if resolution == R.RESUMED else []
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
    _hand_on(
        run=run,
        step=step,
        resolution=resolution,
        user=user,
        note=current.note,
        changes=changes if resolution == R.RESUMED else None,
        minutes=spent,
    )
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


def _hand_on(*, run, step, resolution: str, user, note: str, changes, minutes) -> None:
    """Give the run back to the engine's front door with the person's decision."""
    if resolution == R.RESUMED:
        run_resume(run=run, step=step, user=user, changes=changes, human_minutes=minutes)
    elif resolution == R.RETRIED:
        run_retry_step(run=run, step=step, user=user, human_minutes=minutes)
    elif resolution == R.SKIPPED:
        run_skip_step(run=run, step=step, user=user, note=note, human_minutes=minutes)
    elif resolution == R.DONE_BY_HAND:
        run_finish_by_hand(run=run, user=user, note=note, human_minutes=minutes)
    else:
        run_cancel(run=run, user=user, note=note, human_minutes=minutes)
