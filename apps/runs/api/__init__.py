"""The intake API: start a case on a workflow, read a run back. Mounted at /api/v1/.

Order of checks, so that each answer tells the caller no more than it is entitled to know:

1. 413: a body over 1 MiB (also 400 for a malformed Content-Length, 411 for a chunked body
   where the server cannot read one), before anything else is read or looked up.
2. 401: a missing, unknown or revoked token. Nothing about workflows or runs is revealed to an
   unauthenticated caller.
3. 400: a body that is not JSON or does not match the schema (ninja validates the body before
   the view runs).
4. 404: the workflow in the path is not the token's (an unknown slug and another workflow's
   slug get the same answer), or the run belongs to another workflow.
5. 409: the token's workflow does not accept cases (draft, paused, retired, nothing
   published). A repeated external_id is answered 200 with the existing run even then: the
   case was accepted when it was first sent.
6. 400: the case data does not match the case schema of the version the run would start on;
   every problem is listed, field by field (``data.amount``, ``data.lines[0].amount``). A
   repeated external_id is answered 200 with the existing run, whatever its data.
"""

from __future__ import annotations

import json
import math
from typing import NoReturn

from django.apps import apps
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Path, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from apps.workflows.models import IntakeToken
from apps.workflows.schema import CaseDataInvalid

from ..selectors import run_of_workflow
from ..services import WorkflowNotAccepting, run_start
from .auth import MISSING_TOKEN, IntakeTokenAuth, InvalidToken
from .schemas import Error, InvalidRequest, RunCreated, RunCreateRequest, RunDetail

INVALID_BODY = "Invalid request body"
WORKFLOW_NOT_FOUND = "No workflow {slug!r} for this token."
RUN_NOT_FOUND = "No run {id} for this token."
NO_ENDPOINT = "No such endpoint in the intake API."
CASE_DATA_INVALID = "The case data does not match the workflow's case schema"
BODY_NOT_OBJECT = 'The body must be a JSON object: {"external_id": "…", "data": {…}}'
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class NotJson(ValueError):
    pass


def _finite(text: str) -> float:
    # 1e400 parses as inf, which no JSON column accepts back.
    value = float(text)
    if not math.isfinite(value):
        raise NotJson(f"the number {text} is out of range")
    return value


def _reject_constant(name: str) -> NoReturn:
    raise NotJson(f"{name} is not JSON")


class StrictJsonParser(Parser):
    """json.loads without Python's extensions (NaN, Infinity), which would fail on storage."""

    def parse_body(self, request: HttpRequest):
        try:
            return json.loads(request.body, parse_float=_finite, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise NotJson(str(exc)) from exc


api = NinjaAPI(
    title="Handoff intake API",
    version="1",
    description=__doc__,
    urls_namespace="api",
    parser=StrictJsonParser(),
    # Swagger UI only from the ninja app's own static files: nothing loads from a CDN.
    docs_url="/docs" if apps.is_installed("ninja") else None,
)
intake_auth = IntakeTokenAuth()


# ---------------------------------------------------------------------------------------------
# Errors: always JSON with a "detail" sentence.


@api.exception_handler(ValidationError)
def invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # ninja answers 422 by default; a body that does not match the schema is a plain 400 here.
    errors = [_field_error(error) for error in exc.errors]
    return api.create_response(request, {"detail": INVALID_BODY, "errors": errors}, status=400)


def _field_error(error: dict) -> dict[str, str]:
    # ninja's locations read ("body", "<parameter>", "field", …); callers know only the fields.
    loc = tuple(error.get("loc", ()))
    field = ".".join(str(part) for part in (loc[2:] if loc[:1] == ("body",) else loc))
    if not field:
        return {"field": "body", "message": BODY_NOT_OBJECT}
    if error.get("type") == "dict_type":
        return {"field": field, "message": "Input should be a JSON object"}
    return {"field": field, "message": error["msg"].removeprefix("Value error, ")}


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, NotJson):
        # ninja wraps any parser error in a bare "Cannot parse request body".
        detail = f"The request body is not valid JSON: {exc.__cause__}."
        return api.create_response(request, {"detail": detail, "errors": []}, status=400)
    return api.create_response(request, {"detail": exc.message}, status=exc.status_code)


