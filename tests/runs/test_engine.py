"""The engine, end to end on real RQ workers (burst SimpleWorker) and a real Redis."""

import django_rq
import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from apps.escalations.models import Escalation
from apps.runs.models import Run, RunEvent, StepAttempt
from apps.runs.services import run_start
from apps.runs.tasks import execute_attempt
from apps.workflows.models import Workflow
from tests.factories import StepFactory, VersionFactory, workflow_with_steps
from tests.http_target import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def post_step(target_url: str, **fields) -> dict:
    step = {
        "key": "post",
        "name": "Post to ERP",
        "action": "http.request",
        "config": {
            "method": "POST",
            "url": f"{target_url}/invoices/{{invoice}}",
            "body": {"amount": "amount", "ref": "invoice"},
            "response": {"erp_id": "id"},
        },
    }
    step.update(fields)
    return step


def kinds(run: Run) -> list[str]:
    return list(run.events.values_list("kind", flat=True))


def start(workflow, data, external_id="INV-1"):
    run, created = run_start(workflow=workflow, external_id=external_id, data=data)
    assert created
    return run


def test_success_path_maps_the_answer_into_case_data_and_completes(drain, http_target):
    http_target.default = Reply(201, {"id": "ERP-7"})
    workflow = workflow_with_steps(
        {"key": "check", "name": "Check", "bounds": ["amount <= 10000"]},
        post_step(http_target.url),
    )
    run = start(workflow, {"invoice": "A/1", "amount": 120})

    drain()

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert run.data == {"invoice": "A/1", "amount": 120, "erp_id": "ERP-7"}
    assert run.finished_at is not None
    [request] = http_target.received
    assert request.path == "/invoices/A%2F1"
    assert request.body == {"amount": 120, "ref": "A/1"}
    assert request.headers["Idempotency-Key"] == run.attempts.get(step__key="post").idempotency_key
    assert kinds(run) == [
        "created",
        "step_started",
        "step_succeeded",
        "step_started",
        "step_succeeded",
        "completed",
    ]


def test_transient_failures_are_retried_with_the_same_idempotency_key_then_succeed(
    drain, http_target
):
    http_target.reply(Reply(503), Reply(502))
    http_target.default = Reply(201, {"id": "ERP-9"})
    workflow = workflow_with_steps(post_step(http_target.url, max_attempts=3))
    run = start(workflow, {"invoice": "B1", "amount": 5})

    drain()

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert run.data["erp_id"] == "ERP-9"
    attempts = list(run.attempts.order_by("number"))
    assert [a.status for a in attempts] == ["failed", "failed", "succeeded"]
    assert [a.error_code for a in attempts] == ["http_503", "http_502", ""]
    assert len({r.headers["Idempotency-Key"] for r in http_target.received}) == 1
    assert kinds(run).count("retry_scheduled") == 2
    assert not Escalation.objects.exists()


def test_exhausted_retries_escalate_with_the_last_error(drain, http_target):
    http_target.default = Reply(503, {"error": "down"})
    workflow = workflow_with_steps(post_step(http_target.url, max_attempts=3))
    run = start(workflow, {"invoice": "C1", "amount": 5})

    drain()

    run.refresh_from_db()
    assert run.status == Run.Status.ESCALATED
    assert run.attempts.count() == 3
    escalation = Escalation.objects.get(run=run)
    assert escalation.reason == Escalation.Reason.RETRIES_EXHAUSTED
    assert escalation.status == Escalation.Status.OPEN
    assert escalation.team == workflow.team
    assert "failed 3 attempts" in escalation.summary
    assert "503" in escalation.summary
    assert escalation.detail["response"]["status"] == 503
    assert kinds(run)[-1] == "escalated"


