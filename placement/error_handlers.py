"""Every error, translated once: JSON under /api, an HTML page everywhere else.

Domain errors from the services, werkzeug's HTTP errors (including webargs' 422 and the
400 for a malformed body) and database integrity errors all pass through here (the shape
of microblog-api's `api/errors.py`). Views and API endpoints never catch them.
"""

from __future__ import annotations

import http
import json
from typing import Any

from flask import Flask, Response, g, jsonify, request
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug import exceptions as werkzeug_exceptions
from werkzeug.exceptions import HTTPException

from placement.config import API_PREFIX
from placement.errors import Conflict, DomainError
from placement.extensions import client_ip
from placement.flask_db import db_session
from placement.models import User
from placement.services.audit import record_denied
from placement.web.errors import domain_error_page, http_error_page

RACE_MESSAGE = "That conflicts with data saved meanwhile; reload and try again."
_WEBARGS_LOCATIONS = ("json", "query", "form", "files", "view_args", "headers")


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def _flatten(messages: Any) -> Any:
    """webargs keys errors by location (`{"json": {...}}`); clients want them by field."""
    if (
        isinstance(messages, dict)
        and messages
        and all(key in _WEBARGS_LOCATIONS for key in messages)
    ):
        flat: dict[str, Any] = {}
        for value in messages.values():
            if isinstance(value, dict):
                flat.update(value)
            else:
                flat.setdefault("_schema", []).extend(value if isinstance(value, list) else [value])
        return flat
    return messages


def _message_for(error: HTTPException) -> str:
    code = error.code or 500
    if code == 422:
        return "Some values are invalid."
    if code == 400 and getattr(error, "data", None):
        return "The request body is not valid JSON."
    if code == 401:
        return "Authentication required: send a valid bearer token."
    if code == 404:
        return "Not found."
    if code == 405:
        return f"The method {request.method} is not allowed here."
    if code == 413:
        return "The upload is too large."
    if code == 429:
        return f"Too many requests; slow down ({error.description})."
    if code >= 500:
        return "Internal server error."
    return str(error.description or http.HTTPStatus(code).phrase)


def json_error(
    status: int, message: str, errors: Any = None, headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", "Bearer")
    return response


def http_error(error: HTTPException) -> Any:
    """werkzeug's errors (and flask-smorest's, which carry `data`)."""
    if error.code == 403:
        g.denied_message = str(error.description or "Forbidden")
    if not is_api_request():
        return http_error_page(error)
    data = getattr(error, "data", None) or {}
    errors = data.get("errors", data.get("messages"))
    headers = {
        key: value
        for key, value in error.get_headers()
        if key.lower() not in ("content-type", "content-length")
    }
    headers.update(data.get("headers") or {})
    return json_error(
        error.code or 500,
        data.get("message", _message_for(error)),
        _flatten(errors) if errors is not None and (error.code or 500) != 400 else None,
        headers,
    )


def domain_error(exc: DomainError) -> Any:
    if exc.status == 403:
        g.denied_message = exc.message
    if not is_api_request():
        return domain_error_page(exc)
    response = json_error(exc.status, exc.message, exc.errors, exc.headers)
    if exc.code or exc.extra:
        body = response.get_json()
        body.update(exc.extra)
        if exc.code:
            body["code"] = exc.code
        response.set_data(json.dumps(body))
    return response


def integrity_error(exc: IntegrityError) -> Any:
    """A database invariant refused a write that raced past the services' checks (two
    registrations with one email, say): that is a conflict, never a 500."""
    db_session().rollback()
    if not is_api_request():
        return http_error_page(werkzeug_exceptions.Conflict(RACE_MESSAGE))
    return domain_error(Conflict(RACE_MESSAGE))


def _record_denied(status: int, message: str) -> None:
    record_denied(
        session=db_session(),
        actor=_actor(),
        method=request.method,
        path=request.path,
        status=status,
        message=message,
        ip=client_ip(),
    )


def _actor() -> User | None:
    """Who was refused: the API's bearer (authenticated before any 403) or the page user."""
    if is_api_request():
        actor: User | None = g.get("api_actor")
        return actor
    if not current_user.is_authenticated:
        return None
    user: User | None = getattr(current_user, "user", None)
    return user


def register_error_handlers(app: Flask) -> None:
    """After register_api: these replace flask-smorest's own HTTPException handler."""
    app.register_error_handler(DomainError, domain_error)
    app.register_error_handler(IntegrityError, integrity_error)
    app.register_error_handler(HTTPException, http_error)

    @app.after_request
    def record_refusal(response: Response) -> Response:
        """Every 403, page or API, whichever handler answered it, goes in the audit log."""
        if response.status_code == 403:
            body = response.get_json(silent=True) if response.is_json else None
            message = g.pop("denied_message", None) or (body or {}).get("message") or "Refused."
            _record_denied(403, str(message))
        return response
