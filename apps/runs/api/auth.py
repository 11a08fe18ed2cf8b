"""Bearer-token authentication for the intake API (tokens are per workflow)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from apps.workflows.models import IntakeToken
from apps.workflows.services import intake_token_lookup, intake_token_mark_used

# Messages, not secrets.
MISSING_TOKEN = "Send the workflow's intake token: Authorization: Bearer <token>."  # noqa: S105
INVALID_TOKEN = "The intake token is not valid or has been revoked."  # noqa: S105


class InvalidToken(AuthenticationError):
    """A token was sent but matches no live token (told apart from no token at all)."""

    def __init__(self) -> None:
        super().__init__(message=INVALID_TOKEN)


class IntakeTokenAuth(HttpBearer):
    """Sets ``request.auth`` to the caller's IntakeToken (its workflow already joined)."""

    def __call__(self, request: HttpRequest) -> IntakeToken | None:
        # Reads the header itself: ninja's HttpBearer logs a malformed header, token and all,
        # under DEBUG, and credentials have no place in logs.
        scheme, _, token = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> IntakeToken:
        row = intake_token_lookup(token=token)
        if row is None:
            raise InvalidToken()
        intake_token_mark_used(token=row)
        return row