def test_a_permanent_error_escalates_at_once(drain, http_target):
    http_target.default = Reply(422, {"error": "unknown vendor"})
    workflow = workflow_with_steps(post_step(http_target.url, max_attempts=5))
    run = start(workflow, {"invoice": "D1", "amount": 5})

    drain()

    run.refresh_from_db()
    assert run.status == Run.Status.ESCALATED
    assert run.attempts.count() == 1
    escalation = run.escalations.get()
    assert escalation.reason == Escalation.Reason.PERMANENT_ERROR
    assert "retrying would not help" in escalation.summary
    assert "422" in escalation.summary


def test_an_error_the_policy_never_retries_escalates_at_once(drain, http_target):
    http_target.default = Reply(503)
    workflow = workflow_with_steps(
        post_step(http_target.url, max_attempts=5, non_retryable_errors=["http_503"])
    )
    run = start(workflow, {"invoice": "E1", "amount": 5})

    drain()

    escalation = Escalation.objects.get(run=run)
    assert run.attempts.count() == 1
    assert escalation.reason == Escalation.Reason.PERMANENT_ERROR
    assert "never retries `http_503`" in escalation.summary


def test_out_of_bounds_escalates_naming_the_expression_and_values_before_calling_out(
    drain, http_target
):
    workflow = workflow_with_steps(
        post_step(http_target.url, bounds=["amount <= 10000", "confidence >= 0.8"])
    )
    run = start(workflow, {"invoice": "F1", "amount": 500, "confidence": 0.42})

    drain()

    escalation = Escalation.objects.get(run=run)
    assert escalation.reason == Escalation.Reason.OUT_OF_BOUNDS
    assert "`confidence >= 0.8`" in escalation.summary
    assert "confidence = 0.42" in escalation.summary
    assert escalation.detail["expression"] == "confidence >= 0.8"
    assert escalation.detail["values"] == {"confidence": 0.42}
    assert http_target.received == []


def test_a_missing_field_in_a_bound_is_out_of_bounds_and_says_which_field(drain):
    workflow = workflow_with_steps({"bounds": ["amount <= 10000"]})
    run = start(workflow, {"total": 3})

    drain()

    escalation = Escalation.objects.get(run=run)
    assert escalation.reason == Escalation.Reason.OUT_OF_BOUNDS
    assert "'amount'" in escalation.summary


def test_backoff_delays_grow_and_stay_under_the_cap(drain, http_target):
    http_target.default = Reply(503)
    workflow = workflow_with_steps(
        post_step(
            http_target.url,
            max_attempts=6,
            initial_interval_s=0.01,
            backoff_coefficient=3.0,
            max_interval_s=0.2,
            jitter=0.0,
        )
    )
    run = start(workflow, {"invoice": "G1", "amount": 5})

    drain()

    delays = [e.detail["delay_s"] for e in run.events.filter(kind="retry_scheduled")]
    assert delays == [0.01, 0.03, 0.09, 0.2, 0.2]
    due = list(run.attempts.order_by("number").values_list("due_at", "started_at"))
    # Each retry started no earlier than it was due.
    assert all(started >= due_at for due_at, started in due)


def test_retry_after_from_the_other_side_is_honoured(drain, http_target):
    http_target.reply(Reply(429, headers={"Retry-After": "1"}))
    http_target.default = Reply(201, {"id": "ERP-1"})
    workflow = workflow_with_steps(post_step(http_target.url, max_interval_s=0.05))
    run = start(workflow, {"invoice": "H1", "amount": 5})

    drain()

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    event = run.events.get(kind="retry_scheduled")
    assert event.detail["delay_s"] == 1.0
    assert "asked to wait 1 s" in event.message
    first, second = run.attempts.order_by("number")
    assert (second.started_at - first.finished_at).total_seconds() >= 1.0


