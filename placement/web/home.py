"""The front door and the account: home, sign in (with a second step for MFA), register
and verify by link, password reset and change, sign out (here or everywhere), MFA."""

from __future__ import annotations

import time
from typing import Any, cast
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from placement.errors import (
    InvalidInput,
    InvalidLink,
    MfaRequired,
    TooManyAttempts,
    Unauthorized,
    WrongCode,
    WrongPassword,
)
from placement.extensions import account_mail_limit, limiter
from placement.flask_db import db_session
from placement.services import accounts, mfa
from placement.services.sessions import Credential
from placement.web.common import (
    Attempt,
    SignedIn,
    actor,
    attempt,
    client_ip,
    login_manager,
    role_required,
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
ALL_ROLES = tuple(HOME_BY_ROLE)
# How long the second sign-in step waits for the code after a right password.
MFA_STEP_SECONDS = 300
# Pages a user who must turn on MFA may still open.
MFA_ENROLMENT_ENDPOINTS = frozenset(
    {"web.static", "web.account_mfa", "web.sign_out", "web.home", "static"}
)
_mail_limit = limiter.shared_limit(account_mail_limit, scope="account-mail", methods=["POST"])


@login_manager.user_loader
def load_user(session_id: str) -> SignedIn | None:
    user = accounts.authenticate_session(session=db_session(), session_id=session_id)
    return SignedIn(user, session_id) if user is not None else None


@bp.before_app_request
def require_mfa_enrolment() -> Any:
    """A role that must use MFA sees only the enrolment page until it is on."""
    if request.path.startswith("/api/") or request.endpoint in MFA_ENROLMENT_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return None
    if accounts.mfa_enrolment_required(session=db_session(), user=actor()):
        flash("Your role must use two-step sign-in. Set it up to carry on.", "warning")
        return redirect(url_for("web.account_mfa"))
    return None


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an absolute or scheme-relative URL, nor one with
    control characters (a line break cannot go into the Location header)."""
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _credential() -> Credential:
    return Credential("web", cast(SignedIn, current_user).session_id)


@bp.get("/")
def home() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for(HOME_BY_ROLE[cast(SignedIn, current_user).role]))
    return render_template("home.html", title="Industry placements for MedTech trainees")


def _start_session(signed_in: accounts.SignedIn, target: str | None = None) -> Any:
    # A fresh session at sign-in: nothing from before (a planted id, an old CSRF token)
    # carries over into the signed-in session. The cookie holds only the page session's
    # random id, which the API does not accept as a bearer token.
    session.clear()
    login_user(SignedIn(signed_in.user, signed_in.token))
    session.permanent = False
    flash(f"Welcome, {signed_in.user.name}.", "success")
    return redirect(_safe_next(target) or url_for(HOME_BY_ROLE[signed_in.user.role]))


# --- signing in ----------------------------------------------------------------------------


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    values: dict[str, Any] = {}
    error = None
    status = 200
    if request.method == "POST":
        values = {"email": text(request.form, "email")}
        signed_in = attempt(
            lambda: accounts.login(
                session=db_session(),
                email=values["email"],
                password=str(request.form.get("password", "")),
                ip=client_ip(),
                kind="web",
            ),
            refused=(TooManyAttempts, Unauthorized),
        )
        if signed_in.value is not None:
            return _start_session(signed_in.value, request.args.get("next"))
        if isinstance(signed_in.refusal, MfaRequired):
            session.clear()
            session["mfa_pending"] = {
                "user_id": signed_in.refusal.user_id,
                "at": time.time(),
                "next": _safe_next(request.args.get("next")),
            }
            return redirect(url_for("web.sign_in_code"))
        error, status = _refusal_message(signed_in), signed_in.status
    return render_template("sign_in.html", title="Sign in", values=values, error=error), status


def _refusal_message(refused: Attempt[Any]) -> str:
    """The refusal's message; for too many attempts, how long to wait, in minutes."""
    if not isinstance(refused.refusal, TooManyAttempts):
        return refused.message
    minutes = max(1, round(refused.refusal.retry_after / 60))
    return (
        f"Too many failed attempts. Wait {minutes} minute{'s' if minutes != 1 else ''}, "
        "then try again, or reset your password by email."
    )


@bp.route("/sign-in/code", methods=["GET", "POST"])
def sign_in_code() -> Any:
    pending = session.get("mfa_pending")
    if (
        not isinstance(pending, dict)
        or not isinstance(pending.get("user_id"), int)
        or time.time() - float(pending.get("at", 0)) > MFA_STEP_SECONDS
    ):
        session.pop("mfa_pending", None)
        flash("Sign in again: the code step has timed out.", "warning")
        return redirect(url_for("web.sign_in"))
    error = None
    status = 200
    if request.method == "POST":
        signed_in = attempt(
            lambda: accounts.login_second_step(
                session=db_session(),
                user_id=pending["user_id"],
                otp=text(request.form, "code"),
                ip=client_ip(),
            ),
            refused=(TooManyAttempts, Unauthorized),
        )
        if signed_in.value is not None:
            return _start_session(signed_in.value, pending.get("next"))
        if isinstance(signed_in.refusal, Unauthorized) and not isinstance(
            signed_in.refusal, MfaRequired
        ):
            session.pop("mfa_pending", None)
            return redirect(url_for("web.sign_in"))
        error, status = _refusal_message(signed_in), signed_in.status
    return render_template("sign_in_code.html", title="Enter your code", error=error), status


@bp.post("/sign-out")
def sign_out() -> Any:
    if current_user.is_authenticated:
        accounts.logout(
            session=db_session(), credential=_credential(), actor=actor(), ip=client_ip()
        )
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("web.sign_in"))


