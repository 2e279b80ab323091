"""Flask extensions shared by the API and the pages, initialised inside the app factory.

The limiter is one module-level object so that views can decorate themselves with
`@limiter.limit(...)`; `init_extensions(app)` binds it to an app with that app's storage
(`settings.ratelimit_storage_uri`: Redis when `REDIS_URL` is set, memory otherwise).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter


def client_ip() -> str:
    """The caller's address. Behind a proxy, configure werkzeug's ProxyFix in the server."""
    return request.remote_addr or "unknown"


def account_mail_limit() -> str:
    """Registrations, resends and reset requests from one address (API and pages share
    the count: their limits use one scope)."""
    settings: Any = current_app.extensions["placement_settings"]
    return str(settings.ratelimit_register)


limiter = Limiter(key_func=client_ip, key_prefix="placement")


def init_extensions(app: Flask) -> None:
    settings: Any = app.extensions["placement_settings"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.ratelimit_storage_uri)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    if "placement_limiter" not in app.extensions:
        limiter.init_app(app)
        app.extensions["placement_limiter"] = limiter
        if not _app_wide_limits(app):
            # Every limit here decorates its view, and a decorated limit is checked by its
            # decorator. Flask-Limiter's before_request hook looks for default,
            # application-wide and meta limits only; with none configured it would run on
            # every request to find nothing, so it is taken off.
            app.before_request_funcs[None].remove(limiter._check_request_limit)


def _app_wide_limits(app: Flask) -> bool:
    """Whether any limit is checked by the before_request hook: default, application,
    meta or blueprint limits (from the app's config or the Limiter's arguments)."""
    keys = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")
    manager = limiter.limit_manager
    return (
        any(app.config.get(key) for key in keys)
        or bool(manager.default_limits or manager.application_limits)
        or bool(getattr(limiter, "_meta_limits", None))
        or bool(getattr(manager, "_blueprint_limits", None))
    )