@api.exception_handler(AuthenticationError)
def unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    invalid = isinstance(exc, InvalidToken)
    response = api.create_response(
        request, {"detail": exc.message if invalid else MISSING_TOKEN}, status=401
    )
    response["WWW-Authenticate"] = (
        'Bearer realm="handoff", error="invalid_token"' if invalid else 'Bearer realm="handoff"'
    )
    return response


@api.exception_handler(WorkflowNotAccepting)
def not_accepting(request: HttpRequest, exc: WorkflowNotAccepting) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=409)


@api.exception_handler(CaseDataInvalid)
def case_data_invalid(request: HttpRequest, exc: CaseDataInvalid) -> HttpResponse:
    errors = [
        {"field": "data" + (f".{e.field}" if e.field else ""), "message": e.message}
        for e in exc.errors
    ]
    detail = f"{CASE_DATA_INVALID}: {'; '.join(exc.messages)}."
    return api.create_response(request, {"detail": detail, "errors": errors}, status=400)


# ---------------------------------------------------------------------------------------------
# Endpoints


@api.post(
    "/workflows/{slug}/runs",
    auth=intake_auth,
    url_name="run_create",
    operation_id="createRun",
    response={
        200: RunCreated,
        201: RunCreated,
        400: InvalidRequest,
        401: Error,
        404: Error,
        409: Error,
        411: Error,
        413: Error,
    },
    summary="Start a case",
    description="Starts a run of the workflow's newest published version: 201 with the new "
    "run. The same external_id again answers 200 with the run it started the first time "
    "(its data is not changed), so a caller may retry safely. Data that does not match the "
    "version's case schema answers 400 listing every problem.",
    tags=["runs"],
)
def run_create(
    request: HttpRequest,
    payload: RunCreateRequest,
    slug: str = Path(description="Slug of the workflow the token belongs to."),
):
    token: IntakeToken = request.auth
    if token.workflow.slug != slug:
        raise HttpError(404, WORKFLOW_NOT_FOUND.format(slug=slug))
    run, created = run_start(
        workflow=token.workflow, external_id=payload.external_id, data=payload.data
    )
    return Status(201 if created else 200, run)


@api.get(
    "/runs/{int:run_id}",
    auth=intake_auth,
    url_name="run_get",
    operation_id="getRun",
    response={200: RunDetail, 401: Error, 404: Error},
    summary="Read a run",
    description="A run of the token's workflow: status, current step, data, every attempt "
    "and the timeline. A run of another workflow answers 404.",
    tags=["runs"],
)
def run_get(request: HttpRequest, run_id: int = Path(description="The run's id.")):
    token: IntakeToken = request.auth
    run = run_of_workflow(workflow_id=token.workflow_id, run_id=run_id)
    if run is None:
        raise HttpError(404, RUN_NOT_FOUND.format(id=run_id))
    return run


# Without these, a wrong method or a mistyped path under /api/v1/ would get a text/HTML answer.


def _method_not_allowed(request: HttpRequest, allowed: str) -> HttpResponse:
    detail = f"{request.method} is not allowed here; use {allowed}."
    response = api.create_response(request, {"detail": detail}, status=405)
    response["Allow"] = allowed
    return response


def _other_methods(allowed: str) -> list[str]:
    return [method for method in HTTP_METHODS if method != allowed]


@api.api_operation(_other_methods("POST"), "/workflows/{slug}/runs", include_in_schema=False)
def runs_other_methods(request: HttpRequest, slug: str):
    return _method_not_allowed(request, "POST")


@api.api_operation(_other_methods("GET"), "/runs/{int:run_id}", include_in_schema=False)
def run_other_methods(request: HttpRequest, run_id: int):
    return _method_not_allowed(request, "GET")


@api.api_operation(list(HTTP_METHODS), "/{path:rest}", include_in_schema=False)
def no_endpoint(request: HttpRequest, rest: str):
    raise HttpError(404, NO_ENDPOINT)
