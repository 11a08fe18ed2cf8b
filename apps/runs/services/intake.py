from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from apps.workflows.models import Workflow, WorkflowVersion
from apps.workflows.schema import case_data_check

from ..models import Run, RunEvent
from .engine import attempt_create
from .events import event_append


class WorkflowNotAccepting(Exception):
    """The workflow is draft, paused or retired, or has nothing published to run."""


def workflow_refusal(workflow: Workflow) -> str | None:
    """Why a workflow does not accept new cases, in plain words; None when it does."""
    if not workflow.accepts_cases:
        return (
            f"Workflow {workflow.slug!r} is {workflow.get_status_display().lower()}: "
            "it accepts new cases only in pilot or live."
        )
    if published_version(workflow) is None:
        return f"Workflow {workflow.slug!r} has no published version to run."
    return None


def published_version(workflow: Workflow) -> WorkflowVersion | None:
    return (
        workflow.versions.filter(published_at__isnull=False, steps__isnull=False)
        .order_by("-number")
        .first()
    )


def run_start(
    *,
    workflow: Workflow,
    external_id: str,
    data: dict[str, Any],
    source: str = Run.Source.API,
) -> tuple[Run, bool]:
    """Start a case on the workflow's newest published version; idempotent on external id.

    Returns ``(run, created)``. A second call with the same external id returns the first run
    untouched, also when two calls race (the unique constraint decides, the loser reads).
    Data that does not match the version's case schema raises CaseDataInvalid (every problem
    listed) and creates nothing.
    """
    existing = Run.objects.filter(workflow=workflow, external_id=external_id).first()
    if existing is not None:
        return existing, False
    refusal = workflow_refusal(workflow)
    if refusal:
        raise WorkflowNotAccepting(refusal)
    # The version read once: the one whose schema the data was checked against is pinned.
    version = published_version(workflow)
    case_data_check(schema=version.case_schema, data=data)
    try:
        with transaction.atomic():
            return _create(
                workflow=workflow,
                version=version,
                external_id=external_id,
                data=data,
                source=source,
            ), True
    except IntegrityError:
        return Run.objects.get(workflow=workflow, external_id=external_id), False


def _create(
    *,
    workflow: Workflow,
    version: WorkflowVersion,
    external_id: str,
    data: dict[str, Any],
    source: str,
) -> Run:
    first = version.steps.order_by("position").first()
    run = Run.objects.create(
        workflow=workflow,
        version=version,
        external_id=external_id,
        data=data,
        source=source,
        current_step=first,
    )
    event_append(
        run=run,
        kind=RunEvent.Kind.CREATED,
        message=f"Case {external_id} received ({run.get_source_display()}), "
        f"on version {version.number}.",
        detail={"source": source, "version": version.number},
    )
    attempt_create(run=run, step=first)
    return run
