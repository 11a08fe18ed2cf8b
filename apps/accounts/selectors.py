"""Reads that scope what a user may see: object access is by team; holders of
``accounts.view_all_teams`` (the supervisor group, and superusers) see every team. Staff status
is for Django admin only and widens nothing here."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.workflows.models import Workflow

from .models import Team
from .roles import VIEW_ALL_TEAMS


def sees_all_teams(user) -> bool:
    """Whether ``user`` sees every team (superusers have every permission)."""
    return bool(user.is_active and user.has_perm(VIEW_ALL_TEAMS))


def roles_of(user) -> frozenset[str]:
    """Names of ``user``'s groups (their roles), read once per request (kept on the user)."""
    if not hasattr(user, "_handoff_roles"):
        user._handoff_roles = (
            frozenset(user.groups.values_list("name", flat=True))
            if user.is_authenticated
            else frozenset()
        )
    return user._handoff_roles


def teams_of(user) -> QuerySet[Team]:
    """The teams whose cases ``user`` may see: all of them if ``sees_all_teams``, else their
    own."""
    if not user.is_authenticated:
        return Team.objects.none()
    if sees_all_teams(user):
        return Team.objects.all()
    return Team.objects.filter(members=user)


def team_ids_of(user) -> list[int]:
    """Ids of ``user``'s own teams, read once per request (kept on the user object).

    A literal list lets PostgreSQL walk a per-team index in order, which a subquery does not.
    """
    if not hasattr(user, "_handoff_team_ids"):
        user._handoff_team_ids = (
            list(Team.objects.filter(members=user).values_list("pk", flat=True))
            if user.is_authenticated
            else []
        )
    return user._handoff_team_ids


def visible_workflows(user) -> QuerySet[Workflow]:
    """Workflows of the teams ``user`` may see (a subquery when used in ``__in``)."""
    if sees_all_teams(user):
        return Workflow.objects.all()
    return Workflow.objects.filter(team__in=teams_of(user))
