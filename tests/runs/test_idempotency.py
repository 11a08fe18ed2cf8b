"""Idempotency keys per round, against the demo ERP, which honours them like a strict API."""

import pytest
from django.db import transaction

from apps.escalations.models import Escalation
from apps.escalations.services import escalation_resolve
from apps.runs.models import Run
from apps.runs.services import run_start
from tests.factories import UserFactory, workflow_with_steps

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def steady_erp(monkeypatch):
    for name in ("FAIL", "REJECT", "SLOW"):
        monkeypatch.setenv(f"HANDOFF_DEMO_ERP_{name}_RATE", "0")


def erp_workflow(live_server):
    return workflow_with_steps(
        {
            "key": "book",
            "name": "Book in the ERP",
            "action": "http.request",
            "max_attempts": 3,
            "initial_interval_s": 0.05,
            "config": {
                "method": "POST",
                "url": f"{live_server.url}/demo/erp/invoices",
                "body": {
                    "invoice_number": "invoice",
                    "vendor": "vendor",
                    "amount": "amount",
                    "currency": "currency",
                    "scenario": "scenario",
                },
                "response": {"erp_id": "id"},
            },
        }
    )


def case(workflow, **data):
    run, _ = run_start(
        workflow=workflow,
        external_id=data["invoice"],
        data={"vendor": "ACME", "currency": "EUR", "scenario": "ok", **data},
    )
    return run


def test_a_resumed_case_with_edited_data_books_under_a_new_key(live_server, drain):
    workflow = erp_workflow(live_server)
    run = case(workflow, invoice="INV-9", amount=-5)
    drain()
    run.refresh_from_db()
    assert run.status == Run.Status.ESCALATED  # the ERP refused the amount: permanent
    escalation = Escalation.objects.get(run=run)
    operator = UserFactory(role="operator", team=workflow.team)

    with transaction.atomic():
        escalation_resolve(
            escalation=escalation, user=operator, resolution="resumed", changes={"amount": 50}
        )
    drain()

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED, run.events.values_list("message", flat=True)
    assert run.data["erp_id"].startswith("ERP-")
    first, second = run.attempts.order_by("number")
    assert first.idempotency_key != second.idempotency_key
    resumed = run.events.get(kind="resumed")
    assert second.idempotency_key in resumed.message


def test_automatic_retries_reuse_the_key_so_the_erp_books_once(live_server, drain):
    workflow = erp_workflow(live_server)
    run = case(workflow, invoice="INV-10", amount=12, scenario="flaky")

    drain()

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    first, second = run.attempts.order_by("number")
    assert first.error_code == "http_503"
    assert first.idempotency_key == second.idempotency_key
