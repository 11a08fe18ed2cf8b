"""The reconciler puts back what a dead worker or a forgetful Redis lost (in-process; the
same faults caused for real against worker processes are in tests/chaos/)."""

from datetime import timedelta

import django_rq
import pytest
from django.test import override_settings
from django.utils import timezone
from rq import SimpleWorker
from rq.job import Job, JobStatus

from apps.escalations.models import Escalation
from apps.runs.models import Run, StepAttempt
from apps.runs.services import attempt_claim, attempt_record_success, reconcile, run_start
from apps.runs.services.scheduling import job_id_for
from apps.workflows.actions import ActionResult
from tests.factories import workflow_with_steps
from tests.http_target import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def a_case(**step):
    workflow = workflow_with_steps(
        {"action": "data.set", "config": {"set": {"done": "True"}}, **step}
    )
    run, _ = run_start(workflow=workflow, external_id="R-1", data={})
    return run


def claim_and_die(run: Run):
    """What a worker does before SIGKILL: claims the attempt and never records an outcome."""
    attempt = run.attempts.get(status=StepAttempt.Status.QUEUED)
    claimed_attempt, _, token = attempt_claim(attempt_id=attempt.pk, worker="host.4242", job_id="j")
    StepAttempt.objects.filter(pk=attempt.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    return claimed_attempt, token


def test_an_attempt_whose_lease_expired_runs_again_and_completes(drain, redis_conn):
    run = a_case()
    redis_conn.flushdb()  # the dead worker's job went with it
    attempt, _ = claim_and_die(run)

    report = reconcile()
    drain()

    assert report.leases_recovered == 1
    run.refresh_from_db()
    attempt.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert attempt.status == StepAttempt.Status.SUCCEEDED and attempt.recoveries == 1
    assert run.attempts.count() == 1
    recovered = run.events.get(kind="recovered")
    assert "host.4242 stopped renewing its lease" in recovered.message
    assert recovered.detail["found"] == "lease_expired"


def test_a_worker_presumed_dead_cannot_record_after_its_attempt_was_taken_back(drain):
    run = a_case()
    attempt, old_token = claim_and_die(run)
    reconcile()
    drain()

    # The "dead" worker wakes up and tries to record its own outcome: fenced out.
    late = attempt_record_success(
        run_id=run.pk,
        attempt_id=attempt.pk,
        token=old_token,
        result=ActionResult(updates={"late": True}),
    )

    assert late == "stale"
    run.refresh_from_db()
    assert "late" not in run.data
    assert run.events.filter(kind="step_succeeded").count() == 1


@override_settings(HANDOFF_MAX_RECOVERIES=2)
def test_an_attempt_that_keeps_killing_workers_goes_to_a_person(drain, redis_conn):
    run = a_case(max_attempts=5)
    for _ in range(3):
        redis_conn.flushdb()
        claim_and_die(run)
        reconcile()

    run.refresh_from_db()
    assert run.status == Run.Status.ESCALATED
    attempt = run.attempts.get()
    assert attempt.error_code == "worker_lost" and attempt.recoveries == 2
    escalation = Escalation.objects.get(run=run)
    assert escalation.reason == Escalation.Reason.PERMANENT_ERROR
    assert "3 times" in escalation.summary


@override_settings(HANDOFF_REQUEUE_AFTER=0)
def test_a_queued_attempt_whose_job_redis_lost_is_enqueued_again(drain, redis_conn):
    run = a_case()
    redis_conn.flushdb()

    report = reconcile()
    drain()

    assert report.jobs_requeued == 1
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    event = run.events.get(kind="recovered")
    assert event.detail == {"found": "job_lost", "job_state": "missing"}


@override_settings(HANDOFF_REQUEUE_AFTER=0)
def test_a_job_waiting_in_the_queue_is_left_alone(redis_conn):
    a_case()

    assert reconcile().jobs_requeued == 0


def test_a_retry_due_later_survives_redis_losing_everything(drain, redis_conn, http_target):
    http_target.reply(Reply(503))
    workflow = workflow_with_steps(
        {
            "action": "http.request",
            "config": {"url": f"{http_target.url}/x"},
            "initial_interval_s": 0.5,
            "max_interval_s": 0.5,
        }
    )
    run, _ = run_start(workflow=workflow, external_id="R-2", data={})
    SimpleWorker([django_rq.get_queue("default")], connection=redis_conn).work(burst=True)
    assert run.attempts.filter(status="queued").exists()  # the retry, due in 0.5 s
    redis_conn.flushdb()  # this database only: others share the server

    drain()

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert [a.status for a in run.attempts.order_by("number")] == ["failed", "succeeded"]


def test_an_active_run_with_nothing_queued_is_handed_to_a_person(redis_conn):
    run = a_case()
    run.attempts.update(status=StepAttempt.Status.CANCELLED)
    Run.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(minutes=5))

    report = reconcile()

    assert report.runs_escalated == 1
    escalation = Escalation.objects.get(run=run)
    assert escalation.reason == Escalation.Reason.MANUAL_REVIEW
    assert "lost track" in escalation.summary
    assert run.events.filter(kind="recovered", detail__found="stuck_run").exists()


