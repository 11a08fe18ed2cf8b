"""The intake API: start a case by token, read it back, and refuse everything else in JSON."""

import io
import json

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from apps.runs.api.middleware import ApiBodyLimitMiddleware
from apps.runs.models import Run, RunEvent, StepAttempt
from apps.runs.services import workflow_refusal
from apps.workflows.models import IntakeToken, Workflow
from apps.workflows.services import intake_token_create
from tests.factories import UserFactory, VersionFactory, WorkflowFactory, workflow_with_steps

MIB = 1024 * 1024


@pytest.fixture
def workflow(db):
    return workflow_with_steps(
        {
            "key": "double",
            "name": "Double the amount",
            "action": "data.set",
            "config": {"set": {"total": "amount * 2"}},
        },
        {
            "key": "check",
            "name": "Check the total",
            "action": "rules.check",
            "bounds": ["total < 1000"],
            "max_attempts": 1,
        },
        slug="invoices",
    )


@pytest.fixture
def token(workflow):
    return intake_token_create(workflow=workflow)[1]


def post_case(client, token, *, slug="invoices", body=None, raw=None, **extra):
    """POST to the intake endpoint; ``raw`` bytes are sent as they are, ``body`` as JSON."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else json.dumps(body)
    return client.post(
        f"/api/v1/workflows/{slug}/runs",
        data,
        content_type="application/json",
        headers=headers,
        **extra,
    )


def get_run(client, token, run_id):
    return client.get(f"/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {token}"})


def assert_refused(response, status):
    """A refusal is JSON with a detail sentence, and it wrote no run."""
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]
    assert not Run.objects.exists()


# ---------------------------------------------------------------------------------------------
# Starting a case


def test_a_new_external_id_is_201_and_the_same_one_again_is_200_with_the_same_run(client, token):
    first = post_case(client, token, body={"external_id": "INV-1", "data": {"amount": 10}})
    again = post_case(client, token, body={"external_id": "INV-1", "data": {"amount": 10}})

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["status"] == "queued"
    assert Run.objects.count() == 1


def test_the_run_is_created_from_the_body_on_the_workflows_published_version(
    client, token, workflow
):
    response = post_case(client, token, body={"external_id": "INV-1", "data": {"amount": 10}})

    run = Run.objects.get(pk=response.json()["id"])
    assert run.workflow == workflow
    assert run.external_id == "INV-1"
    assert run.data == {"amount": 10}
    assert run.source == Run.Source.API
    assert run.current_step.key == "double"


def test_the_url_is_the_absolute_address_of_the_run_page(client, token):
    response = post_case(client, token, body={"external_id": "INV-1", "data": {}})

    run_id = response.json()["id"]
    assert response.json()["url"] == f"http://testserver/runs/{run_id}/"
    assert response.json()["url"] == "http://testserver" + reverse("runs:detail", args=[run_id])


def test_a_repeated_external_id_leaves_the_first_runs_data_unchanged(client, token):
    post_case(client, token, body={"external_id": "INV-1", "data": {"amount": 10}})
    post_case(client, token, body={"external_id": "INV-1", "data": {"amount": 99}})

    assert Run.objects.get().data == {"amount": 10}


def test_data_may_be_left_out_and_is_then_an_empty_object(client, token):
    response = post_case(client, token, body={"external_id": "INV-1"})

    assert response.status_code == 201
    assert Run.objects.get().data == {}


def test_an_external_id_of_200_characters_is_accepted(client, token):
    response = post_case(client, token, body={"external_id": "x" * 200, "data": {}})

    assert response.status_code == 201


def test_a_case_sent_through_the_api_completes_on_a_real_worker(drain, workflow):
    token = intake_token_create(workflow=workflow)[1]
    client = Client()

    created = post_case(client, token, body={"external_id": "INV-7", "data": {"amount": 21}})
    drain()
    detail = get_run(client, token, created.json()["id"]).json()

    assert created.status_code == 201
    assert detail["status"] == "completed"
    assert detail["current_step"] is None
    assert detail["data"] == {"amount": 21, "total": 42}
    assert [(a["step"], a["number"], a["status"]) for a in detail["attempts"]] == [
        ("double", 1, "succeeded"),
        ("check", 1, "succeeded"),
    ]
    assert detail["timeline"][0]["kind"] == "created"
    assert detail["timeline"][-1]["kind"] == "completed"


def test_a_repeated_external_id_is_answered_200_even_once_the_workflow_is_paused(
    client, token, workflow
):
    first = post_case(client, token, body={"external_id": "INV-1", "data": {}})
    Workflow.objects.filter(pk=workflow.pk).update(status=Workflow.Status.PAUSED)

    again = post_case(client, token, body={"external_id": "INV-1", "data": {}})

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_the_api_needs_no_csrf_token_even_with_a_session_cookie(db, token):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())

    response = post_case(client, token, body={"external_id": "INV-1", "data": {}})

    assert response.status_code == 201


def test_using_a_token_records_when_it_was_last_used(client, token):
    before = timezone.now()

    post_case(client, token, body={"external_id": "INV-1", "data": {}})

    assert IntakeToken.objects.get().last_used_at >= before


# ---------------------------------------------------------------------------------------------
# Reading a run


def test_reading_a_run_shows_its_step_data_failed_attempt_and_timeline(
    drain, workflow, django_assert_max_num_queries
):
    token = intake_token_create(workflow=workflow)[1]
    client = Client()
    created = post_case(client, token, body={"external_id": "INV-9", "data": {"amount": 600}})
    drain()

    # Token, last-used, run, attempts, events: however long the timeline.
    with django_assert_max_num_queries(5):
        response = get_run(client, token, created.json()["id"])

    detail = response.json()
    assert response.status_code == 200
    assert detail["external_id"] == "INV-9"
    assert detail["workflow"] == "invoices"
    assert detail["status"] == "escalated"
    assert detail["current_step"] == {"key": "check", "name": "Check the total"}
    assert detail["data"] == {"amount": 600, "total": 1200}
    double, check = detail["attempts"]
    assert double["error"] is None
    assert double["started_at"] and double["finished_at"]
    assert (check["step"], check["number"], check["status"]) == ("check", 1, "failed")
    assert check["error"]["kind"] == "out_of_bounds"
    assert "total < 1000" in check["error"]["message"]
    kinds = [entry["kind"] for entry in detail["timeline"]]
    assert kinds[0] == "created"
    assert "escalated" in kinds
    assert {entry["actor"] for entry in detail["timeline"]} == {"system"}
    assert all(entry["at"] and entry["message"] for entry in detail["timeline"])


def test_reading_a_queued_run_lists_its_queued_attempt_and_created_event(client, token):
    created = post_case(client, token, body={"external_id": "INV-1", "data": {"amount": 1}})

    detail = get_run(client, token, created.json()["id"]).json()

    assert detail["status"] == "queued"
    assert detail["current_step"] == {"key": "double", "name": "Double the amount"}
    assert detail["attempts"] == [
        {
            "step": "double",
            "number": 1,
            "status": "queued",
            "error": None,
            "started_at": None,
            "finished_at": None,
        }
    ]
    assert [entry["kind"] for entry in detail["timeline"]] == [RunEvent.Kind.CREATED]


def test_a_token_of_another_workflow_cannot_read_the_run_and_is_told_404(client, token):
    run_id = post_case(client, token, body={"external_id": "INV-1", "data": {}}).json()["id"]
    other = workflow_with_steps({"action": "rules.check"})
    other_token = intake_token_create(workflow=other)[1]

    response = get_run(client, other_token, run_id)
    missing = get_run(client, other_token, run_id + 1000)

    assert response.status_code == 404
    # The same answer as for a run that does not exist: nothing tells the caller it does.
    assert response.json() == {"detail": f"No run {run_id} for this token."}
    assert missing.json() == {"detail": f"No run {run_id + 1000} for this token."}


def test_reading_a_run_needs_a_token(client, token):
    run_id = post_case(client, token, body={"external_id": "INV-1", "data": {}}).json()["id"]

    response = client.get(f"/api/v1/runs/{run_id}")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


# ---------------------------------------------------------------------------------------------
# Invalid bodies: 400 naming the field


def test_a_missing_external_id_is_400_naming_the_field(client, token):
    response = post_case(client, token, body={"data": {}})

    assert_refused(response, 400)
    assert response.json() == {
        "detail": "Invalid request body",
        "errors": [{"field": "external_id", "message": "Field required"}],
    }


def test_a_body_that_is_not_json_is_400_saying_so(client, token):
    response = post_case(client, token, raw=b"external_id=INV-1")

    assert_refused(response, 400)
    assert response.json()["detail"].startswith("The request body is not valid JSON")


def test_an_empty_body_is_400_asking_for_a_json_object(client, token):
    response = post_case(client, token, raw=b"")

    assert_refused(response, 400)
    assert response.json()["errors"][0]["field"] == "body"
    assert "must be a JSON object" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("body", [[], "INV-1", 5])
def test_a_body_that_is_not_a_json_object_is_400(client, token, body):
    response = post_case(client, token, body=body)

    assert_refused(response, 400)
    assert response.json()["errors"][0]["field"] == "body"


@pytest.mark.parametrize("data", [[1, 2], "amount=5", 5, None])
def test_data_that_is_not_a_json_object_is_400_naming_data(client, token, data):
    response = post_case(client, token, body={"external_id": "INV-1", "data": data})

    assert_refused(response, 400)
    assert response.json()["errors"] == [
        {"field": "data", "message": "Input should be a JSON object"}
    ]


@pytest.mark.parametrize("external_id", ["", "   ", 42, None, "x" * 201])
def test_external_id_must_be_a_non_blank_string_of_at_most_200_characters(
    client, token, external_id
):
    response = post_case(client, token, body={"external_id": external_id, "data": {}})

    assert_refused(response, 400)
    assert [error["field"] for error in response.json()["errors"]] == ["external_id"]


def test_an_unknown_field_is_400_naming_it(client, token):
    response = post_case(client, token, body={"externalId": "INV-1", "external_id": "INV-1"})

    assert_refused(response, 400)
    assert response.json()["errors"][0]["field"] == "externalId"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"external_id": "INV-1", "data": {"amount": NaN}}',
        b'{"external_id": "INV-1", "data": {"amount": Infinity}}',
        b'{"external_id": "INV-1", "data": {"amount": 1e400}}',
    ],
)
def test_numbers_json_cannot_hold_are_400_not_a_storage_error(client, token, raw):
    response = post_case(client, token, raw=raw)

    assert_refused(response, 400)
    assert response.json()["detail"].startswith("The request body is not valid JSON")


@pytest.mark.parametrize(
    "raw, field",
    [
        (b'{"external_id": "INV-1", "data": {"note": "a\\u0000b"}}', "data"),
        (b'{"external_id": "INV-1", "data": {"a\\u0000": 1}}', "data"),
        (b'{"external_id": "INV-1", "data": {"note": "\\ud800"}}', "data"),
        (b'{"external_id": "INV\\u0000-1", "data": {}}', "external_id"),
    ],
)
def test_text_the_database_cannot_store_is_400_naming_the_field(client, token, raw, field):
    response = post_case(client, token, raw=raw)

    assert_refused(response, 400)
    assert response.json()["errors"][0]["field"] == field


def test_data_nested_too_deep_is_400_and_deeper_than_the_json_parser_too(client, token):
    nested = '{"a": ' * 40 + "1" + "}" * 40
    too_deep_for_python = "[" * 5000 + "]" * 5000

    response = post_case(client, token, raw=f'{{"external_id": "I", "data": {nested}}}'.encode())
    parser = post_case(
        client, token, raw=f'{{"external_id": "I", "data": {too_deep_for_python}}}'.encode()
    )

    assert_refused(response, 400)
    assert response.json()["errors"][0] == {
        "field": "data",
        "message": "is nested deeper than 32 levels",
    }
    assert_refused(parser, 400)


# ---------------------------------------------------------------------------------------------
# Tokens: 401, and the order of checks


def test_a_missing_token_is_401_with_www_authenticate(client, token):
    response = post_case(client, None, body={"external_id": "INV-1", "data": {}})

    assert_refused(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "hnd_abc"])
def test_an_authorization_header_without_a_bearer_token_is_401(client, token, header):
    response = client.post(
        "/api/v1/workflows/invoices/runs",
        {"external_id": "INV-1"},
        content_type="application/json",
        headers={"Authorization": header},
    )

    assert_refused(response, 401)


def test_a_wrong_token_is_401_saying_it_is_not_valid(client, token):
    response = post_case(client, token[:-2] + "xx", body={"external_id": "INV-1", "data": {}})

    assert_refused(response, 401)
    assert response.json() == {"detail": "The intake token is not valid or has been revoked."}
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_revoked_token_is_401(client, token):
    IntakeToken.objects.update(revoked_at=timezone.now())

    response = post_case(client, token, body={"external_id": "INV-1", "data": {}})

    assert_refused(response, 401)


def test_without_a_token_an_unknown_workflow_is_401_not_404(client, token):
    response = post_case(client, None, slug="no-such-workflow", body={"external_id": "INV-1"})

    assert_refused(response, 401)


def test_without_a_token_an_invalid_body_is_401_not_400(client, token):
    response = post_case(client, None, raw=b"not json")

    assert_refused(response, 401)


def test_an_unknown_workflow_is_404(client, token):
    response = post_case(
        client, token, slug="no-such-workflow", body={"external_id": "INV-1", "data": {}}
    )

    assert_refused(response, 404)
    assert response.json() == {"detail": "No workflow 'no-such-workflow' for this token."}


def test_another_workflows_slug_is_404_like_an_unknown_one(client, token):
    other = workflow_with_steps({"action": "rules.check"}, slug="payroll")

    response = post_case(client, token, slug=other.slug, body={"external_id": "INV-1"})

    assert_refused(response, 404)
    assert response.json() == {"detail": "No workflow 'payroll' for this token."}
    assert not other.runs.exists()


# ---------------------------------------------------------------------------------------------
# Workflows that do not accept cases: 409 with the reason


@pytest.mark.parametrize(
    "status", [Workflow.Status.DRAFT, Workflow.Status.PAUSED, Workflow.Status.RETIRED]
)
def test_a_workflow_not_accepting_cases_is_409_with_the_reason(client, token, workflow, status):
    Workflow.objects.filter(pk=workflow.pk).update(status=status)
    workflow.refresh_from_db()

    response = post_case(client, token, body={"external_id": "INV-1", "data": {}})

    assert_refused(response, 409)
    assert response.json() == {"detail": workflow_refusal(workflow)}
    assert f"is {status.label.lower()}" in response.json()["detail"]


def test_a_workflow_with_no_published_version_is_409_with_the_reason(client, db):
    workflow = WorkflowFactory(slug="unpublished")
    VersionFactory(workflow=workflow, number=1, published_at=None)
    token = intake_token_create(workflow=workflow)[1]

    response = post_case(client, token, slug="unpublished", body={"external_id": "INV-1"})

    assert_refused(response, 409)
    assert response.json() == {"detail": "Workflow 'unpublished' has no published version to run."}


# ---------------------------------------------------------------------------------------------
# Body size: 413


def test_a_body_over_1_mib_is_413(client, token):
    body = {"external_id": "INV-1", "data": {"blob": "x" * MIB}}

    response = post_case(client, token, body=body)

    assert_refused(response, 413)
    assert response.json()["limit"] == MIB


def test_a_body_just_under_1_mib_is_accepted(client, token):
    envelope = len(json.dumps({"external_id": "INV-1", "data": {"blob": ""}}))
    body = {"external_id": "INV-1", "data": {"blob": "x" * (MIB - envelope)}}

    response = post_case(client, token, body=body)

    assert response.status_code == 201


def test_an_oversize_body_is_413_before_the_token_is_even_checked(client, token):
    response = post_case(client, None, raw=b"x" * (MIB + 1))

    assert_refused(response, 413)


def test_a_chunked_body_over_1_mib_without_content_length_is_413(db):
    # Only ASGI hands Django a body that does not announce its length; the test client sends
    # Content-Length, so the middleware gets such a request directly.
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/workflows/invoices/runs",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
    }
    request = ASGIRequest(scope, io.BytesIO(b"x" * (MIB + 1)))
    middleware = ApiBodyLimitMiddleware(lambda request: HttpResponse("reached the view"))

    response = middleware(request)

    assert "CONTENT_LENGTH" not in request.META
    assert response.status_code == 413
    assert json.loads(response.content)["limit"] == MIB


def test_a_malformed_content_length_is_400(client, token):
    response = post_case(client, token, body={"external_id": "INV-1"}, CONTENT_LENGTH="ten")

    assert_refused(response, 400)
    assert response.json() == {"detail": "The Content-Length header is malformed."}


def test_the_body_limit_leaves_paths_outside_the_api_alone():
    request = RequestFactory().post(
        "/escalations/1/comment", b"", content_type="text/plain", CONTENT_LENGTH=str(10 * MIB)
    )
    middleware = ApiBodyLimitMiddleware(lambda request: HttpResponse("reached the view"))

    assert middleware(request).content == b"reached the view"


# ---------------------------------------------------------------------------------------------
# Wrong paths and methods, and the OpenAPI document


def test_a_wrong_method_is_405_in_json(client, token):
    response = client.get(
        "/api/v1/workflows/invoices/runs", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {"detail": "GET is not allowed here; use POST."}


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing", "/api/v1/runs/abc", "/api/v1/workflows/invoices/runs/"]
)
def test_an_unknown_api_path_is_404_in_json(client, path):
    response = client.post(path, {}, content_type="application/json")

    assert response.status_code == 404
    assert response.json() == {"detail": "No such endpoint in the intake API."}


def test_the_openapi_document_lists_both_endpoints_with_named_schemas(client):
    response = client.get("/api/v1/openapi.json")

    document = response.json()
    assert response.status_code == 200
    assert set(document["paths"]) == {"/api/v1/workflows/{slug}/runs", "/api/v1/runs/{run_id}"}
    create = document["paths"]["/api/v1/workflows/{slug}/runs"]["post"]
    assert set(create["responses"]) == {"200", "201", "400", "401", "404", "409", "411", "413"}
    assert create["security"] == [{"IntakeTokenAuth": []}]
    schemas = document["components"]["schemas"]
    assert {
        "RunCreateRequest",
        "RunCreated",
        "RunDetail",
        "Attempt",
        "TimelineEntry",
        "Error",
        "InvalidRequest",
    } <= set(schemas)
    assert schemas["RunCreateRequest"]["properties"]["external_id"]["description"]
    assert schemas["RunCreateRequest"]["properties"]["external_id"]["maxLength"] == 200
    assert schemas["RunDetail"]["properties"]["status"]["enum"] == list(Run.Status.values)
    assert schemas["Attempt"]["properties"]["status"]["enum"] == list(StepAttempt.Status.values)


def test_a_chunked_body_under_wsgi_is_411_not_mistaken_for_an_empty_body(client, token):
    # Django's WSGI request reads nothing without a Content-Length, so the body would be lost.
    response = client.generic(
        "POST",
        "/api/v1/workflows/invoices/runs",
        b'{"external_id": "INV-1"}',
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert_refused(response, 411)


def test_a_run_id_beyond_the_database_integer_range_is_404(client, token):
    response = get_run(client, token, 10**30)

    assert response.status_code == 404
    assert response.json() == {"detail": f"No run {10**30} for this token."}
