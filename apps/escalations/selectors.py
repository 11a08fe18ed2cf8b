"""Reads for the escalation pages."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.selectors import sees_all_teams, teams_of

from .models import Escalation


def escalation_list(*, user) -> QuerySet[Escalation]:
    """Escalations of the teams ``user`` may see, with what a table row shows already joined."""
    escalations = Escalation.objects.select_related("run__workflow", "team", "assignee")
    if sees_all_teams(user):
        return escalations
    return escalations.filter(team__in=teams_of(user))


def is_overdue(escalation: Escalation, *, now=None) -> bool:
    """Past its due time and still waiting for a person."""
    return escalation.status != Escalation.Status.RESOLVED and escalation.due_at < (
        now or timezone.now()
    )
