"""Claims, assignment and comments. Race-safe: every change is a conditional update, so of many
simultaneous claims exactly one wins and the others learn who has the case. Each refuses
(PermissionDenied) a user who may not act on the case, before it reads or writes anything."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.runs.models import RunEvent
from apps.runs.services import event_append, person

from ..models import Comment, Escalation
from ..permissions import can_act_on_cases, require_can_act

S = Escalation.Status


class EscalationConflict(Exception):
    """Someone else got there first; the message says who and when."""


def holder_message(escalation: Escalation) -> str:
    """'Claimed by Ana at 10:42' or 'Resolved by Ana at 10:42 (Step retried)'."""
    if escalation.status == S.RESOLVED:
        when = timezone.localtime(escalation.resolved_at)
        return (
            f"Already resolved by {person(escalation.resolved_by)} at {when:%H:%M} "
            f"({escalation.get_resolution_display()})."
        )
    when = timezone.localtime(escalation.claimed_at)
    return f"Claimed by {person(escalation.assignee)} at {when:%H:%M}."


def _reload(escalation: Escalation) -> Escalation:
    return Escalation.objects.select_related("assignee", "resolved_by").get(pk=escalation.pk)


@transaction.atomic
def escalation_claim(*, escalation: Escalation, user: AbstractBaseUser) -> Escalation:
    """Take an open escalation. Claiming one's own claim again changes nothing."""
    require_can_act(user=user, escalation=escalation)
    now = timezone.now()
    won = Escalation.objects.filter(pk=escalation.pk, status=S.OPEN).update(
        status=S.CLAIMED, assignee=user, claimed_at=now
    )
    current = _reload(escalation)
    if not won:
        if current.status == S.CLAIMED and current.assignee_id == user.pk:
            return current
        raise EscalationConflict(holder_message(current))
    event_append(
        run_id=current.run_id,
        kind=RunEvent.Kind.CLAIMED,
        actor=user,
        message=f"Claimed by {person(user)}.",
        detail={"escalation": current.pk},
        at=now,
    )
    return current


@transaction.atomic
def escalation_release(*, escalation: Escalation, user: AbstractBaseUser) -> Escalation:
    """Give a claimed escalation back to the team's queue (only its holder can)."""
    require_can_act(user=user, escalation=escalation)
    released = Escalation.objects.filter(pk=escalation.pk, status=S.CLAIMED, assignee=user).update(
        status=S.OPEN, assignee=None, claimed_at=None
    )
    current = _reload(escalation)
    if not released:
        if current.status == S.OPEN:
            return current
        raise EscalationConflict(holder_message(current))
    event_append(
        run_id=current.run_id,
        kind=RunEvent.Kind.CLAIMED,
        actor=user,
        message=f"Released by {person(user)}: back in the team's queue.",
        detail={"escalation": current.pk, "released": True},
    )
    return current


@transaction.atomic
def escalation_assign(
    *, escalation: Escalation, user: AbstractBaseUser, assignee: AbstractBaseUser
) -> Escalation:
    """Give an unresolved escalation to a member of its team who may act on it."""
    require_can_act(user=user, escalation=escalation)
    if not escalation.team.members.filter(pk=assignee.pk).exists():
        raise ValidationError(f"{person(assignee)} is not in {escalation.team}.")
    # A case held by someone who may not resolve or release it would be stuck with them.
    if not can_act_on_cases(assignee, escalation.team):
        raise ValidationError(f"{person(assignee)} cannot act on cases: choose an operator.")
    now = timezone.now()
    changed = (
        Escalation.objects.filter(pk=escalation.pk)
        .exclude(status=S.RESOLVED)
        .update(status=S.CLAIMED, assignee=assignee, claimed_at=now)
    )
    current = _reload(escalation)
    if not changed:
        raise EscalationConflict(holder_message(current))
    event_append(
        run_id=current.run_id,
        kind=RunEvent.Kind.CLAIMED,
        actor=user,
        message=f"Assigned to {person(assignee)} by {person(user)}.",
        detail={"escalation": current.pk, "assignee": assignee.pk},
        at=now,
    )
    return current


@transaction.atomic
def escalation_comment(*, escalation: Escalation, user: AbstractBaseUser, text: str) -> Comment:
    require_can_act(user=user, escalation=escalation)
    text = text.strip()
    if not text:
        raise ValidationError("Write something before posting a comment.")
    comment = Comment.objects.create(escalation=escalation, author=user, text=text)
    event_append(
        run_id=escalation.run_id,
        kind=RunEvent.Kind.COMMENTED,
        actor=user,
        message=text,
        detail={"escalation": escalation.pk, "comment": comment.pk},
    )
    return comment