# --- registering by link -----------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@_mail_limit
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
        registered = attempt(
            lambda: accounts.register(
                session=db_session(),
                email=values["email"],
                name=values["name"],
                role=values["role"],
                ip=client_ip(),
            )
        )
        if registered.ok:
            return redirect(url_for("web.check_email"))
        errors, status = registered.errors, registered.status
    return render_template(
        "register.html", title="Create an account", values=values, errors=errors
    ), status


@bp.get("/check-email")
def check_email() -> Any:
    return render_template("check_email.html", title="Check your email")


@bp.route("/verify", methods=["GET", "POST"])
def verify() -> Any:
    """Opening the link shows the form; only the form's POST uses the token."""
    token = text(request.form if request.method == "POST" else request.args, "token")
    purposes = ("register", "invite", "confirm")
    link = accounts.peek_link(session=db_session(), token=token, purposes=purposes)
    if link is None:
        return _link_expired("verify")
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        signed_in = attempt(
            lambda: accounts.verify(
                session=db_session(),
                token=token,
                password=str(request.form.get("password", "")),
                kind="web",
                ip=client_ip(),
            ),
            refused=(InvalidInput, InvalidLink),
        )
        if signed_in.value is not None:
            return _start_session(signed_in.value)
        if isinstance(signed_in.refusal, InvalidLink):
            return _link_expired("verify", signed_in.message)
        errors, status = signed_in.errors, signed_in.status
    return render_template(
        "verify.html", title="Choose your password", link=link, token=token, errors=errors
    ), status


def _link_expired(kind: str, message: str | None = None) -> Any:
    return render_template(
        "link_expired.html",
        title="This link has expired",
        kind=kind,
        message=message or InvalidLink.default_message,
    ), 400


@bp.route("/verify/resend", methods=["GET", "POST"])
@_mail_limit
def resend() -> Any:
    values = {"email": text(request.form, "email")} if request.method == "POST" else {}
    if request.method == "POST":
        accounts.resend_verification(session=db_session(), email=values["email"], ip=client_ip())
        return redirect(url_for("web.check_email"))
    return render_template("resend.html", title="Send the link again", values=values)


# --- passwords ---------------------------------------------------------------------------


