"""The errors an action raises, and the rules that classify any other exception.

Each error carries a ``code`` (``http_503``, ``timeout``, ``connection_error``, an exception's
class name…) that a step's retry policy can list as never retried.
"""

from __future__ import annotations

from typing import Any

import requests


class ActionError(Exception):
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        retry_after: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).__name__
        self.retry_after = retry_after
        self.detail = detail or {}


class TransientError(ActionError):
    """Worth trying again: the other side may answer next time."""

    kind = "transient"


class PermanentError(ActionError):
    """Trying again gives the same answer: a person has to look."""

    kind = "permanent"


class OutOfBounds(ActionError):
    """The case data breaks a bound; carries the expression and the values that broke it."""

    kind = "out_of_bounds"

    def __init__(self, message: str, *, expression: str, values: dict[str, Any]) -> None:
        super().__init__(
            message, code="out_of_bounds", detail={"expression": expression, "values": values}
        )
        self.expression = expression
        self.values = values


class NeedsReview(ActionError):
    """The workflow asks a person to decide this case."""

    kind = "manual_review"


class AttemptTimeout(TransientError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"The step did not finish within {seconds:g} seconds.", code="timeout")


def classify(exc: BaseException) -> ActionError:
    """Turn any exception into a transient or permanent ActionError.

    Timeouts and connection errors are transient; anything else that is not already an
    ActionError (a data error, a bug in a config) is permanent, so it reaches a person at once
    instead of burning retries.
    """
    if isinstance(exc, ActionError):
        return exc
    if isinstance(exc, requests.Timeout | TimeoutError):
        return TransientError(f"The other system did not answer in time: {exc}", code="timeout")
    if isinstance(exc, requests.ConnectionError | ConnectionError):
        return TransientError(
            f"Could not connect to the other system: {exc}", code="connection_error"
        )
    return PermanentError(f"{type(exc).__name__}: {exc}", code=type(exc).__name__)
