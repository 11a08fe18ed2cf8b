"""Publishing and copying workflow versions (merged into services.py once it settles)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .models import Step, WorkflowVersion


@transaction.atomic
def version_publish(*, version: WorkflowVersion) -> WorkflowVersion:
    """Freeze a draft version; new cases start on the newest published one."""
    version = WorkflowVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        raise ValueError("already published")
    steps = list(version.steps.all())
    if not steps:
        raise ValueError("a version needs at least one step")
    problems = []
    for step in steps:
        try:
            step.full_clean()
        except ValidationError as exc:
            problems.append(f"step {step.position} ({step.key}): {'; '.join(exc.messages)}")
    if problems:
        raise ValueError("; ".join(problems))
    version.published_at = timezone.now()
    version.save(update_fields=["published_at"])
    return version


@transaction.atomic
def version_copy(*, version: WorkflowVersion, user=None) -> WorkflowVersion:
    """A new draft with the same steps, to edit a workflow whose versions are frozen."""
    workflow = version.workflow
    last = workflow.versions.aggregate(n=Max("number"))["n"] or 0
    copy = WorkflowVersion.objects.create(
        workflow=workflow, number=last + 1, note=f"Copy of v{version.number}", created_by=user
    )
    Step.objects.bulk_create(
        Step(**{f.attname: getattr(step, f.attname) for f in Step._meta.concrete_fields
                if f.attname not in ("id", "version_id")}, version=copy)
        for step in version.steps.all()
    )
    return copy
