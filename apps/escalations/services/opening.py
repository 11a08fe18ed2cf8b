from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.runs.models import Run, RunEvent
from apps.runs.services import event_append

from ..models import Escalation

# How much of the team's SLA each priority gets.
SLA_FACTOR = {
    Escalation.Priority.LOW: 2.0,
    Escalation.Priority.NORMAL: 1.0,
    Escalation.Priority.HIGH: 0.5,
    Escalation.Priority.URGENT: 0.25,
}


def escalation_due_at(*, opened_at, sla_minutes: int, priority: int):
    return opened_at + timedelta(minutes=sla_minutes * SLA_FACTOR[priority])


@transaction.atomic
def escalation_open(
    *,
    run: Run,
    reason: str,
    summary: str,
    step=None,
    attempt=None,
    detail: dict[str, Any] | None = None,
    priority: int = Escalation.Priority.NORMAL,
) -> Escalation:
    """Put a case handed over by the engine in its team's inbox, with an event on its timeline.

    Called by the engine (``run_hand_over``) inside its transaction, which has already moved
    the run to "with a person" and holds its lock; the database refuses a second open
    escalation for one run.
    """
    now = timezone.now()
    team = run.workflow.team
    escalation = Escalation.objects.create(
        run=run,
        step=step,
        attempt=attempt,
        team=team,
        workflow_id=run.workflow_id,
        case_ref=run.external_id,
        reason=reason,
        summary=summary,
        detail=detail or {},
        priority=priority,
        opened_at=now,
        due_at=escalation_due_at(
            opened_at=now, sla_minutes=team.default_sla_minutes, priority=priority
        ),
    )
    event_append(
        run=run,
        kind=RunEvent.Kind.ESCALATED,
        step=step,
        attempt=attempt,
        message=summary,
        detail={"reason": reason, "escalation": escalation.pk},
        at=now,
    )
    return escalation


class InboxHandover:
    """The engine's hand-over to people, registered in ``EscalationsConfig.ready()``."""

    def open(self, **kwargs) -> Escalation:
        return escalation_open(**kwargs)

    def runs_waiting_for_a_person(self, run_ids) -> set[int]:
        return set(
            Escalation.objects.open()
            .filter(run_id__in=list(run_ids))
            .values_list("run_id", flat=True)
        )
