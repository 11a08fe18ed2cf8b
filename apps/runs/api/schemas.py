"""Request and response bodies of the intake API (their class names are the OpenAPI names)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict, field_validator

from ..models import Run, RunEvent, StepAttempt

# Case data is business fields, not a document store; the limit keeps every later step
# (validation, JSON columns, the inbox's rendering) far from recursion limits.
DATA_MAX_DEPTH = 32

RunStatus = Literal[tuple(Run.Status.values)]  # type: ignore[valid-type]
AttemptStatus = Literal[tuple(StepAttempt.Status.values)]  # type: ignore[valid-type]
ErrorKind = Literal[tuple(StepAttempt.ErrorKind.values)]  # type: ignore[valid-type]
EventKind = Literal[tuple(RunEvent.Kind.values)]  # type: ignore[valid-type]


def _unstorable_text(value: str) -> str | None:
    """Why a string cannot be stored in a JSON or text column (PostgreSQL refuses NUL and
    neither database can encode an unpaired surrogate), or None."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired UTF-16 surrogate"
    return None


def _check_storable(data: Any) -> None:
    # Iterative, so deep nesting is refused with a message instead of a RecursionError.
    pending = [(data, "data", 1)]
    while pending:
        value, path, depth = pending.pop()
        if depth > DATA_MAX_DEPTH:
            raise ValueError(f"is nested deeper than {DATA_MAX_DEPTH} levels")
        if isinstance(value, str):
            problem = _unstorable_text(value)
            if problem:
                raise ValueError(f"{path} {problem}")
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = _unstorable_text(key)
                if problem:
                    raise ValueError(f"a key in {path} {problem}")
                pending.append((item, f"{path}.{key}", depth + 1))
        elif isinstance(value, list):
            pending.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


def _page_url(run: Run, context: dict[str, Any]) -> str:
    return context["request"].build_absolute_uri(run.get_absolute_url())


class RunCreateRequest(Schema):
    """A case to start. Sending the same external_id again returns the first run unchanged."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(
        min_length=1,
        max_length=200,
        description="Your identifier for the case (an invoice number, a ticket id…), unique "
        "within the workflow. It makes the call idempotent: retry it safely.",
        examples=["INV-2024-0042"],
    )
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="The case's fields, as a JSON object; the workflow's steps read and extend "
        "it. Defaults to an empty object.",
        examples=[{"amount": 1250.0, "supplier": "ACME"}],
    )

    @field_validator("external_id")
    @classmethod
    def _external_id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        problem = _unstorable_text(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("data")
    @classmethod
    def _data_storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_storable(value)
        return value


class RunCreated(Schema):
    """The run a case became (newly started or, for a repeated external_id, the existing one)."""

    id: int = Field(description="The run's id; read it at GET /api/v1/runs/{id}.")
    status: RunStatus = Field(description="Where the run stands now.")
    url: str = Field(description="Absolute URL of the run's page in Handoff, for people.")

    @staticmethod
    def resolve_url(obj: Run, context: dict[str, Any]) -> str:
        return _page_url(obj, context)


class StepRef(Schema):
    """A step of the workflow version the run is pinned to."""

    key: str = Field(description="The step's stable key within the workflow.")
    name: str = Field(description="The step's name, for people.")


class AttemptError(Schema):
    """Why an attempt failed."""

    kind: ErrorKind | None = Field(
        description="transient (retried), permanent (not retried), out_of_bounds (the case "
        "broke a bound of the step) or manual_review (the step asks for a person)."
    )
    code: str = Field(description="A short machine-readable code, e.g. http_503 or timeout.")
    message: str = Field(description="What went wrong, in plain words.")


class Attempt(Schema):
    """One try of one step."""

    step: str = Field(description="Key of the step tried.")
    number: int = Field(description="1 for the first try of the step, 2 for its first retry…")
    status: AttemptStatus
    error: AttemptError | None = Field(description="Set when the attempt failed.")
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_step(obj: StepAttempt) -> str:
        return obj.step.key

    @staticmethod
    def resolve_error(obj: StepAttempt) -> dict[str, Any] | None:
        if not (obj.error_kind or obj.error_code):
            return None
        return {"kind": obj.error_kind or None, "code": obj.error_code, "message": obj.message}


class TimelineEntry(Schema):
    """One entry of the run's append-only timeline."""

    at: datetime
    kind: EventKind
    step: str | None = Field(description="Key of the step concerned, if any.")
    message: str
    actor: str = Field(description='Username of the person who acted, or "system".')

    @staticmethod
    def resolve_step(obj: RunEvent) -> str | None:
        return obj.step.key if obj.step_id else None

    @staticmethod
    def resolve_actor(obj: RunEvent) -> str:
        return obj.actor_label


class RunDetail(Schema):
    """A run with its attempts and timeline."""

    id: int
    workflow: str = Field(description="Slug of the run's workflow.")
    version: int = Field(description="Number of the workflow version the run is pinned to.")
    external_id: str
    status: RunStatus
    current_step: StepRef | None = Field(
        description="The step the run is on; null once it has finished."
    )
    data: dict[str, Any] = Field(description="The case's fields as the steps have left them.")
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    url: str = Field(description="Absolute URL of the run's page in Handoff, for people.")
    attempts: list[Attempt] = Field(description="Every step attempt, oldest first.")
    timeline: list[TimelineEntry] = Field(description="What happened and why, oldest first.")

    @staticmethod
    def resolve_workflow(obj: Run) -> str:
        return obj.workflow.slug

    @staticmethod
    def resolve_version(obj: Run) -> int:
        return obj.version.number

    @staticmethod
    def resolve_url(obj: Run, context: dict[str, Any]) -> str:
        return _page_url(obj, context)

    @staticmethod
    def resolve_attempts(obj: Run) -> list[StepAttempt]:
        return list(obj.attempts.all())

    @staticmethod
    def resolve_timeline(obj: Run) -> list[RunEvent]:
        return list(obj.events.all())


class Error(Schema):
    """Every error answer has a detail sentence."""

    detail: str = Field(description="What went wrong, in plain words.")


class FieldError(Schema):
    field: str = Field(
        description='The field concerned, e.g. "external_id", "data" or "data.lines[0].amount".'
    )
    message: str


class InvalidRequest(Schema):
    """A body that is not valid JSON (errors is then empty), does not match the schema, or
    carries case data that does not match the workflow's case schema (one error per problem)."""

    detail: str = Field(examples=["Invalid request body"])
    errors: list[FieldError] = Field(default_factory=list)
