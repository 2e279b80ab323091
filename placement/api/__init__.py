"""The JSON API under /api/v1 (flask-smorest): blueprints register here.

Errors come out in one shape everywhere under /api, `{"message": ..., "errors"?: ...}`;
placement/error_handlers.py translates them, for the pages too.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_smorest import Api
from markupsafe import escape

from placement.api import (
    accounts,
    audit,
    imports,
    jobs,
    notifications,
    organisations,
    placements,
    preferences,
    rounds,
    runs,
    slots,
    trainees,
    vetting,
)
from placement.api.common import BEARER, ErrorSchema, IdConverter, current_actor
from placement.config import API_PREFIX
from placement.errors import MfaEnrolmentRequired
from placement.extensions import init_extensions
from placement.flask_db import db_session
from placement.services import accounts as account_service
from placement.services.validation import Email, Text

PUBLIC_ENDPOINTS = frozenset(f"accounts.{name}" for name in accounts.PUBLIC)
MFA_ENROLMENT_ENDPOINTS = frozenset(f"accounts.{name}" for name in accounts.MFA_ENROLMENT)
# The docs page is the only one that needs images from data: URIs (Swagger UI's icons).
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


class PlacementApi(Api):
    ERROR_SCHEMA = ErrorSchema

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
        jobs,
        audit,
        vetting,
        notifications,
    )
    for module in modules:
        api.register_blueprint(module.blp)
    api_blueprints = {module.blp.name for module in modules}

    @app.before_request
    def authenticate() -> None:
        """Every API route but the public account ones needs a bearer token: 401 comes
        before any parsing or authorisation. A role that must use MFA may only enrol
        until it is on."""
        if request.blueprint in api_blueprints and request.endpoint not in PUBLIC_ENDPOINTS:
            actor = current_actor()
            if request.endpoint not in MFA_ENROLMENT_ENDPOINTS and (
                account_service.mfa_enrolment_required(session=db_session(), user=actor)
            ):
                raise MfaEnrolmentRequired()


def _id_param_schema(converter: Any) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": converter.max}
