"""Intake validates case data against the case schema of the version a run would pin."""

import json

import pytest
from django.utils import timezone

from apps.escalations.models import Escalation
from apps.runs.api import CASE_DATA_INVALID
from apps.runs.models import Run, RunEvent, StepAttempt
from apps.runs.services import run_start
from apps.workflows.schema import CaseDataInvalid
from apps.workflows.services import intake_token_create
from tests.factories import StepFactory, VersionFactory, workflow_with_steps

SCHEMA = {
    "type": "object",
    "required": ["amount", "due_date"],
    "properties": {
        "amount": {"type": "number"},
        "due_date": {"type": "string", "format": "date"},
        "currency": {"enum": ["EUR", "USD"]},
    },
}
VALID = {"amount": 120, "due_date": "2026-12-31"}


@pytest.fixture
def workflow(db):
    workflow = workflow_with_steps({"key": "check", "bounds": ["amount <= 10000"]}, slug="inv")
    workflow.versions.update(case_schema=SCHEMA)
    return workflow


def post_case(client, token, body):
    return client.post(
        "/api/v1/workflows/inv/runs",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_data_that_fits_the_schema_starts_a_run(workflow):
    run, created = run_start(workflow=workflow, external_id="A-1", data=VALID)

    assert created
    assert run.data == VALID


def test_data_that_does_not_fit_is_refused_with_every_problem_and_nothing_is_created(workflow):
    with pytest.raises(CaseDataInvalid) as caught:
        run_start(workflow=workflow, external_id="A-1", data={"amount": "lots", "currency": "XYZ"})

    assert caught.value.messages == [
        "amount: 'lots' is not a number",
        "currency: 'XYZ' is not one of EUR, USD",
        "due_date: is required",
    ]
    assert not Run.objects.exists()
    assert not StepAttempt.objects.exists()
    assert not RunEvent.objects.exists()


def test_a_repeated_external_id_returns_the_existing_run_whatever_its_data(workflow):
    first, _ = run_start(workflow=workflow, external_id="A-1", data=VALID)

    again, created = run_start(workflow=workflow, external_id="A-1", data={"amount": "lots"})

    assert (again, created) == (first, False)


def test_the_schema_is_the_one_of_the_version_the_run_would_pin(workflow):
    newer = VersionFactory(
        workflow=workflow,
        number=2,
        published_at=timezone.now(),
        case_schema={"type": "object", "required": ["vendor"]},
    )
    StepFactory(version=newer, key="check")
    # A draft version's schema is not what a run would pin.
    VersionFactory(workflow=workflow, number=3, published_at=None, case_schema={"type": "array"})

    with pytest.raises(CaseDataInvalid, match="vendor: is required"):
        run_start(workflow=workflow, external_id="A-1", data=VALID)
    run, _ = run_start(workflow=workflow, external_id="A-2", data={"vendor": "ACME"})

    assert run.version == newer


def test_the_api_answers_400_listing_each_problem_by_field(client, workflow):
    token = intake_token_create(workflow=workflow)[1]

    response = post_case(
        client,
        token,
        {"external_id": "A-1", "data": {"amount": "lots", "due_date": "31/12/2026"}},
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"{CASE_DATA_INVALID}: amount: 'lots' is not a number; "
        "due_date: '31/12/2026' is not a date (YYYY-MM-DD).",
        "errors": [
            {"field": "data.amount", "message": "'lots' is not a number"},
            {"field": "data.due_date", "message": "'31/12/2026' is not a date (YYYY-MM-DD)"},
        ],
    }
    assert not Run.objects.exists()


def test_the_api_answers_200_for_a_repeat_even_with_data_the_schema_refuses(client, workflow):
    token = intake_token_create(workflow=workflow)[1]
    first = post_case(client, token, {"external_id": "A-1", "data": VALID})

    again = post_case(client, token, {"external_id": "A-1", "data": {}})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]


def test_the_openapi_document_describes_the_400_for_case_data(client):
    operation = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/workflows/{slug}/runs"]

    assert "400" in operation["post"]["responses"]
    assert "case schema" in operation["post"]["description"]


@pytest.mark.django_db(transaction=True)
def test_without_a_schema_a_text_amount_reaches_the_inbox_with_the_bound_in_plain_words(drain):
    workflow = workflow_with_steps({"key": "check", "bounds": ["amount <= 10000"]})
    run, _ = run_start(workflow=workflow, external_id="A-1", data={"amount": "lots"})

    drain()

    escalation = Escalation.objects.get(run=run)
    assert escalation.reason == Escalation.Reason.OUT_OF_BOUNDS
    assert (
        "Bound `amount <= 10000` could not be checked: amount is 'lots' (text), which cannot "
        "be compared with a number." in escalation.summary
    )
    assert "not supported between" not in escalation.summary
