"""Every change of a run's status, in one place.

``MOVES`` is the table of allowed moves; ``run_move`` applies one as a conditional update
(``filter(status__in=allowed_from)``), so a move from a state that changed underneath — a run
cancelled while a worker finished its step, two people resolving at once — changes nothing and
raises instead of overwriting.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from ..models import Run

S = Run.Status

# to: the statuses a run may come from.
MOVES: dict[str, frozenset[str]] = {
    # A worker claims a step (also the next step after one succeeded).
    S.RUNNING: frozenset({S.QUEUED, S.RUNNING, S.WAITING_RETRY, S.ESCALATED}),
    # A retry waits in the database, or a step is parked behind an open circuit.
    S.WAITING_RETRY: frozenset({S.QUEUED, S.RUNNING, S.WAITING_RETRY}),
    # Handed to a person; escalated → escalated is the reconciler re-opening a lost hand-over.
    S.ESCALATED: frozenset({S.QUEUED, S.RUNNING, S.WAITING_RETRY, S.ESCALATED}),
    S.COMPLETED: frozenset({S.QUEUED, S.RUNNING, S.ESCALATED}),
    S.COMPLETED_SKIPPED: frozenset({S.QUEUED, S.RUNNING, S.ESCALATED}),
    S.CANCELLED: frozenset({S.QUEUED, S.RUNNING, S.WAITING_RETRY, S.ESCALATED}),
    # Nothing moves a run back to queued: a run is created queued, and finished runs stay so.
    S.QUEUED: frozenset(),
}


class IllegalTransition(Exception):
    """The run is not in a status it may make this move from."""


def run_move(*, run: Run, to: str, **fields: Any) -> None:
    """Move ``run`` to status ``to``, writing ``fields`` in the same conditional update.

    Raises IllegalTransition if the run's status in the database does not allow the move; the
    in-memory ``run`` is updated only when the database was.
    """
    allowed_from = MOVES[to]
    values = {"status": to, "updated_at": timezone.now(), **fields}
    if not Run.objects.filter(pk=run.pk, status__in=allowed_from).update(**values):
        current = Run.objects.filter(pk=run.pk).values_list("status", flat=True).first()
        raise IllegalTransition(
            f"Run {run.pk} cannot move from {current or 'nowhere (it does not exist)'} to {to}."
        )
    _set(run, values)


def _set(run: Run, values: dict[str, Any]) -> None:
    computed = [name for name, value in values.items() if hasattr(value, "resolve_expression")]
    for name, value in values.items():
        if name not in computed:
            setattr(run, name, value)
    if computed:
        run.refresh_from_db(fields=computed)
