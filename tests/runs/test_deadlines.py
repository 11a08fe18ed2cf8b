"""Hard deadlines, in-process: the time limit cannot be swallowed or outlived, the heartbeat
stops at deadline + grace, and the reconciler times out what runs past it. (The same with a
wedged action in a real worker process, which its watchdog ends, is in tests/chaos/.)"""

import threading
import time
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import override_settings
from django.utils import timezone

from apps.escalations.models import Escalation
from apps.runs.models import Run, StepAttempt
from apps.runs.services import attempt_claim, attempt_record_success, reconcile, run_start
from apps.runs.services.leases import lease_heartbeat
from apps.runs.services.scheduling import job_timeout_s
from apps.runs.services.watchdog import WEDGED_EXIT_CODE, Watchdog
from apps.workflows.actions import ActionResult
from tests.chaos.actions import (
    RETURNS_LATE,
    SWALLOWS_EXCEPTION,
    register_test_actions,
    unregister_test_actions,
)
from tests.factories import workflow_with_steps

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def test_actions():
    register_test_actions()
    yield
    unregister_test_actions()


def a_case(external_id="D-1", **step):
    workflow = workflow_with_steps(
        {"action": "data.set", "config": {"set": {"done": "True"}}, "name": "Book", **step}
    )
    run, _ = run_start(workflow=workflow, external_id=external_id, data={})
    return run


def claim(run: Run):
    attempt = run.attempts.get(status=StepAttempt.Status.QUEUED)
    claimed, _, token = attempt_claim(attempt_id=attempt.pk, worker="host.77", job_id="j")
    claimed.refresh_from_db()
    return claimed, token


def overrun(attempt: StepAttempt, seconds: float = 60) -> None:
    """As if the attempt had been claimed ``seconds`` ago and its worker were stuck since (its
    heartbeat still beating after the deadline)."""
    StepAttempt.objects.filter(pk=attempt.pk).update(
        deadline_at=F("deadline_at") - timedelta(seconds=seconds),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        heartbeat_at=timezone.now(),
    )


@override_settings(HANDOFF_DEADLINE_GRACE_SECONDS=10, HANDOFF_LEASE_SECONDS=30)
def test_the_claim_sets_the_deadline_and_a_lease_that_ends_by_deadline_plus_grace(redis_conn):
    run = a_case(timeout_s=2)
    before = timezone.now()

    attempt, _ = claim(run)

    # The database clock set it; allow for a little skew from this process's clock.
    assert abs((attempt.deadline_at - before).total_seconds() - 2) < 1
    assert attempt.lease_expires_at == attempt.deadline_at + timedelta(seconds=10)


@override_settings(
    HANDOFF_DEADLINE_GRACE_SECONDS=1, HANDOFF_LEASE_SECONDS=3600, HANDOFF_HEARTBEAT_SECONDS=0.05
)
def test_the_heartbeat_never_extends_the_lease_past_deadline_plus_grace(redis_conn):
    run = a_case(timeout_s=2)
    attempt, token = claim(run)
    StepAttempt.objects.filter(pk=attempt.pk).update(lease_expires_at=timezone.now())

    with lease_heartbeat(attempt_id=attempt.pk, token=token):
        time.sleep(0.5)  # several beats, each asking for an hour

    attempt.refresh_from_db()
    assert attempt.lease_expires_at == attempt.deadline_at + timedelta(seconds=1)


def test_an_action_that_catches_exception_still_times_out(drain, test_actions):
    run = a_case(action=SWALLOWS_EXCEPTION, config={}, timeout_s=0.3, max_attempts=1)

    drain()

    run.refresh_from_db()
    attempt = run.attempts.get()
    assert attempt.status == StepAttempt.Status.FAILED and attempt.error_code == "timeout"
    assert attempt.duration_s < 2
    assert "swallowed" not in run.data
    assert Escalation.objects.get(run=run).reason == Escalation.Reason.TIMEOUT


def test_an_action_that_returns_after_overrunning_is_a_timeout_not_a_success(drain, test_actions):
    run = a_case(action=RETURNS_LATE, config={"overrun_s": 0.4}, timeout_s=0.3, max_attempts=2)

    drain()

    run.refresh_from_db()
    assert [a.error_code for a in run.attempts.order_by("number")] == ["timeout", "timeout"]
    assert not run.attempts.filter(status=StepAttempt.Status.SUCCEEDED).exists()
    assert "late_result" not in run.data
    assert not run.events.filter(kind="step_succeeded").exists()
    escalation = Escalation.objects.get(run=run)
    assert escalation.reason == Escalation.Reason.TIMEOUT
    assert "timed out on all 2 attempts" in escalation.summary


