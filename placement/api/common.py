"""What every API module shares: the caller, pagination and error-response documentation."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from http import HTTPStatus
from typing import Any, TypeVar, cast

from flask import g, request
from marshmallow import EXCLUDE, Schema, fields, validate
from werkzeug.routing import IntegerConverter

from placement.errors import Unauthorized
from placement.flask_db import db_session
from placement.models import User
from placement.services import accounts
from placement.services.common import MAX_PER_PAGE, require_role
from placement.services.validation import MAX_ID, Text

F = TypeVar("F", bound=Callable[..., Any])

BEARER = "bearerAuth"


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive id that fits the databases' integer columns; anything else
    matches no route (404) instead of reaching the database."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_ID)


class ErrorSchema(Schema):
    """Every error: a human `message`; 422s add `errors`, keyed by field (or a list of
    `{row, field, message}` for CSV imports)."""

    message = fields.String(required=True)
    errors = fields.Raw(metadata={"description": "field (or CSV row) -> messages"})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def optional_actor() -> User | None:
    """The authenticated caller, or None."""
    if "api_actor" not in g:
        token = bearer_token()
        g.api_actor = accounts.authenticate(session=db_session(), token=token) if token else None
    actor: User | None = g.api_actor
    return actor


def current_actor() -> User:
    """The authenticated caller; 401 when there is none."""
    actor = optional_actor()
    if actor is None:
        raise Unauthorized("Authentication required: send a valid bearer token.")
    return actor


def allow(*roles: str) -> Callable[[F], F]:
    """Refuse other roles (403) before the request body is even parsed; the services check
    again, with ownership."""

    def decorate(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_role(current_actor(), *roles)
            return func(*args, **kwargs)

        return documented_errors(403)(cast(F, wrapper))

    return decorate


# --- schemas -------------------------------------------------------------------------


class QueryArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE


class PageArgsSchema(QueryArgsSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=1_000_000),
        metadata={"description": f"items per page; at most {MAX_PER_PAGE} are returned"},
    )


_page_schemas: dict[str, type[Schema]] = {}


def page_of(item: type[Schema]) -> type[Schema]:
    """A `{items, total, page, per_page}` schema for `item` (one class per item type)."""
    name = item.__name__.removesuffix("Schema") + "PageSchema"
    if name not in _page_schemas:
        _page_schemas[name] = type(
            name,
            (Schema,),
            {
                "items": fields.List(fields.Nested(item), required=True),
                "total": fields.Integer(required=True),
                "page": fields.Integer(required=True),
                "per_page": fields.Integer(required=True),
            },
        )
    return _page_schemas[name]


def page_args(args: dict[str, Any]) -> dict[str, int]:
    return {"page": args["page"], "per_page": args["per_page"]}


def documented_errors(*codes: int) -> Callable[[F], F]:
    """Document the error responses a view can give; each refers to the shared response
    component of its status (ErrorSchema), which flask-smorest registers lazily."""

    def decorate(func: F) -> F:
        doc = deepcopy(getattr(func, "_apidoc", {}))
        responses = doc.setdefault("response", {}).setdefault("responses", {})
        for code in codes:
            responses.setdefault(code, []).append(HTTPStatus(code).name)
        func._apidoc = doc  # type: ignore[attr-defined]
        return func

    return decorate


__all__ = [
    "BEARER",
    "ErrorSchema",
    "IdConverter",
    "PageArgsSchema",
    "QueryArgsSchema",
    "Text",
    "allow",
    "current_actor",
    "documented_errors",
    "optional_actor",
    "page_args",
    "page_of",
]
