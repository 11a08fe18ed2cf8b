"""A step that ignores its time limit, in a real worker process: the watchdog ends the worker,
the supervisor (``worker --respawn``) starts a new one, and the reconciler records a timeout."""

import time

from apps.escalations.models import Escalation
from apps.runs.models import Run, RunEvent, StepAttempt
from tests.chaos.actions import WEDGED, register_test_actions, unregister_test_actions
from tests.chaos.cases import book_step, start_case
from tests.chaos.checks import assert_every_case_settled
from tests.factories import workflow_with_steps

TIMEOUT_S = 1.0
GRACE_S = 2.0
RECONCILE_S = 0.5  # ENGINE_ENV's HANDOFF_RECONCILE_INTERVAL
DEADLINE_ENV = {"HANDOFF_DEADLINE_GRACE_SECONDS": str(GRACE_S)}


def status_of(run: Run) -> str:
    return Run.objects.values_list("status", flat=True).get(pk=run.pk)


def test_a_wedged_step_is_timed_out_and_its_worker_replaced(chaos):
    register_test_actions()  # in this process too, for the workflow's step
    try:
        workflow = workflow_with_steps(
            {
                "key": "wedge",
                "name": "Wedge",
                "action": WEDGED,
                "timeout_s": TIMEOUT_S,
                "max_attempts": 2,
            }
        )
    finally:
        unregister_test_actions()
    supervisor = chaos.worker(
        "--respawn", DJANGO_SETTINGS_MODULE="tests.chaos.worker_settings", **DEADLINE_ENV
    )
    chaos.scheduler(**DEADLINE_ENV)
    run = start_case(workflow, "WEDGE-1")

    chaos.wait_until(
        lambda: status_of(run) == Run.Status.ESCALATED,
        timeout=60,
        what="the wedged case to reach a person",
        alive=[supervisor],
    )

    # Both tries timed out (a retry, then a person), each within its limit + grace + one pass
    # of the reconciler (+ 1 s for the processes' own pace), and neither counts as a death.
    attempts = list(run.attempts.order_by("number"))
    assert [(a.status, a.error_code, a.recoveries) for a in attempts] == [
        (StepAttempt.Status.FAILED, "timeout", 0)
    ] * 2, chaos.explain()
    for attempt in attempts:
        assert attempt.duration_s < TIMEOUT_S + GRACE_S + RECONCILE_S + 1.0, chaos.explain()
    escalation = Escalation.objects.get(run=run)
    assert escalation.reason == Escalation.Reason.TIMEOUT
    found = run.events.filter(kind=RunEvent.Kind.RECOVERED).values_list("detail", flat=True)
    assert sorted(d["found"] for d in found) == ["deadline_passed"] * 2

    # Each try wedged a different worker, which the watchdog ended; a new one took its place.
    assert [a.worker for a in attempts] == [f"{supervisor.name}-1", f"{supervisor.name}-2"]
    chaos.wait_until(
        lambda: (
            "ended (its watchdog ended it)" in supervisor.tail(200)
            and supervisor.tail(200).count("Started worker") >= 3
        ),
        timeout=10,
        what="the supervisor to start a third worker",
        alive=[supervisor],
    )
    log = supervisor.tail(200)
    assert log.count("still running") == 2 and "past its 1 s limit (grace 2 s)" in log

    # The third worker takes the next case.
    booked = start_case(workflow_with_steps(book_step()), "BOOK-1")
    started = time.monotonic()
    chaos.wait_until(
        lambda: status_of(booked) == Run.Status.COMPLETED,
        timeout=20,
        what="the next case to complete",
        alive=[supervisor],
    )
    print(f"\n[chaos] next case after two wedged workers: {time.monotonic() - started:.1f} s")
    assert booked.attempts.get().worker == f"{supervisor.name}-3"
    assert_every_case_settled()