def test_the_per_attempt_timeout_is_enforced_and_escalates_as_timeout(drain, http_target):
    http_target.default = Reply(201, {"id": "late"}, delay_s=3)
    workflow = workflow_with_steps(post_step(http_target.url, max_attempts=2, timeout_s=0.5))
    run = start(workflow, {"invoice": "T1", "amount": 5})

    drain()

    attempts = list(run.attempts.order_by("number"))
    assert [a.error_code for a in attempts] == ["timeout", "timeout"]
    assert all(a.duration_s < 2 for a in attempts)
    escalation = Escalation.objects.get(run=run)
    assert escalation.reason == Escalation.Reason.TIMEOUT
    assert "limit 0.5 s" in escalation.summary


def test_an_answer_that_trickles_in_is_stopped_by_the_engine_time_limit(drain, http_target):
    # Every byte arrives within the socket's read timeout, so only the engine's limit can stop it.
    http_target.default = Reply(201, {"id": "slow-but-steady-" + "x" * 40}, trickle_s=0.05)
    workflow = workflow_with_steps(post_step(http_target.url, max_attempts=1, timeout_s=0.5))
    run = start(workflow, {"invoice": "T2", "amount": 5})

    drain()

    attempt = run.attempts.get()
    assert attempt.error_code == "timeout"
    assert attempt.duration_s < 1.5
    assert Escalation.objects.get(run=run).reason == Escalation.Reason.TIMEOUT


def test_connection_refused_is_transient(drain):
    workflow = workflow_with_steps(post_step("http://127.0.0.1:9", max_attempts=2))
    run = start(workflow, {"invoice": "J1", "amount": 5})

    drain()

    assert list(run.attempts.values_list("error_code", flat=True)) == [
        "connection_error",
        "connection_error",
    ]
    assert Escalation.objects.get(run=run).reason == Escalation.Reason.RETRIES_EXHAUSTED


def test_a_step_set_to_skip_on_failure_lets_the_case_complete(drain, http_target):
    http_target.default = Reply(400, {"error": "bad"})
    workflow = workflow_with_steps(
        post_step(http_target.url, on_failure="skip"),
        {"key": "after", "action": "data.set", "config": {"set": {"done": "True"}}},
    )
    run = start(workflow, {"invoice": "K1", "amount": 5})

    drain()

    run.refresh_from_db()
    # Never a plain "Completed": someone should look at what the skipped step did not do.
    assert run.status == Run.Status.COMPLETED_SKIPPED
    assert run.get_status_display() == "Completed with skipped steps"
    assert run.data["done"] is True
    assert "step_skipped" in kinds(run)


def test_human_review_hands_the_case_to_a_person_when_its_condition_holds(drain):
    workflow = workflow_with_steps(
        {
            "action": "human.review",
            "config": {"when": "vendor_is_new", "reason": "New vendors are checked by hand."},
        }
    )
    new = start(workflow, {"vendor_is_new": True}, external_id="new")
    known = start(workflow, {"vendor_is_new": False}, external_id="known")

    drain()

    known.refresh_from_db()
    assert known.status == Run.Status.COMPLETED
    escalation = Escalation.objects.get(run=new)
    assert escalation.reason == Escalation.Reason.MANUAL_REVIEW
    assert "New vendors are checked by hand." in escalation.summary


def test_email_send_fills_its_templates_from_case_data(drain):
    workflow = workflow_with_steps(
        {
            "action": "email.send",
            "config": {
                "to": "ap@example.com",
                "subject": "Invoice {ref}",
                "body": "Booked {ref} for {amount} EUR.",
            },
        }
    )
    start(workflow, {"ref": "INV-5", "amount": 12})

    drain()

    [message] = mail.outbox
    assert message.subject == "Invoice INV-5"
    assert message.to == ["ap@example.com"]
    assert "12 EUR" in message.body


def test_intake_is_idempotent_on_the_external_id(drain):
    workflow = workflow_with_steps({})
    first, created = run_start(workflow=workflow, external_id="X", data={"a": 1})
    again, created_again = run_start(workflow=workflow, external_id="X", data={"a": 2})

    drain()

    assert created and not created_again
    assert again.pk == first.pk
    assert Run.objects.count() == 1
    assert StepAttempt.objects.count() == 1
    first.refresh_from_db()
    assert first.data == {"a": 1}


