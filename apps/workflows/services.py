"""Writes for workflows: status moves, publishing versions, intake tokens.

A token is shown once, when it is made; the database keeps only its SHA-256 digest. A plain
hash (no salt, no slow KDF) is enough because the token is 256 random bits, not a password:
nobody can guess a preimage, so the digest can also be looked up directly through its index.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Max, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import IntakeToken, Step, Workflow, WorkflowStatusChange, WorkflowVersion
from .schema import case_schema_errors

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


NOT_ALLOWED_TO_REVOKE = "Only people who may change intake tokens can revoke them."


@transaction.atomic
def intake_token_revoke(*, tokens, user) -> int:
    """Revoke the live tokens among ``tokens`` (a queryset) for ``user``; returns how many."""
    if not user.has_perm("workflows.change_intaketoken"):
        raise PermissionDenied(NOT_ALLOWED_TO_REVOKE)
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


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
    problems = [f"case schema: {error}" for error in case_schema_errors(version.case_schema)]
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
        workflow=workflow,
        number=last + 1,
        note=f"Copy of v{version.number}",
        case_schema=version.case_schema,
        created_by=user,
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


# ---------------------------------------------------------------------------------------------
# Status moves

S = Workflow.Status
# Where a workflow may go from each status. Pilot may fall back to draft (the pilot showed the
# definition needs work); live goes back to pilot only through paused, so "it was live and
# stopped" always shows in the history. Retired is final: survival metrics count a retired
# workflow as dead, and bringing it back would blur that; a new workflow is made instead.
ALLOWED_MOVES: dict[str, tuple[str, ...]] = {
    S.DRAFT: (S.PILOT, S.LIVE, S.RETIRED),
    S.PILOT: (S.LIVE, S.PAUSED, S.RETIRED, S.DRAFT),
    S.LIVE: (S.PAUSED, S.RETIRED),
    S.PAUSED: (S.LIVE, S.PILOT, S.RETIRED),
    S.RETIRED: (),
}
RETIRED_IS_FINAL = "A retired workflow cannot {verb} again: copy it as a new workflow."
MOVE_NOT_ALLOWED = (
    "A {current} workflow cannot move to {status}; from {current} it can move to {allowed}."
)
ALREADY_THERE = "Workflow {slug!r} is already {status}."
STALE_STATUS = (
    "Workflow {slug!r} is now {actual}, not {expected}: someone moved it meanwhile. "
    "Reload it and try again."
)
NOTHING_PUBLISHED = (
    "Workflow {slug!r} has no published version with steps: publish one before it goes {status}."
)
REASON_REQUIRED = "Say why the workflow moves: the reason is kept in its status history."
NOT_ALLOWED_TO_MOVE = "You may not change workflows, so you cannot move a workflow's status."


def _label(status: str) -> str:
    return Workflow.Status(status).label.lower()


def _refusal(*, workflow: Workflow, status: str) -> str | None:
    current = workflow.status
    if status == current:
        return ALREADY_THERE.format(slug=workflow.slug, status=_label(status))
    if current == S.RETIRED:
        verb = "go live" if status == S.LIVE else f"move to {_label(status)}"
        return RETIRED_IS_FINAL.format(verb=verb)
    if status not in ALLOWED_MOVES[current]:
        *others, last = [_label(s) for s in ALLOWED_MOVES[current]]
        allowed = f"{', '.join(others)} or {last}" if others else last
        return MOVE_NOT_ALLOWED.format(
            current=_label(current), status=_label(status), allowed=allowed
        )
    if (
        status in Workflow.ACCEPTING
        and not workflow.versions.filter(published_at__isnull=False, steps__isnull=False).exists()
    ):
        return NOTHING_PUBLISHED.format(slug=workflow.slug, status=_label(status))
    return None


@transaction.atomic
def workflow_set_status(
    *, workflow: Workflow, status: str, user: AbstractBaseUser | None, reason: str
) -> WorkflowStatusChange:
    """Move ``workflow`` to ``status`` and record who, when and why; the one door for status.

    ``user`` None is the system (the demo, a command); a person needs the permission to
    change workflows. The move is refused (ValidationError) when the table above forbids it,
    when the reason is blank, or when the workflow is no longer in the status this object
    holds (someone else moved it: the conditional update finds no row). ``went_live_at`` is
    the first time it went live and never moves after that.
    """
    if user is not None and not user.has_perm("workflows.change_workflow"):
        raise PermissionDenied(NOT_ALLOWED_TO_MOVE)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": REASON_REQUIRED}, code="reason_required")
    status = Workflow.Status(status)
    refusal = _refusal(workflow=workflow, status=status)
    if refusal:
        raise ValidationError(refusal, code="move_not_allowed")
    now = timezone.now()
    changes: dict = {"status": status, "updated_at": now}
    if status == S.LIVE:
        changes["went_live_at"] = Coalesce(F("went_live_at"), Value(now))
    moved = Workflow.objects.filter(pk=workflow.pk, status=workflow.status).update(**changes)
    if not moved:
        actual = Workflow.objects.filter(pk=workflow.pk).values_list("status", flat=True).first()
        raise ValidationError(
            STALE_STATUS.format(
                slug=workflow.slug,
                actual=_label(actual) if actual else "deleted",
                expected=_label(workflow.status),
            ),
            code="stale",
        )
    change = WorkflowStatusChange.objects.create(
        workflow=workflow,
        from_status=workflow.status,
        to_status=status,
        changed_by=user,
        at=now,
        reason=reason,
    )
    workflow.refresh_from_db(fields=["status", "went_live_at", "updated_at"])
    return change
