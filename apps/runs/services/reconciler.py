"""The reconciler: the database is the source of truth, so whatever Redis or a worker lost is
found here and put back on its way.

It looks for three things:
- running attempts whose lease ran out (their worker died or hung): run them again, or after
  ``HANDOFF_MAX_RECOVERIES`` give them to a person, since they may be what kills workers;
- queued attempts that were handed to RQ but whose job is gone (Redis flushed or restarted
  empty, a failed enqueue, a job that failed outside the engine): enqueue them again;
- active runs with nothing queued or running (which the engine's transactions should make
  impossible): hand them to a person rather than leave them silent;
- runs "with a person" that no person has (their escalation was resolved or deleted behind the
  engine's back): hand them to a person again.
Each finding appends a ``recovered`` event to the run saying what was found and what was done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from apps.workflows.actions import PermanentError

from ..hooks import handover
from ..models import HandoverReason, Run, RunEvent, StepAttempt
from .cases import run_lock
from .deadlines import time_out_overdue_attempts
from .engine import fail_locked, lock_running, run_hand_over
from .events import event_append
from .scheduling import attempt_schedule, enqueue_attempt, job_id_for, queue

logger = logging.getLogger(__name__)
ALIVE_JOB_STATES = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED})


@dataclass
class ReconcileReport:
    leases_recovered: int = 0
    attempts_given_up: int = 0
    jobs_requeued: int = 0
    runs_escalated: int = 0
    handovers_reopened: int = 0
    attempts_timed_out: int = 0

    def __str__(self) -> str:
        return (
            f"{self.leases_recovered} attempt(s) taken back from dead workers, "
            f"{self.attempts_given_up} given to a person after repeated worker deaths, "
            f"{self.jobs_requeued} lost job(s) enqueued again, "
            f"{self.runs_escalated} stuck run(s) handed to a person, "
            f"{self.handovers_reopened} run(s) with a person but no open escalation handed over "
            f"again, {self.attempts_timed_out} attempt(s) past their deadline timed out"
        )

    @property
    def found_anything(self) -> bool:
        return any(vars(self).values())


def reconcile(*, now: datetime | None = None, limit: int = 1000) -> ReconcileReport:
    now = now or timezone.now()
    report = ReconcileReport()
    # First: an attempt past its deadline timed out, even if its lease ran out too.
    report.attempts_timed_out += time_out_overdue_attempts(limit=limit)
    _recover_expired_leases(now=now, limit=limit, report=report)
    _requeue_lost_jobs(now=now, limit=limit, report=report)
    _escalate_stuck_runs(now=now, limit=limit, report=report)
    _reopen_lost_handovers(now=now, limit=limit, report=report)
    return report


def _recover_expired_leases(*, now: datetime, limit: int, report: ReconcileReport) -> None:
    expired = list(
        StepAttempt.objects.filter(
            status=StepAttempt.Status.RUNNING, lease_expires_at__lt=now
        ).values_list("pk", "run_id")[:limit]
    )
    for attempt_id, run_id in expired:
        with transaction.atomic():
            locked = lock_running(run_id=run_id, attempt_id=attempt_id)
            if locked is None:
                continue
            run, attempt = locked
            if attempt.lease_expires_at is None or attempt.lease_expires_at >= now:
                continue  # renewed meanwhile
            lapsed = (now - attempt.lease_expires_at).total_seconds()
            who = attempt.worker or "its worker"
            if attempt.recoveries >= settings.HANDOFF_MAX_RECOVERIES:
                fail_locked(
                    run=run,
                    attempt=attempt,
                    error=PermanentError(
                        f"{who} stopped in the middle of this step "
                        f"{attempt.recoveries + 1} times; Handoff stops re-running it, since "
                        "the step itself may be what stops the workers.",
                        code="worker_lost",
                    ),
                    trace="",
                )
                report.attempts_given_up += 1
                continue
            attempt.status = StepAttempt.Status.QUEUED
            attempt.lease_token = None
            attempt.lease_expires_at = None
            attempt.recoveries += 1
            attempt.due_at = now
            attempt.enqueued_at = now
            attempt.save(
                update_fields=[
                    "status",
                    "lease_token",
                    "lease_expires_at",
                    "recoveries",
                    "due_at",
                    "enqueued_at",
                ]
            )
            event_append(
                run=run,
                kind=RunEvent.Kind.RECOVERED,
                step=attempt.step,
                attempt=attempt,
                message=f"{attempt.step.name}, attempt {attempt.number}: {who} stopped "
                f"renewing its lease ({lapsed:.0f} s ago). The attempt runs again under the "
                "same idempotency key.",
                detail={
                    "found": "lease_expired",
                    "worker": attempt.worker,
                    "recoveries": attempt.recoveries,
                },
            )
            attempt_schedule(attempt=attempt, timeout_s=attempt.step.timeout_s, at_front=True)
            report.leases_recovered += 1


def _requeue_lost_jobs(*, now: datetime, limit: int, report: ReconcileReport) -> None:
    """Check every queued attempt handed to RQ a while ago, in batches (a deep backlog after a
    flush must not hide the newest losses behind the oldest)."""
    cutoff = now - timedelta(seconds=settings.HANDOFF_REQUEUE_AFTER)
    after = 0
    while True:
        batch = list(
            StepAttempt.objects.filter(
                status=StepAttempt.Status.QUEUED, enqueued_at__lt=cutoff, pk__gt=after
            )
            .order_by("pk")
            .values_list("pk", "run_id", "recoveries", "enqueued_at", "step__timeout_s")[:limit]
        )
        if not batch:
            return
        _requeue_batch(batch=batch, now=now, report=report)
        if len(batch) < limit:
            return
        after = batch[-1][0]


def _requeue_batch(*, batch: list, now: datetime, report: ReconcileReport) -> None:
    connection = queue().connection
    job_ids = [job_id_for(pk, recoveries) for pk, _, recoveries, _, _ in batch]
    try:
        jobs = Job.fetch_many(job_ids, connection=connection)
    except NoSuchJobError:
        # One hash RQ cannot read (a worker's heartbeat or status written to a job Redis had
        # already lost) fails the whole batch, and would every pass: read one by one, and
        # count such a job as lost.
        jobs = []
        for job_id in job_ids:
            try:
                jobs.append(Job.fetch(job_id, connection=connection))
            except NoSuchJobError:
                jobs.append(None)
    # A worker that took the job claims the attempt within moments, or within its database
    # retries; one that has not after a lease's time died holding it.
    claiming = timedelta(seconds=settings.HANDOFF_LEASE_SECONDS)
    for (pk, run_id, recoveries, enqueued_at, timeout_s), job in zip(batch, jobs, strict=True):
        # fetch_many read the whole hash: no second round trip for the status.
        state = job.get_status(refresh=False) if job is not None else None
        if state in ALIVE_JOB_STATES:
            continue  # waiting its turn in the queue
        if state == JobStatus.STARTED and job.started_at and now - job.started_at < claiming:
            continue  # a worker has it and is claiming the attempt: not lost
        with transaction.atomic():
            # Conditional on the enqueue we saw, so two reconcilers requeue it once.
            if not StepAttempt.objects.filter(
                pk=pk, status=StepAttempt.Status.QUEUED, enqueued_at=enqueued_at
            ).update(enqueued_at=now):
                continue
            seen = state.value if state else "missing"
            event_append(
                run_id=run_id,
                kind=RunEvent.Kind.RECOVERED,
                attempt=StepAttempt(pk=pk),
                message=f"The job carrying a queued attempt was lost (job {seen} in Redis); "
                "it was enqueued again, ahead of the queue.",
                detail={"found": "job_lost", "job_state": seen},
            )
            # Robust: a failed enqueue is logged and leaves enqueued_at set, so a later pass
            # finds the job missing again; it must not stop the other callbacks of this commit.
            transaction.on_commit(
                lambda pk=pk, t=timeout_s, r=recoveries: enqueue_attempt(pk, t, r, at_front=True),
                robust=True,
            )
        report.jobs_requeued += 1


def _escalate_stuck_runs(*, now: datetime, limit: int, report: ReconcileReport) -> None:
    stale = now - timedelta(seconds=max(60.0, settings.HANDOFF_REQUEUE_AFTER * 2))
    pending = [StepAttempt.Status.QUEUED, StepAttempt.Status.RUNNING]
    stuck = list(
        Run.objects.filter(status__in=Run.ACTIVE, updated_at__lt=stale)
        .exclude(attempts__status__in=pending)
        .values_list("pk", flat=True)[:limit]
    )
    for run_id in stuck:
        with transaction.atomic():
            run = run_lock(run=run_id)
            if run.status not in Run.ACTIVE or run.attempts.filter(status__in=pending).exists():
                continue
            event_append(
                run=run,
                kind=RunEvent.Kind.RECOVERED,
                message=f"The run was {run.get_status_display().lower()} but no step was "
                "queued or running; it was handed to a person.",
                detail={"found": "stuck_run", "status": run.status},
            )
            run_hand_over(
                run=run,
                reason=HandoverReason.MANUAL_REVIEW,
                summary="Handoff lost track of this case: no step was queued or running. "
                "Check the timeline, then resume it or finish it by hand.",
                step=run.current_step,
            )
            report.runs_escalated += 1


def _reopen_lost_handovers(*, now: datetime, limit: int, report: ReconcileReport) -> None:
    """A run "with a person" whose escalation is resolved (an edit behind the services' back)
    would wait for ever: nobody sees it. Put it in front of a person again."""
    stale = now - timedelta(seconds=max(60.0, settings.HANDOFF_REQUEUE_AFTER * 2))
    escalated = list(
        Run.objects.filter(status=Run.Status.ESCALATED, updated_at__lt=stale).values_list(
            "pk", flat=True
        )[:limit]
    )
    if not escalated:
        return
    lost = set(escalated) - handover().runs_waiting_for_a_person(escalated)
    for run_id in sorted(lost):
        with transaction.atomic():
            run = run_lock(run=run_id)
            if run.status != Run.Status.ESCALATED or handover().runs_waiting_for_a_person([run_id]):
                continue
            event_append(
                run=run,
                kind=RunEvent.Kind.RECOVERED,
                message="The run was with a person but had no open escalation (it was closed "
                "without going through the inbox); it was handed to a person again.",
                detail={"found": "lost_handover"},
            )
            run_hand_over(
                run=run,
                reason=HandoverReason.MANUAL_REVIEW,
                summary="This case waits for a person, but its escalation was closed without "
                "a decision (for example edited in admin). Check the timeline, then resume it, "
                "finish it by hand or cancel it.",
                step=run.current_step,
            )
            report.handovers_reopened += 1
