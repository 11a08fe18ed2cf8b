from __future__ import annotations

from typing import Any

from django.utils import timezone

from ..models import Run, RunEvent


def event_append(
    *,
    run: Run | None = None,
    run_id: int | None = None,
    kind: str,
    message: str = "",
    step=None,
    attempt=None,
    actor=None,
    detail: dict[str, Any] | None = None,
    at=None,
) -> RunEvent:
    """Append one entry to a run's timeline. Call it inside the transaction of the change."""
    return RunEvent.objects.create(
        run_id=run.pk if run is not None else run_id,
        kind=kind,
        message=message,
        step=step,
        attempt=attempt,
        actor=actor,
        detail=detail or {},
        at=at or timezone.now(),
    )
