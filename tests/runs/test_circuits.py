"""The circuit breaker, in process with a real worker and a real HTTP target."""

import pytest
from django.test import override_settings

from apps.runs.models import Circuit, Run, StepAttempt
from apps.runs.services import run_start
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