@override_settings(HANDOFF_DEADLINE_GRACE_SECONDS=10)
def test_the_reconciler_times_out_an_overdue_attempt_retries_it_and_fences_its_worker(
    drain, redis_conn
):
    run = a_case(timeout_s=2, max_attempts=2)
    redis_conn.flushdb()  # the wedged worker holds the job
    attempt, old_token = claim(run)
    overrun(attempt)

    report = reconcile()

    # Timed out, not taken back as a dead worker's (its lease ran out too).
    assert report.attempts_timed_out == 1 and report.leases_recovered == 0
    attempt.refresh_from_db()
    assert attempt.status == StepAttempt.Status.FAILED and attempt.error_code == "timeout"
    assert attempt.error_kind == "transient" and attempt.recoveries == 0
    event = run.events.get(kind="recovered")
    assert event.detail == {"found": "deadline_passed", "worker": "host.77"}
    assert event.message == (
        "Book, attempt 1 ran past its 2 s limit (+10 s grace) and had not stopped; host.77 was "
        "fenced out and the attempt counts as timed out."
    )
    assert run.events.filter(kind="retry_scheduled").count() == 1

    # The wedged worker comes back with a result: refused.
    late = attempt_record_success(
        run_id=run.pk,
        attempt_id=attempt.pk,
        token=old_token,
        result=ActionResult(updates={"late": True}),
    )
    assert late == "stale"

    drain()
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and "late" not in run.data
    assert [a.status for a in run.attempts.order_by("number")] == ["failed", "succeeded"]


def test_an_overdue_attempt_with_no_retry_left_goes_to_a_person_as_timed_out(redis_conn):
    run = a_case(timeout_s=2, max_attempts=1)
    attempt, _ = claim(run)
    overrun(attempt)

    assert reconcile().attempts_timed_out == 1

    run.refresh_from_db()
    assert run.status == Run.Status.ESCALATED
    escalation = Escalation.objects.get(run=run)
    assert escalation.reason == Escalation.Reason.TIMEOUT
    assert "timed out on all 1 attempt" in escalation.summary


@override_settings(HANDOFF_DEADLINE_GRACE_SECONDS=10)
def test_a_worker_that_died_before_the_deadline_is_recovered_not_timed_out(redis_conn):
    run = a_case(timeout_s=2, max_attempts=1)
    attempt, _ = claim(run)
    overrun(attempt)
    # Its last sign of life came before the deadline: it died, it was not stuck.
    StepAttempt.objects.filter(pk=attempt.pk).update(
        heartbeat_at=F("deadline_at") - timedelta(seconds=1)
    )

    report = reconcile()

    assert report.attempts_timed_out == 0 and report.leases_recovered == 1
    attempt.refresh_from_db()
    assert attempt.status == StepAttempt.Status.QUEUED and attempt.recoveries == 1
    assert run.events.get(kind="recovered").detail["found"] == "lease_expired"


def test_the_heartbeat_beats_once_just_past_the_steps_limit(redis_conn):
    run = a_case(timeout_s=0.3)
    attempt, token = claim(run)
    claimed_beat = StepAttempt.objects.get(pk=attempt.pk).heartbeat_at

    with (
        override_settings(HANDOFF_HEARTBEAT_SECONDS=60),
        lease_heartbeat(attempt_id=attempt.pk, token=token, timeout_s=0.3),
    ):
        time.sleep(2.0)  # past the limit + 1 s: the extra beat has happened

    attempt.refresh_from_db()
    assert attempt.heartbeat_at > attempt.deadline_at > claimed_beat


def test_an_attempt_within_its_deadline_and_grace_is_left_running(redis_conn):
    run = a_case(timeout_s=2)
    attempt, _ = claim(run)
    overrun(attempt, seconds=5)  # 3 s past its deadline, inside the default 10 s of grace
    StepAttempt.objects.filter(pk=attempt.pk).update(lease_expires_at=timezone.now() + timedelta(1))

    report = reconcile()

    assert report.attempts_timed_out == 0
    attempt.refresh_from_db()
    assert attempt.status == StepAttempt.Status.RUNNING


@override_settings(HANDOFF_DEADLINE_GRACE_SECONDS=10, HANDOFF_DB_RETRY_SECONDS=60)
def test_the_job_timeout_covers_the_step_the_grace_and_the_database_retries():
    # RQ kills a job without recording anything: it must come after everything the engine does.
    assert job_timeout_s(2) >= 2 + 10 + 3 * 60
    assert job_timeout_s(300) - job_timeout_s(2) == 298


def test_the_watchdog_fires_after_limit_plus_grace_and_not_once_disarmed():
    exits = []
    fired = threading.Event()
    dog = Watchdog(exit=lambda code: (exits.append(code), fired.set()))

    dog.arm(attempt_id=1, limit_s=0.1, grace_s=0.1)
    dog.disarm()
    time.sleep(0.4)
    assert exits == []

    started = time.monotonic()
    dog.arm(attempt_id=2, limit_s=0.1, grace_s=0.1)
    assert fired.wait(2)
    assert exits == [WEDGED_EXIT_CODE] and time.monotonic() - started >= 0.2
