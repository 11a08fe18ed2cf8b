"""Who may act on an escalation: the rule of ``apps.accounts.permissions``, for its team."""

from __future__ import annotations

from apps.accounts import permissions
from apps.accounts.permissions import (  # noqa: F401
    IMPLEMENTERS_READ,
    INACTIVE,
    MANAGERS_READ,
    OPERATORS_ONLY,
    act_refusal,
    can_act_on_cases,
    not_an_operator_of,
)

from .models import Escalation


def require_can_act(*, user, escalation: Escalation) -> None:
    """Raise ``PermissionDenied`` with a sentence for the user unless they may act on
    ``escalation``."""
    permissions.require_can_act(user=user, team=escalation.team)
