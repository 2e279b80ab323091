"""The front door: home, sign in, register, sign out, and the shared static files."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from placement.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from placement.extensions import limiter, login_account_key, login_ip_key, login_limit
from placement.flask_db import db_session
from placement.services import accounts
from placement.web.common import (
    SignedIn,
    client_ip,
    field_errors,
    login_manager,
    text,
)

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)

HOME_BY_ROLE = {
    "coordinator": "coordinator.dashboard",
    "trainee": "trainee.profile",
    "employer": "employer.organisation",
}


@login_manager.user_loader
def load_user(session_id: str) -> SignedIn | None:
    user = accounts.authenticate(session=db_session(), token=session_id)
    return SignedIn(user, session_id) if user is not None else None


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an absolute or scheme-relative URL, nor one with
    control characters (a line break cannot go into the Location header)."""
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.get("/")
def home() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for(HOME_BY_ROLE[cast(SignedIn, current_user).role]))
    return render_template("home.html", title="Industry placements for MedTech trainees")


def _start_session(user: Any, token: str) -> None:
    # A fresh session at sign-in: nothing from before (a planted id, an old CSRF token)
    # carries over into the signed-in session.
    session.clear()
    login_user(SignedIn(user, token))
    session.permanent = False


# The same limits, and the same counters, as the API's login: pages are no way around them.
@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(login_limit, key_func=login_ip_key, methods=["POST"])
@limiter.limit(login_limit, key_func=login_account_key, methods=["POST"])
def sign_in() -> Any:
    values: dict[str, Any] = {}
    error = None
    status = 200
    if request.method == "POST":
        values = {"email": text(request.form, "email")}
        try:
            signed_in = accounts.login(
                session=db_session(),
                email=values["email"],
                password=str(request.form.get("password", "")),
                ip=client_ip(),
            )
        except Unauthorized as exc:
            error, status = exc.message, 401
        else:
            user = signed_in.user
            _start_session(user, signed_in.token)
            flash(f"Welcome, {user.name}.", "success")
            target = _safe_next(request.args.get("next")) or url_for(HOME_BY_ROLE[user.role])
            return redirect(target)
    return render_template("sign_in.html", title="Sign in", values=values, error=error), status


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    values: dict[str, Any] = {"role": "trainee"}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = {
            "name": text(request.form, "name"),
            "email": text(request.form, "email"),
            "role": text(request.form, "role"),
        }
        try:
            signed_in = accounts.register(
                session=db_session(),
                email=values["email"],
                name=values["name"],
                role=values["role"],
                password=str(request.form.get("password", "")),
            )
        except InvalidInput as exc:
            errors, status = field_errors(exc.errors), 422
        except Conflict as exc:
            errors, status = {"email": [exc.message]}, 409
        except Forbidden as exc:
            errors, status = {"role": [exc.message]}, 403
        else:
            _start_session(signed_in.user, signed_in.token)
            flash("Your account is ready.", "success")
            return redirect(url_for(HOME_BY_ROLE[signed_in.user.role]))
    return render_template(
        "register.html", title="Create an account", values=values, errors=errors
    ), status


@bp.post("/sign-out")
def sign_out() -> Any:
    if current_user.is_authenticated:
        accounts.logout(session=db_session(), token=cast(SignedIn, current_user).session_id)
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("web.sign_in"))
