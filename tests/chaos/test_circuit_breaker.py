"""A target that fails everything opens its circuit: cases wait instead of burning retries."""

import time

from apps.escalations.models import Escalation
from apps.runs.models import Circuit, Run, RunEvent, StepAttempt
from tests.chaos.cases import http_step, start_case
from tests.chaos.checks import assert_every_case_settled, run_counts
from tests.factories import workflow_with_steps
from tests.http_target import Reply

THRESHOLD = 3
COOLDOWN_S = 2.0
CASES = 8


def failed_attempts() -> int:
    return StepAttempt.objects.filter(status=StepAttempt.Status.FAILED).count()


def test_circuit_opens_parks_and_recovers(chaos, http_target):
    http_target.default = Reply(503, {"error": "down"})
    workflow = workflow_with_steps(
        http_step(
            http_target.url,
            max_attempts=4,
            initial_interval_s=0.2,
            backoff_coefficient=1.0,
            max_interval_s=0.2,
            jitter=0.0,
        )
    )
    circuit_env = {
        "HANDOFF_CIRCUIT_THRESHOLD": str(THRESHOLD),
        "HANDOFF_CIRCUIT_COOLDOWN": str(COOLDOWN_S),
    }
    worker = chaos.worker(**circuit_env)
    scheduler = chaos.scheduler(**circuit_env)
    runs = [start_case(workflow, f"CB-{n}") for n in range(CASES)]

    def all_parked():
        circuit = Circuit.objects.filter(state=Circuit.State.OPEN).first()
        parked_runs = (
            RunEvent.objects.filter(kind=RunEvent.Kind.PARKED).values("run").distinct().count()
        )
        return circuit if circuit and parked_runs == CASES else None

    circuit = chaos.wait_until(all_parked, timeout=25, what="the circuit open, every case parked")
    assert circuit.target == http_target.url.removeprefix("http://")
    assert StepAttempt.objects.exclude(parked_on="").filter(parked_on=circuit.target).exists()

    # While it stays open, only the half-open probes (one per cool-down) reach the target.
    failed_before, calls_before = failed_attempts(), len(http_target.received)
    window_s = 4.0
    time.sleep(window_s)
    failed_after, calls_after = failed_attempts(), len(http_target.received)
    probes_allowed = int(window_s / COOLDOWN_S) + 1
    print(
        f"\n[chaos] circuit open: {failed_before} failed attempts when every case was parked, "
        f"{failed_after} after {window_s:g} s more ({calls_after - calls_before} calls reached "
        f"the target); without the circuit: {CASES * 4} failures and {CASES} escalations"
    )
    assert failed_after - failed_before <= probes_allowed
    assert calls_after - calls_before <= probes_allowed
    assert failed_after <= THRESHOLD + 1 + probes_allowed + 1
    assert not Escalation.objects.exists(), "no case may run out of retries while it is open"
    assert run_counts()[Run.Status.WAITING_RETRY] >= CASES - 1

    http_target.default = Reply(201, {"id": "BACK"})
    healed = time.monotonic()
    chaos.wait_until(
        lambda: run_counts()[Run.Status.COMPLETED] == CASES,
        timeout=25,
        what="every case to complete once the target answers",
    )
    print(
        f"[chaos] target healthy → all {CASES} cases completed in {time.monotonic() - healed:.1f} s"
    )

    assert assert_every_case_settled() == {Run.Status.COMPLETED: CASES}
    assert RunEvent.objects.filter(kind=RunEvent.Kind.CIRCUIT_OPENED).exists()
    closed = RunEvent.objects.get(kind=RunEvent.Kind.CIRCUIT_CLOSED)
    assert closed.detail["target"] == circuit.target
    circuit.refresh_from_db()
    assert circuit.state == Circuit.State.CLOSED and circuit.consecutive_failures == 0
    assert StepAttempt.objects.filter(status=StepAttempt.Status.FAILED).count() < CASES * 4
    assert worker.alive() and scheduler.alive()
    assert len(runs) == CASES
