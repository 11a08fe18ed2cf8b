"""Writes for escalations: opening (by the engine), claims, comments, resolutions."""

from .claims import (  # noqa: F401
    EscalationConflict,
    escalation_assign,
    escalation_claim,
    escalation_comment,
    escalation_release,
)
from .opening import SLA_FACTOR, escalation_due_at, escalation_open  # noqa: F401
from .resolutions import coerce_edit, escalation_resolve  # noqa: F401