def test_a_second_delivery_of_the_same_attempt_changes_nothing(drain, http_target):
    http_target.default = Reply(201, {"id": "ERP-2"})
    workflow = workflow_with_steps(post_step(http_target.url))
    run = start(workflow, {"invoice": "L1", "amount": 5})
    attempt = run.attempts.get()
    # The same attempt delivered twice more, as a lost acknowledgement or a re-enqueue would.
    queue = django_rq.get_queue("default")
    queue.enqueue(execute_attempt, attempt.pk, job_id="dup-1")
    queue.enqueue(execute_attempt, attempt.pk, job_id="dup-2")

    drain()

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert run.attempts.count() == 1
    assert len(http_target.received) == 1
    assert kinds(run).count("step_succeeded") == 1
    assert execute_attempt(attempt.pk) == "duplicate"


def test_a_job_for_a_vanished_attempt_returns_quietly(drain):
    assert execute_attempt(987654) == "missing"


def test_the_database_refuses_a_second_successful_attempt_for_one_step(drain):
    workflow = workflow_with_steps({})
    run = start(workflow, {})
    drain()
    done = run.attempts.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        StepAttempt.objects.create(
            run=run, step=done.step, number=2, status="succeeded", due_at=done.due_at
        )


def test_a_run_stays_on_the_version_it_started_on(drain):
    workflow = workflow_with_steps(
        {"key": "one", "action": "data.set", "config": {"set": {"v": "1"}}}
    )
    run = start(workflow, {})
    v2 = VersionFactory(workflow=workflow, number=2)
    StepFactory(version=v2, position=1, key="one", action="data.set", config={"set": {"v": "2"}})

    drain()
    later = start(workflow, {}, external_id="later")
    drain()

    run.refresh_from_db()
    later.refresh_from_db()
    assert run.version.number == 1 and run.data == {"v": 1}
    assert later.version.number == 2 and later.data == {"v": 2}


@pytest.mark.parametrize(
    "status", [Workflow.Status.DRAFT, Workflow.Status.PAUSED, Workflow.Status.RETIRED]
)
def test_a_workflow_that_is_not_pilot_or_live_refuses_new_cases(status):
    from apps.runs.services import WorkflowNotAccepting

    workflow = workflow_with_steps({}, status=status)
    with pytest.raises(WorkflowNotAccepting, match=status):
        run_start(workflow=workflow, external_id="Z", data={})
    assert not Run.objects.exists()


def test_an_unexpected_exception_in_an_action_is_permanent(drain):
    workflow = workflow_with_steps(
        {"action": "data.set", "config": {"set": {"x": "amount / 0"}}, "max_attempts": 3}
    )
    run = start(workflow, {"amount": 1})

    drain()

    attempt = run.attempts.get()
    assert attempt.error_kind == "permanent"
    assert "could not be evaluated" in attempt.message
    assert Escalation.objects.get(run=run).reason == Escalation.Reason.PERMANENT_ERROR


def test_every_transition_is_on_the_timeline_with_its_attempt(drain, http_target):
    http_target.reply(Reply(503))
    workflow = workflow_with_steps(post_step(http_target.url))
    run = start(workflow, {"invoice": "M1", "amount": 5})

    drain()

    events = list(run.events.order_by("at", "id"))
    assert [e.kind for e in events] == [
        RunEvent.Kind.CREATED,
        RunEvent.Kind.STEP_STARTED,
        RunEvent.Kind.STEP_FAILED,
        RunEvent.Kind.RETRY_SCHEDULED,
        RunEvent.Kind.STEP_STARTED,
        RunEvent.Kind.STEP_SUCCEEDED,
        RunEvent.Kind.COMPLETED,
    ]
    assert events[2].attempt.number == 1 and events[4].attempt.number == 2
