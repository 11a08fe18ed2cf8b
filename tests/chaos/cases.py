"""Workflows and cases for the fault tests."""

from __future__ import annotations

from apps.runs.models import Run
from apps.runs.services import run_start
from tests.factories import workflow_with_steps
from tests.http_target import HttpTarget, Reply


def http_step(url: str, **fields) -> dict:
    """An ``http.request`` step POSTing to ``url`` (it sends an Idempotency-Key header)."""
    step = {
        "key": "post",
        "name": "Post to ERP",
        "action": "http.request",
        "config": {
            "method": "POST",
            "url": f"{url}/invoices/{{invoice}}",
            "body": {"amount": "amount", "ref": "invoice"},
            "response": {"erp_id": "id"},
        },
        "timeout_s": 15.0,
    }
    step.update(fields)
    return step


def book_step() -> dict:
    return {
        "key": "book",
        "name": "Book",
        "action": "data.set",
        "config": {"set": {"booked": "True"}},
    }


def start_case(workflow, external_id: str, **data) -> Run:
    run, created = run_start(
        workflow=workflow,
        external_id=external_id,
        data={"invoice": external_id, "amount": 5, **data},
    )
    assert created
    return run


class MixedTargets:
    """Three external systems: one fast, one slow (about 1 s), one that answers 503 to the
    first call of each case, so those cases wait for their retry in the database."""

    def __init__(self, per_kind: int) -> None:
        self.per_kind = per_kind
        self.fast = HttpTarget()
        self.fast.default = Reply(201, {"id": "FAST"})
        self.slow = HttpTarget()
        self.slow.default = Reply(201, {"id": "SLOW"}, delay_s=1.0)
        self.flaky = HttpTarget()
        self.flaky.reply(*[Reply(503, {"error": "busy"}) for _ in range(per_kind)])
        self.flaky.default = Reply(201, {"id": "FLAKY"})

    def __enter__(self) -> MixedTargets:
        for target in (self.fast, self.slow, self.flaky):
            target.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for target in (self.fast, self.slow, self.flaky):
            target.__exit__(*exc)

    def start_cases(self) -> list[Run]:
        """``per_kind`` cases of each kind, interleaved; each ends with a second step."""
        retry = {
            "max_attempts": 5,
            "initial_interval_s": 1.5,
            "backoff_coefficient": 1.0,
            "max_interval_s": 1.5,
            "jitter": 0.0,
        }
        workflows = {
            "fast": workflow_with_steps(http_step(self.fast.url), book_step()),
            "slow": workflow_with_steps(http_step(self.slow.url), book_step()),
            "flaky": workflow_with_steps(http_step(self.flaky.url, **retry), book_step()),
        }
        return [
            start_case(workflow, f"{kind}-{n}")
            for n in range(self.per_kind)
            for kind, workflow in workflows.items()
        ]