@bp.route("/password-reset", methods=["GET", "POST"])
@_mail_limit
def password_reset() -> Any:
    values = {"email": text(request.form, "email")} if request.method == "POST" else {}
    if request.method == "POST":
        message = accounts.request_password_reset(
            session=db_session(), email=values["email"], ip=client_ip()
        )
        return render_template("check_email.html", title="Check your email", message=message)
    return render_template("password_reset.html", title="Reset your password", values=values)


@bp.route("/password-reset/confirm", methods=["GET", "POST"])
def password_reset_confirm() -> Any:
    """Never limited by the login limiter: the owner's way back in."""
    token = text(request.form if request.method == "POST" else request.args, "token")
    if accounts.peek_link(session=db_session(), token=token, purposes=("reset",)) is None:
        return _link_expired("reset")
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        reset = attempt(
            lambda: accounts.confirm_password_reset(
                session=db_session(),
                token=token,
                password=str(request.form.get("password", "")),
                ip=client_ip(),
            ),
            refused=(InvalidInput, InvalidLink),
        )
        if reset.ok:
            logout_user()
            session.clear()
            flash("Your password is changed. Sign in with the new one.", "success")
            return redirect(url_for("web.sign_in"))
        if isinstance(reset.refusal, InvalidLink):
            return _link_expired("reset", reset.message)
        errors, status = reset.errors, reset.status
    return render_template(
        "password_reset_confirm.html", title="Choose a new password", token=token, errors=errors
    ), status


@bp.get("/account")
@role_required(*ALL_ROLES)
def account() -> Any:
    return render_template("account.html", title="Your account", errors={}, user=actor())


@bp.post("/account/password")
@role_required(*ALL_ROLES)
def account_password() -> Any:
    changed = attempt(
        lambda: accounts.change_password(
            session=db_session(),
            actor=actor(),
            current_password=str(request.form.get("current_password", "")),
            new_password=str(request.form.get("new_password", "")),
            keep=_credential(),
            ip=client_ip(),
        ),
        refused=(WrongPassword, InvalidInput, TooManyAttempts),
    )
    errors = changed.errors
    if isinstance(changed.refusal, WrongPassword | TooManyAttempts):
        errors = {"current_password": [_refusal_message(changed)]}
    if errors:
        return render_template(
            "account.html", title="Your account", errors=errors, user=actor()
        ), 422 if "new_password" in errors else 400
    flash("Your password is changed; you are signed out everywhere else.", "success")
    return redirect(url_for("web.account"))


@bp.post("/account/sign-out-everywhere")
@role_required(*ALL_ROLES)
def sign_out_everywhere() -> Any:
    accounts.logout_everywhere(session=db_session(), actor=actor(), ip=client_ip())
    logout_user()
    session.clear()
    flash("You are signed out everywhere, on this device too.", "success")
    return redirect(url_for("web.sign_in"))


# --- two-step sign-in (MFA) ------------------------------------------------------------------


@bp.route("/account/mfa", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def account_mfa() -> Any:
    """Set up: a QR code and the secret; confirming with a code shows the recovery codes
    (once). Turning off needs a code too."""
    user = actor()
    error = None
    status = 200
    if request.method == "POST":
        code = text(request.form, "code")
        if text(request.form, "action") == "disable":
            disabled = attempt(
                lambda: mfa.disable(session=db_session(), user=user, code=code, ip=client_ip()),
                refused=(WrongCode,),
            )
            if disabled.ok:
                flash("Two-step sign-in is off.", "success")
                return redirect(url_for("web.account"))
            error, status = disabled.message, disabled.status
        else:
            codes = attempt(
                lambda: mfa.confirm(session=db_session(), user=user, code=code, ip=client_ip()),
                refused=(WrongCode,),
            )
            if codes.value is not None:
                return render_template(
                    "recovery_codes.html", title="Your recovery codes", codes=codes.value
                )
            error, status = codes.message, codes.status
    enrolment = None
    if not user.mfa_enabled:
        enrolment = mfa.pending(user) or mfa.start(session=db_session(), user=user)
    return render_template(
        "mfa.html", title="Two-step sign-in", user=user, enrolment=enrolment, error=error
    ), status
