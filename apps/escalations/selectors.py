"""Reads for the inbox: what a user may see, the tabs and their counts, one escalation's panel."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.accounts.selectors import sees_all_teams, team_ids_of, teams_of
from apps.runs.selectors import run_detail

from .models import Comment, Escalation

S = Escalation.Status

# The inbox's tabs, in the order they are shown.
MINE, UNASSIGNED, OVERDUE, ALL = "mine", "unassigned", "overdue", "all"
TABS = {
    MINE: "Mine",
    UNASSIGNED: "Unassigned",
    OVERDUE: "Overdue",
    ALL: "All of my teams",
}

# What to do next, in words, for each reason a case was handed over.
SUGGESTIONS = {
    Escalation.Reason.OUT_OF_BOUNDS: "Fix the field and resume.",
    Escalation.Reason.RETRIES_EXHAUSTED: "Retry the step when the other system is back.",
    Escalation.Reason.TIMEOUT: "Retry the step when the other system is back.",
    Escalation.Reason.PERMANENT_ERROR: "Check the data, then resume, or complete by hand.",
    Escalation.Reason.MANUAL_REVIEW: "Decide, then resume or cancel.",
}


def escalation_list(*, user) -> QuerySet[Escalation]:
    """Escalations of the teams ``user`` may see, with what a table row shows already joined."""
    escalations = Escalation.objects.select_related("workflow", "team", "assignee")
    if sees_all_teams(user):
        return escalations
    return escalations.filter(team_id__in=team_ids_of(user))


def is_overdue(escalation: Escalation, *, now=None) -> bool:
    """Past its due time and still waiting for a person."""
    return escalation.is_overdue(now)


def _tab_conditions(*, user, now) -> dict[str, Q]:
    unresolved = ~Q(status=S.RESOLVED)
    return {
        MINE: Q(assignee=user) & unresolved,
        UNASSIGNED: Q(status=S.OPEN),
        OVERDUE: Q(due_at__lt=now) & unresolved,
        ALL: unresolved,
    }


def inbox_tab(
    escalations: QuerySet[Escalation], *, tab: str, user, now=None
) -> QuerySet[Escalation]:
    """Narrow ``escalations`` to one tab. The status filter decides resolved or not, so a tab
    here says only *whose* and *when*: Mine and Overdue, Unassigned, or every one."""
    now = now or timezone.now()
    if tab == MINE:
        return escalations.filter(assignee=user)
    if tab == UNASSIGNED:
        return escalations.filter(assignee__isnull=True)
    if tab == OVERDUE:
        return escalations.filter(due_at__lt=now).exclude(status=S.RESOLVED)
    return escalations


def inbox_counts(escalations: QuerySet[Escalation], *, user, now=None) -> dict[str, int]:
    """Unresolved escalations in each tab, in one aggregate query."""
    conditions = _tab_conditions(user=user, now=now or timezone.now())
    # Every tab counts unresolved ones: say so in the WHERE so resolved rows are not read.
    return (
        escalations.order_by()
        .exclude(status=S.RESOLVED)
        .aggregate(**{tab: Count("pk", filter=condition) for tab, condition in conditions.items()})
    )


def inbox_badge(*, user, now=None) -> dict[str, int]:
    """What the nav badge shows: unresolved cases that wait for ``user`` (theirs and nobody's),
    and how many of those are overdue. One query."""
    now = now or timezone.now()
    waiting = Q(assignee=user) & ~Q(status=S.RESOLVED) | Q(status=S.OPEN)
    return (
        escalation_list(user=user)
        .order_by()
        .aggregate(
            waiting=Count("pk", filter=waiting),
            overdue=Count("pk", filter=waiting & Q(due_at__lt=now)),
        )
    )


def teammates(*, user) -> QuerySet:
    """People ``user`` may hand a case to: members of their teams (of every team, for staff)."""
    User = get_user_model()
    people = User.objects.filter(is_active=True, teams__in=teams_of(user))
    return (
        User.objects.filter(pk__in=people.values("pk"))
        .order_by("first_name", "last_name", "username")
        .only("pk", "username", "first_name", "last_name")
    )


# ---------------------------------------------------------------------------------------------
# One escalation


def escalation_get(*, user, pk: int) -> Escalation:
    """One escalation ``user`` may see; raises ``Escalation.DoesNotExist`` for any other, so a
    guessed id of another team's case looks exactly like one that does not exist."""
    return (
        escalation_list(user=user)
        .select_related(
            "run__workflow__team", "run__current_step", "step", "attempt", "resolved_by"
        )
        .get(pk=pk)
    )


@dataclass
class Bound:
    expression: str
    broken: bool


@dataclass
class EscalationDetail:
    escalation: Escalation
    run: Any  # apps.runs.selectors.RunDetail
    comments: list[Comment]
    members: list  # the escalation's team, for "assign to"
    bounds: list[Bound] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def suggestion(self) -> str:
        return SUGGESTIONS.get(self.escalation.reason, "")

    @property
    def overdue(self) -> bool:
        return is_overdue(self.escalation)

    @property
    def step(self):
        return self.escalation.step or self.escalation.run.current_step

    @property
    def human_minutes(self) -> str:
        minutes = self.escalation.human_minutes
        return "" if minutes is None else f"{float(minutes):g}"

    @property
    def error_kind(self) -> str:
        attempt = self.escalation.attempt
        return (self.escalation.detail or {}).get("kind") or (attempt.error_kind if attempt else "")

    @property
    def error_code(self) -> str:
        attempt = self.escalation.attempt
        return (self.escalation.detail or {}).get("code") or (attempt.error_code if attempt else "")

    @property
    def technical(self) -> dict[str, Any]:
        """What the action reported beyond kind, code and bound, for people who read JSON:
        ``request`` and ``response`` of an HTTP call, and ``other`` (key, JSON) pairs."""
        detail = self.escalation.detail or {}
        request = detail.get("request") if isinstance(detail.get("request"), dict) else None
        response = detail.get("response") if isinstance(detail.get("response"), dict) else None
        skip = {"kind", "code", "expression", "values", "request", "response"}
        return {
            "request": request and {**request, "body": _json(request.get("body"))},
            "response": response,
            "other": [(key, _json(value)) for key, value in detail.items() if key not in skip],
        }


def _json(value: Any) -> str:
    if value in (None, "", {}, []):
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def bound_values(escalation: Escalation) -> dict[str, Any]:
    """The case fields the failed bound read, with their values ({} for other reasons)."""
    values = (escalation.detail or {}).get("values")
    return values if isinstance(values, dict) else {}


def has_step(escalation: Escalation) -> bool:
    """Whether there is a step to run again (resume, retry, skip need one)."""
    return (escalation.step_id or escalation.run.current_step_id) is not None


def escalation_detail(*, user, pk: int) -> EscalationDetail:
    """Everything the panel shows; raises ``Escalation.DoesNotExist`` like ``escalation_get``."""

    escalation = escalation_get(user=user, pk=pk)
    run = run_detail(user=user, pk=escalation.run_id)
    comments = list(escalation.comments.select_related("author"))
    members = list(
        escalation.team.members.filter(is_active=True).order_by(
            "first_name", "last_name", "username"
        )
    )
    detail = escalation.detail or {}
    bounds: list[Bound] = []
    if escalation.reason == Escalation.Reason.OUT_OF_BOUNDS:
        step = escalation.step
        broken = detail.get("expression")
        bounds = [Bound(expression=e, broken=e == broken) for e in (step.bounds if step else [])]
        if broken and not any(b.broken for b in bounds):
            bounds.append(Bound(expression=broken, broken=True))
    return EscalationDetail(
        escalation=escalation,
        run=run,
        comments=comments,
        members=members,
        bounds=bounds,
        values=bound_values(escalation),
    )
