from apps.runs.models import Run
from apps.runs.services import run_start
from tests.factories import workflow_with_steps


def test_a_two_step_case_completes_on_a_real_worker(drain):
    workflow = workflow_with_steps(
        {"action": "data.set", "config": {"set": {"total": "amount * 2"}}},
        {"action": "rules.check", "bounds": ["total < 100"]},
    )
    run, created = run_start(workflow=workflow, external_id="A-1", data={"amount": 10})
    drain()
    run.refresh_from_db()
    assert created
    assert run.status == Run.Status.COMPLETED
    assert run.data == {"amount": 10, "total": 20}
