"""Actions: import the modules that register them so the registry is complete."""

from . import builtin, http  # noqa: F401
from .errors import (  # noqa: F401
    ActionError,
    AttemptTimeout,
    NeedsReview,
    OutOfBounds,
    PermanentError,
    TransientError,
    classify,
)
from .registry import ActionContext, ActionResult  # noqa: F401
