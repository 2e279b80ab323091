"""The application factory: one `register_*` step per concern."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.wrappers import Request
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from placement import jobs
from placement.api import register_api
from placement.config import Settings
from placement.db import get_engine
from placement.error_handlers import register_error_handlers
from placement.flask_db import db_session, register_db, settings_of
from placement.security import register_security_headers
from placement.web import register_web


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, but a request without the cookie (every API call)
    gets its new empty session without building the signing serializer, which Flask
    does on every request. The same session either way."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


class PlacementFlask(Flask):
    """Flask, remembering which hooks and views are plain functions: Flask asks
    `inspect.iscoroutinefunction` of each of them (about fifteen) on every request."""

    session_interface = CookieSessionInterface()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_functions: set[Callable[..., Any]] = set()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in self._sync_functions:
                return func
        except TypeError:  # unhashable: ask every time
            return super().ensure_sync(func)
        wrapped = super().ensure_sync(func)
        if wrapped is func:
            self._sync_functions.add(func)
        return wrapped


def create_app(
    settings: Settings | None = None, *, bind: Engine | Connection | None = None
) -> Flask:
    """Build the Flask app.

    `bind` lets tests run every request inside an outer transaction they roll back.
    """
    settings = settings or Settings.from_env()
    app = PlacementFlask(__name__, instance_path=str(settings.instance_dir))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        JSON_SORT_KEYS=False,
    )
    app.extensions["placement_settings"] = settings
    app.extensions["placement_bind"] = bind or get_engine(settings)
    register_db(app)
    register_security_headers(app)
    register_health(app)
    register_api(app)
    register_web(app)
    register_error_handlers(app)
    return app


def register_health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> Any:
        parts: dict[str, str] = {}
        try:
            db_session().execute(text("SELECT 1"))
            parts["database"] = "ok"
        except Exception:
            parts["database"] = "down"
        parts["broker"] = "ok" if jobs.broker_ok(settings_of(app)) else "down"
        down = [name for name, state in parts.items() if state != "ok"]
        body: dict[str, Any] = {"status": "ok" if not down else "unavailable", **parts}
        if down:
            body["message"] = f"unavailable: {', '.join(down)}"
        return jsonify(body), (503 if down else 200)
