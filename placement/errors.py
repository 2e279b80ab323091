"""Domain exceptions. Services raise them; the API and the pages translate them once."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    default_message = "Bad request."

    # A stable machine-readable `code` for clients, added to the JSON body when set.
    code: str | None = None

    def __init__(self, message: str | None = None, *, errors: Any = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.errors = errors
        # More fields for the JSON body, and response headers.
        self.extra: dict[str, Any] = {}
        self.headers: dict[str, str] = {}


class NotFound(DomainError):
    status = 404
    default_message = "Not found."


class Forbidden(DomainError):
    status = 403
    default_message = "You are not allowed to do that."


class Unauthorized(DomainError):
    status = 401
    default_message = "Authentication required."


class MfaRequired(Unauthorized):
    """The password was right; the second factor is missing or wrong."""

    default_message = "Enter the 6-digit code from your authenticator app, or a recovery code."

    def __init__(self, message: str | None = None, *, user_id: int | None = None) -> None:
        super().__init__(message)
        self.extra = {"mfa_required": True}
        # Who passed the password step (for the pages' second step; never sent out).
        self.user_id = user_id


class MfaEnrolmentRequired(Forbidden):
    code = "mfa_enrolment_required"
    default_message = "Your role must use a second factor: turn on MFA (POST /me/mfa) first."


class TooManyAttempts(DomainError):
    status = 429
    default_message = "Too many attempts in a short time; wait, then try again."

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class InvalidLink(DomainError):
    """A verify, invitation or reset link that is unknown, used or expired (400)."""

    default_message = (
        "This link is not valid: it was already used or has expired. Ask for a new one."
    )


class WrongCode(DomainError):
    default_message = "That code is not right; enter the current 6-digit code from your app."


class WrongPassword(DomainError):
    default_message = "Your current password is not right."


class Conflict(DomainError):
    status = 409
    default_message = "That conflicts with the current state."


class InvalidInput(DomainError):
    """Values that are well formed but not acceptable; `errors` maps fields or rows to messages."""

    status = 422
    default_message = "Some values are invalid."


class TooLarge(DomainError):
    status = 413
    default_message = "The upload is too large."


class SlotFull(Conflict):
    default_message = "The slot has no free seat."


class AlreadyPlaced(Conflict):
    default_message = "The trainee already has a live placement in this round."


class WrongState(Conflict):
    default_message = "The round is not in the right state for that."
