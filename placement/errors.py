"""Domain exceptions. Services raise them; the API and the pages translate them once."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    default_message = "Bad request."

    def __init__(self, message: str | None = None, *, errors: Any = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.errors = errors


class NotFound(DomainError):
    status = 404
    default_message = "Not found."


class Forbidden(DomainError):
    status = 403
    default_message = "You are not allowed to do that."


class Unauthorized(DomainError):
    status = 401
    default_message = "Authentication required."


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
