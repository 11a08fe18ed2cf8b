"""Who may act on cases (claim, release, assign, comment, resolve, cancel, bulk): the one place
the rule lives. Services call it first (``require_can_act``); pages call ``can_act_on_cases`` to
show or hide the buttons.

Seeing a case is a separate question (``selectors``): by team, or every team with
``accounts.view_all_teams``. Acting needs a role on top:

- superusers act on any case;
- managers read and never act, whatever other group they are in;
- operators act on their own teams' cases, and on every team's if they also see all teams;
- implementers act only when they are operators too; anyone else only reads.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from . import roles
from .models import Team
from .selectors import roles_of, sees_all_teams, team_ids_of

INACTIVE = "Sign in with an active account to act on cases."
MANAGERS_READ = "Managers can read cases but not act on them."
IMPLEMENTERS_READ = "Implementers can act on cases only when they are operators too."
OPERATORS_ONLY = "Only operators can act on cases."


def not_an_operator_of(team: Team) -> str:
    return f"You are not an operator of {team.name}."


def act_refusal(user, team: Team | None = None) -> str | None:
    """Why ``user`` may not act on the cases of ``team``, or None if they may. Without a team:
    whether they may act on any case at all (the list shows its bulk bar on it).

    Reads the user's groups and teams once per request (both cached on the user object), so a
    table may ask for every row.
    """
    if not (user.is_authenticated and user.is_active):
        return INACTIVE
    if user.is_superuser:
        return None
    names = roles_of(user)
    if roles.MANAGER in names:
        return MANAGERS_READ
    if roles.OPERATOR not in names:
        return IMPLEMENTERS_READ if roles.IMPLEMENTER in names else OPERATORS_ONLY
    if team is None or sees_all_teams(user) or team.pk in team_ids_of(user):
        return None
    return not_an_operator_of(team)


def can_act_on_cases(user, team: Team | None = None) -> bool:
    return act_refusal(user, team) is None


def require_can_act(*, user, team: Team) -> None:
    """Raise ``PermissionDenied`` with a sentence for the user unless they may act on the cases
    of ``team``."""
    refusal = act_refusal(user, team)
    if refusal is not None:
        raise PermissionDenied(refusal)
