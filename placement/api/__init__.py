"""The JSON API under /api/v1 (flask-smorest): blueprints register here.

Errors come out in one shape everywhere under /api, `{"message": ..., "errors"?: ...}`:
domain errors from the services, webargs/marshmallow validation (422, `errors` keyed by
field), malformed JSON (400), and werkzeug's own (401/404/405/413/429...).
"""

from __future__ import annotations

import http
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from flask_smorest import Api
from markupsafe import escape
from sqlalchemy.exc import IntegrityError
from werkzeug import exceptions as werkzeug_exceptions
from werkzeug.exceptions import HTTPException

from placement.api.base import BEARER, ErrorSchema, IdConverter
from placement.errors import Conflict, DomainError
from placement.extensions import init_extensions
from placement.services.validation import Email, Text

API_PREFIX = "/api/"
PUBLIC_ENDPOINTS = frozenset({"accounts.Register", "accounts.Login"})
# The docs page is the only one that needs images from data: URIs (Swagger UI's icons).
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def _flatten(messages: Any) -> Any:
    """webargs keys errors by location (`{"json": {...}, "query": {...}}`); clients want
    them keyed by field."""
    if (
        isinstance(messages, dict)
        and messages
        and all(k in ("json", "query", "form", "files", "view_args", "headers") for k in messages)
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
    description = error.description or http.HTTPStatus(code).phrase
    return str(description)


class PlacementApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        if not request.path.startswith(API_PREFIX):
            handler = current_app.extensions.get("placement_html_error_handler")
            return handler(error) if handler is not None else error
        body: dict[str, Any] = {"message": _message_for(error)}
        data = getattr(error, "data", None) or {}
        if "message" in data:
            body["message"] = data["message"]
        errors = data.get("errors", data.get("messages"))
        if errors is not None and (error.code or 500) != 400:
            body["errors"] = _flatten(errors)
        headers = {
            k: v
            for k, v in error.get_headers()
            if k.lower() not in ("content-type", "content-length")
        }
        headers.update(data.get("headers") or {})
        if error.code == 401:
            headers.setdefault("WWW-Authenticate", "Bearer")
        response = jsonify(body)
        response.status_code = error.code or 500
        response.headers.update(headers)
        return response

    def _openapi_swagger_ui(self) -> Response:
        """Swagger UI without inline script: started by /static/swagger-ui/init.js."""
        base = self._swagger_ui_url
        spec_url = f"{API_PREFIX.rstrip('/')}/{self._app.config['OPENAPI_JSON_PATH']}"
        html = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(self.spec.title)}</title>"
            f"<link rel='stylesheet' href='{escape(base)}swagger-ui.css'></head><body>"
            f"<div id='swagger-ui-container' data-spec-url='{escape(spec_url)}'></div>"
            f"<script src='{escape(base)}swagger-ui-bundle.js'></script>"
            f"<script src='{escape(base)}swagger-ui-standalone-preset.js'></script>"
            f"<script src='{escape(base)}init.js'></script>"
            "</body></html>"
        )
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = DOCS_CSP
        return response


def register_api(app: Flask) -> None:
    app.config.update(
        API_TITLE="Placement API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="v1/openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/static/swagger-ui/",
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "Matching UK MedTech trainees to industry placements. Authenticate with "
                    "`Authorization: Bearer <token>` from /auth/register or /auth/login."
                )
            },
            "security": [{BEARER: []}],
            "servers": [{"url": "/"}],
        },
    )
    init_extensions(app)
    app.url_map.converters["id"] = IdConverter
    api = PlacementApi(app)
    api.register_converter(IdConverter, _id_param_schema)
    api.register_field(Text, "string", None)
    api.register_field(Email, "string", "email")
    api.spec.components.security_scheme(BEARER, {"type": "http", "scheme": "bearer"})
    app.extensions["placement_api"] = api

    from placement.api import (  # they use the app module, which imports this one
        accounts,
        audit,
        imports,
        notifications,
        organisations,
        placements,
        preferences,
        rounds,
        runs,
        slots,
        trainees,
    )
    from placement.api.common import current_actor

    modules = (
        accounts,
        organisations,
        rounds,
        slots,
        trainees,
        preferences,
        runs,
        placements,
        imports,
        audit,
        notifications,
    )
    for module in modules:
        api.register_blueprint(module.blp)
    api_blueprints = {module.blp.name for module in modules}

    @app.before_request
    def authenticate() -> None:
        """Every API route but register and login needs a bearer token: 401 comes before
        any parsing or authorisation."""
        if request.blueprint in api_blueprints and request.endpoint not in PUBLIC_ENDPOINTS:
            current_actor()

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError) -> Any:
        """A database invariant refused a write that raced past the services' checks
        (two registrations with one email, say): that is a conflict, never a 500."""
        from placement.flask_db import db_session

        db_session().rollback()
        message = "That conflicts with data saved meanwhile; reload and try again."
        if not request.path.startswith(API_PREFIX):
            handler = current_app.extensions.get("placement_html_error_handler")
            if handler is not None:
                return handler(werkzeug_exceptions.Conflict(message))
        return domain_error(Conflict(message))

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        body: dict[str, Any] = {"message": exc.message}
        if exc.errors is not None:
            body["errors"] = exc.errors
        if exc.status == 403:
            _record_denied(exc)
        response = jsonify(body)
        response.status_code = exc.status
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response


def _id_param_schema(converter: Any) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": converter.max}


def _record_denied(exc: DomainError) -> None:
    from placement.api.common import optional_actor
    from placement.extensions import client_ip
    from placement.flask_db import db_session
    from placement.services.audit import record_denied

    record_denied(
        session=db_session(),
        actor=optional_actor(),
        method=request.method,
        path=request.path,
        status=exc.status,
        message=exc.message,
        ip=client_ip(),
    )
