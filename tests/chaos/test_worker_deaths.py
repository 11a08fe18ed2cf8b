"""Workers killed or stopped in the middle of a step, as real processes."""

import signal
import time

from django.utils import timezone

from apps.runs.models import Run, RunEvent, StepAttempt
from tests.chaos.cases import book_step, http_step, start_case
from tests.chaos.checks import assert_every_case_settled
from tests.factories import workflow_with_steps
from tests.http_target import Reply


def running_attempt(run: Run) -> StepAttempt | None:
    return run.attempts.filter(status=StepAttempt.Status.RUNNING).first()


def lease_recoveries(run: Run) -> list[RunEvent]:
    # Filtered by what was found: the reconciler may also log a `job_lost` recovery when its
    # pass lands between a worker taking the job from Redis and claiming the attempt (the job
    # is "started", not gone; a duplicate delivery follows, which the claim makes a no-op).
    return list(run.events.filter(kind=RunEvent.Kind.RECOVERED, detail__found="lease_expired"))


def hand_backs(run: Run) -> list[RunEvent]:
    return list(run.events.filter(kind=RunEvent.Kind.RECOVERED, detail__how="handed_back"))


def status_of(run: Run) -> str:
    return Run.objects.values_list("status", flat=True).get(pk=run.pk)


def test_sigkill_mid_step(chaos, http_target):
    http_target.default = Reply(201, {"id": "ERP-1"}, delay_s=3)
    workflow = workflow_with_steps(http_step(http_target.url))
    first = chaos.worker()
    chaos.scheduler()
    run = start_case(workflow, "KILL-1")

    attempt = chaos.wait_until(
        lambda: running_attempt(run), timeout=20, what="the attempt to be running"
    )
    chaos.wait_until(
        lambda: len(http_target.received) == 1, timeout=5, what="the request to reach the target"
    )
    first.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    first.wait(timeout=5)
    chaos.worker()

    chaos.wait_until(
        lambda: status_of(run) == Run.Status.COMPLETED, timeout=40, what="the case to complete"
    )
    recovery_s = time.monotonic() - killed_at
    print(f"\n[chaos] SIGKILL mid-step: killed → completed in {recovery_s:.1f} s")

    attempt.refresh_from_db()
    assert attempt.status == StepAttempt.Status.SUCCEEDED
    assert attempt.recoveries == 1
    assert attempt.worker != first.name  # the second worker recorded it
    assert run.attempts.filter(status=StepAttempt.Status.SUCCEEDED).count() == 1
    # Exactly one lease recovery. (Other `recovered` events may appear: see lease_recoveries.)
    [recovered] = lease_recoveries(run)
    assert recovered.detail["worker"] == first.name
    assert recovered.attempt_id == attempt.pk
    keys = [r.headers["Idempotency-Key"] for r in http_target.received]
    assert keys == [attempt.idempotency_key] * 2
    assert attempt.idempotency_key.startswith(f"handoff-run-{run.pk}-post-1-")
    assert recovery_s < 60
    assert_every_case_settled()


def test_sigterm_lets_the_current_attempt_finish(chaos, http_target):
    http_target.default = Reply(201, {"id": "ERP-2"}, delay_s=2)
    workflow = workflow_with_steps(http_step(http_target.url), book_step())
    worker = chaos.worker()
    chaos.scheduler()
    run = start_case(workflow, "TERM-1")
    attempt = chaos.wait_until(
        lambda: running_attempt(run), timeout=20, what="the attempt to be running"
    )
    chaos.wait_until(
        lambda: len(http_target.received) == 1, timeout=5, what="the request to reach the target"
    )

    worker.signal(signal.SIGTERM)
    termed_at = timezone.now()
    code = worker.wait(timeout=15)
    exited_at = timezone.now()

    # It exited by itself, and only once the attempt it was running had been recorded.
    assert code == 0, chaos.explain()
    attempt.refresh_from_db()
    assert attempt.status == StepAttempt.Status.SUCCEEDED, chaos.explain()
    assert attempt.worker == worker.name
    assert termed_at < attempt.finished_at < exited_at
    # The run advanced: its next step is queued for whoever comes next.
    run.refresh_from_db()
    assert run.current_step.key == "book"
    assert run.attempts.get(step__key="book").status == StepAttempt.Status.QUEUED
    assert attempt.recoveries == 0 and not lease_recoveries(run) and not hand_backs(run)

    chaos.worker()
    chaos.wait_until(
        lambda: status_of(run) == Run.Status.COMPLETED, timeout=30, what="the case to complete"
    )
    assert len(http_target.received) == 1
    assert_every_case_settled()


def test_second_sigterm_hands_the_attempt_back(chaos, http_target):
    http_target.default = Reply(201, {"id": "ERP-3"}, delay_s=5)
    workflow = workflow_with_steps(http_step(http_target.url))
    worker = chaos.worker()
    chaos.scheduler()
    run = start_case(workflow, "TERM-2")
    attempt = chaos.wait_until(
        lambda: running_attempt(run), timeout=20, what="the attempt to be running"
    )
    chaos.wait_until(
        lambda: len(http_target.received) == 1, timeout=5, what="the request to reach the target"
    )

    worker.signal(signal.SIGTERM)
    # RQ ignores a second signal that comes within 1 s of the first (a worker pool sends
    # duplicates), so "twice quickly" is twice, 1.5 s apart: still well inside the 5 s step.
    time.sleep(1.5)
    worker.signal(signal.SIGTERM)
    worker.wait(timeout=10)

    # Back in the queue, without waiting for the lease to run out, and said so on the timeline.
    attempt.refresh_from_db()
    assert attempt.status == StepAttempt.Status.QUEUED, chaos.explain()
    assert attempt.lease_token is None
    [handed_back] = hand_backs(run)
    assert handed_back.detail == {"attempt": attempt.pk, "how": "handed_back"}
    assert attempt.recoveries == 0 and not lease_recoveries(run)
    print(f"\n[chaos] cold shutdown: worker exit code {worker.popen.returncode}")

    chaos.worker()
    chaos.wait_until(
        lambda: status_of(run) == Run.Status.COMPLETED, timeout=30, what="the case to complete"
    )
    attempt.refresh_from_db()
    assert attempt.status == StepAttempt.Status.SUCCEEDED
    assert attempt.number == 1 and run.attempts.count() == 1
    keys = {r.headers["Idempotency-Key"] for r in http_target.received}
    assert len(http_target.received) == 2 and len(keys) == 1
    assert_every_case_settled()
