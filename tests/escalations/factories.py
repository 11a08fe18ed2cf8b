"""Escalations for the inbox tests, opened the way the engine opens them."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.escalations.models import Escalation
from apps.runs.models import StepAttempt
from apps.runs.services import run_hand_over, run_lock, run_start

BOUND = "amount <= 1000"


def escalate(
    workflow,
    external_id: str,
    *,
    data=None,
    reason=Escalation.Reason.OUT_OF_BOUNDS,
    summary=None,
    detail=None,
    priority=Escalation.Priority.NORMAL,
    overdue=False,
) -> Escalation:
    """An escalation opened the way the engine opens one (rows only: no worker is involved)."""
    data = {"amount": 5000, "vendor": "ACME"} if data is None else data
    run, _ = run_start(workflow=workflow, external_id=external_id, data=data)
    step = run.version.steps.order_by("position").first()
    # What the engine leaves behind: the first attempt failed (nothing ran it: under the `db`
    # fixture on_commit never fires, so nothing was enqueued).
    attempt = run.attempts.get()
    attempt.status = StepAttempt.Status.FAILED
    attempt.started_at = attempt.finished_at = timezone.now()
    attempt.error_kind = {
        Escalation.Reason.OUT_OF_BOUNDS: "out_of_bounds",
        Escalation.Reason.MANUAL_REVIEW: "manual_review",
        Escalation.Reason.PERMANENT_ERROR: "permanent",
    }.get(reason, "transient")
    attempt.message = "It failed."
    attempt.save()
    if reason == Escalation.Reason.OUT_OF_BOUNDS and detail is None:
        detail = {
            "kind": "out_of_bounds",
            "code": "out_of_bounds",
            "expression": BOUND,
            "values": {"amount": data.get("amount")},
        }
    with transaction.atomic():
        escalation = run_hand_over(
            run=run_lock(run=run),
            reason=reason,
            summary=summary or f"{step.name} stopped the case: Bound `{BOUND}` does not hold.",
            step=step,
            attempt=attempt,
            detail=detail,
            priority=priority,
        )
    if overdue:
        Escalation.objects.filter(pk=escalation.pk).update(
            due_at=timezone.now() - timedelta(hours=1)
        )
        escalation.refresh_from_db()
    return escalation


def htmx(target: str = "inbox-panel") -> dict:
    """The headers htmx sends for a request that swaps ``#target``."""
    return {"HX-Request": "true", "HX-Target": target, "HX-Current-URL": "http://testserver/inbox/"}
