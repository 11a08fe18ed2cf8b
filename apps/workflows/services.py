"""Writes for workflows: publishing versions, intake tokens.

A token is shown once, when it is made; the database keeps only its SHA-256 digest. A plain
hash (no salt, no slow KDF) is enough because the token is 256 random bits, not a password:
nobody can guess a preimage, so the digest can also be looked up directly through its index.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from .models import IntakeToken, Step, Workflow, WorkflowVersion

TOKEN_PREFIX = "hnd_"  # noqa: S105 - marks our tokens; not a secret
# Longer than any token we issue ("hnd_" + 43 characters); anything longer is not ours.
TOKEN_MAX_LENGTH = 100
# last_used_at is for people ("is this token still in use?"), so minute precision is plenty and
# a busy token does not write its row on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def intake_token_create(*, workflow: Workflow) -> tuple[IntakeToken, str]:
    """Make a token for ``workflow``; returns the row and the plain token (not stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = IntakeToken.objects.create(
        workflow=workflow,
        prefix=token[: IntakeToken._meta.get_field("prefix").max_length],
        digest=token_digest(token),
    )
    return row, token


def intake_token_lookup(*, token: str) -> IntakeToken | None:
    """The non-revoked token row matching ``token`` (with its workflow), or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > TOKEN_MAX_LENGTH:
        return None
    digest = token_digest(token)
    row = (
        IntakeToken.objects.select_related("workflow")
        .filter(digest=digest, revoked_at__isnull=True)
        .first()
    )
    # The index lookup already matched; compare_digest keeps the final check constant-time.
    if row is None or not hmac.compare_digest(row.digest, digest):
        return None
    return row


def intake_token_mark_used(*, token: IntakeToken) -> None:
    """Record that ``token`` was used, at most once per LAST_USED_RESOLUTION (one UPDATE)."""
    now = timezone.now()
    IntakeToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)


@transaction.atomic
def intake_token_revoke_all(*, workflow: Workflow) -> int:
    """Revoke every live token of ``workflow``; returns how many were revoked."""
    return IntakeToken.objects.filter(workflow=workflow, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


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
        Step(
            **{
                f.attname: getattr(step, f.attname)
                for f in Step._meta.concrete_fields
                if f.attname not in ("id", "version_id")
            },
            version=copy,
        )
        for step in version.steps.all()
    )
    return copy
