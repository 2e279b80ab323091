"""Server-rendered pages for trainees, employers and coordinators."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_wtf.csrf import CSRFError

from placement.config import API_PREFIX
from placement.services.pages.words import run_label, uk_date
from placement.web.common import csrf, login_manager, nav_items
from placement.web.errors import render_error


def register_web(app: Flask) -> None:
    from placement.web import coordinator, employer, home, notifications, trainee

    # CSRF is checked for every page form; the JSON API under /api authenticates with
    # bearer tokens (no ambient cookie), so it is left out of the check.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    login_manager.init_app(app)

    @app.before_request
    def check_csrf() -> None:
        if request.method in {"GET", "HEAD", "OPTIONS", "TRACE"}:
            return
        if request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/"):
            return
        if not app.config.get("WTF_CSRF_ENABLED", True):
            return
        csrf.protect()

    @app.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError) -> Any:
        return render_error(
            400,
            "This form has expired or was not sent from this site. "
            "Go back, reload the page and try again.",
        )

    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.filters["ukdate"] = uk_date
    app.jinja_env.filters["runlabel"] = run_label
    blueprints = [home.bp, coordinator.bp, trainee.bp, employer.bp, notifications.bp]
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
