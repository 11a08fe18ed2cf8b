"""The circuit breaker, in process with a real worker and a real HTTP target."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.runs.models import Circuit, Run, StepAttempt
from apps.runs.services import run_start
from apps.runs.services.circuits import circuit_success
from tests.factories import workflow_with_steps
from tests.http_target import Reply

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(HANDOFF_CIRCUIT_THRESHOLD=2, HANDOFF_CIRCUIT_COOLDOWN=0.3)
def test_an_open_circuit_parks_cases_instead_of_burning_retries(drain, http_target):
    http_target.reply(Reply(503), Reply(503), Reply(503))
    http_target.default = Reply(201, {"id": "ok"})
    workflow = workflow_with_steps(
        {
            "action": "http.request",
            "config": {"url": f"{http_target.url}/book"},
            "max_attempts": 3,
            "initial_interval_s": 0.05,
            "max_interval_s": 0.05,
        }
    )
    runs = [run_start(workflow=workflow, external_id=f"C-{i}", data={})[0] for i in range(4)]

    drain()

    for run in runs:
        run.refresh_from_db()
        assert run.status == Run.Status.COMPLETED
    # Three failures in all, not three per case: once open, the circuit let one probe through.
    assert StepAttempt.objects.filter(status="failed").count() == 3
    assert StepAttempt.objects.filter(status="succeeded").count() == 4
    circuit = Circuit.objects.get(target=http_target.url.removeprefix("http://"))
    assert circuit.state == Circuit.State.CLOSED and circuit.times_opened >= 1
    kinds = set(Run.objects.values_list("events__kind", flat=True))
    assert {"circuit_opened", "circuit_closed", "parked"} <= kinds


@override_settings(HANDOFF_CIRCUIT_THRESHOLD=2, HANDOFF_CIRCUIT_COOLDOWN=60)
def test_a_permanent_refusal_shows_the_target_is_up_and_resets_the_count(drain, http_target):
    http_target.reply(Reply(503), Reply(422), Reply(503))
    http_target.default = Reply(201, {"id": "ok"})
    workflow = workflow_with_steps(
        {
            "action": "http.request",
            "config": {"url": f"{http_target.url}/book"},
            "max_attempts": 2,
            "initial_interval_s": 0.01,
            "max_interval_s": 0.01,
        }
    )
    for i in range(3):
        run_start(workflow=workflow, external_id=f"P-{i}", data={})
        drain()

    assert Circuit.objects.get().state == Circuit.State.CLOSED


@override_settings(HANDOFF_CIRCUIT_RELEASE_BATCH=20, HANDOFF_CIRCUIT_RELEASE_INTERVAL=1.0)
def test_closing_a_circuit_releases_parked_attempts_in_spaced_batches(redis_conn):
    workflow = workflow_with_steps({"action": "http.request", "config": {"url": "http://erp/x"}})
    runs = [run_start(workflow=workflow, external_id=f"B-{i}", data={})[0] for i in range(50)]
    later = timezone.now() + timedelta(minutes=5)
    StepAttempt.objects.update(parked_on="erp", enqueued_at=None, due_at=later)
    Circuit.objects.create(target="erp", state=Circuit.State.OPEN, retry_at=later)

    circuit_success(target="erp", run=runs[0])

    due = list(StepAttempt.objects.order_by("pk").values_list("due_at", flat=True))
    offsets = [(at - due[0]).total_seconds() for at in due]
    assert offsets == [0.0] * 20 + [1.0] * 20 + [2.0] * 10
    assert due[0] <= timezone.now()
    event = runs[0].events.get(kind="circuit_closed")
    assert event.message == (
        "erp answers again: circuit closed, 50 parked attempt(s) resume over 2 s, 20 every 1 s."
    )
    assert event.detail == {"target": "erp", "resumed": 50, "batches": 3, "over_s": 2.0}