def test_reconcile_once_command_reports_what_it_did(redis_conn, capsys):
    from django.core.management import call_command

    a_case()
    call_command("reconcile", "--once")

    assert "Reconciled: 0 attempt(s) taken back" in capsys.readouterr().out


@override_settings(HANDOFF_REQUEUE_AFTER=0)
def test_every_lost_job_is_found_however_deep_the_backlog(drain, redis_conn):
    workflow = workflow_with_steps({"action": "data.set", "config": {"set": {"done": "True"}}})
    for i in range(5):
        run_start(workflow=workflow, external_id=f"L-{i}", data={})
    redis_conn.flushdb()

    report = reconcile(limit=2)  # three batches
    drain()

    assert report.jobs_requeued == 5
    assert Run.objects.filter(status=Run.Status.COMPLETED).count() == 5


@override_settings(HANDOFF_REQUEUE_AFTER=0, HANDOFF_LEASE_SECONDS=30)
def test_a_started_job_is_left_to_its_worker_for_one_lease_then_enqueued_again(drain, redis_conn):
    run = a_case()
    attempt = run.attempts.get()
    job = django_rq.get_queue("default").fetch_job(job_id_for(attempt.pk, 0))
    job.set_status(JobStatus.STARTED)
    job.started_at = timezone.now() - timedelta(seconds=20)
    job.save()

    assert reconcile().jobs_requeued == 0  # a worker has it and is claiming the attempt

    job.started_at = timezone.now() - timedelta(seconds=31)
    job.save()
    assert reconcile().jobs_requeued == 1  # it died holding the job
    drain()

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert run.events.get(kind="recovered").detail == {"found": "job_lost", "job_state": "started"}


@override_settings(HANDOFF_REQUEUE_AFTER=0)
def test_a_job_rq_cannot_read_counts_as_lost_without_hiding_the_others(drain, redis_conn):
    workflow = workflow_with_steps({"action": "data.set", "config": {"set": {"done": "True"}}})
    lost, _ = run_start(workflow=workflow, external_id="H-1", data={})
    waiting, _ = run_start(workflow=workflow, external_id="H-2", data={})
    job_id = job_id_for(lost.attempts.get().pk, 0)
    django_rq.get_queue("default").fetch_job(job_id).delete()
    # What a worker's heartbeat leaves after Redis lost the job: a hash with no job in it.
    Job(job_id, connection=redis_conn).heartbeat(timezone.now(), ttl=60)

    report = reconcile()
    drain()

    assert report.jobs_requeued == 1
    assert lost.events.get(kind="recovered").detail["job_state"] == "missing"
    assert not waiting.events.filter(kind="recovered").exists()
    assert Run.objects.filter(status=Run.Status.COMPLETED).count() == 2
