"""Accounts: register and verify by link, log in and out, passwords, MFA, who am I."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from placement.api.common import allow, bearer_token, current_actor, documented_errors
from placement.extensions import account_mail_limit, client_ip, limiter
from placement.flask_db import db_session
from placement.services import accounts, mfa
from placement.services.sessions import Credential
from placement.services.validation import text

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Accounts and tokens")

# Routes that need no bearer token, and those a user who must enrol in MFA may still use.
PUBLIC = ("Register", "Verify", "Login", "PasswordReset", "PasswordResetConfirm")
MFA_ENROLMENT = ("Me", "MfaStart", "MfaConfirm", "Logout", "LogoutEverywhere")


class MeSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    trainee_id = fields.Integer(allow_none=True)
    organisation_id = fields.Integer(allow_none=True)
    mfa_enabled = fields.Boolean(required=True)


class RegisterSchema(Schema):
    # The service normalises (NFKC, case) before it judges the address.
    email = text(320, required=True, min_length=1)
    name = text(200, required=True, min_length=1)
    role = fields.String(required=True, validate=validate.OneOf(accounts.SELF_SERVICE_ROLES))


class MessageSchema(Schema):
    message = fields.String(required=True)


class VerifySchema(Schema):
    token = text(200, required=True, min_length=1)
    password = text(1024, required=True, min_length=1)


class LoginSchema(Schema):
    email = text(320, required=True)
    password = text(1024, required=True)
    otp = text(40, metadata={"description": "a current TOTP code, or an unused recovery code"})


class PasswordResetSchema(Schema):
    email = text(320, required=True, min_length=1)


class PasswordChangeSchema(Schema):
    current_password = text(1024, required=True)
    new_password = text(1024, required=True, min_length=1)


class SignedInSchema(Schema):
    user = fields.Nested(MeSchema, required=True)
    token = fields.String(required=True, metadata={"description": "bearer token, shown once"})


class MfaEnrolmentSchema(Schema):
    secret = fields.String(required=True, metadata={"description": "base32 TOTP secret"})
    otpauth_uri = fields.String(required=True)


class MfaCodeSchema(Schema):
    code = text(40, required=True, min_length=1)


class RecoveryCodesSchema(Schema):
    recovery_codes = fields.List(fields.String(), required=True)


class InvitationsSchema(Schema):
    sent = fields.Integer(required=True)


def _signed_in(result: accounts.SignedIn) -> dict[str, Any]:
    return {"user": accounts.me(session=db_session(), actor=result.user), "token": result.token}


def _credential() -> Credential:
    return Credential("api", bearer_token() or "")


@blp.route("/auth/register")
class Register(MethodView):
    decorators = [limiter.shared_limit(account_mail_limit, scope="account-mail")]

    @blp.doc(security=[])
    @blp.arguments(RegisterSchema)
    @blp.response(202, MessageSchema)
    @documented_errors(429)
    def post(self, args: dict[str, Any]) -> Any:
        """Start a sign-up: a link goes to the email (the same answer whatever it is)"""
        return {"message": accounts.register(session=db_session(), ip=client_ip(), **args)}


@blp.route("/auth/verify")
class Verify(MethodView):
    @blp.doc(security=[])
    @blp.arguments(VerifySchema)
    @blp.response(200, SignedInSchema)
    @documented_errors(400)
    def post(self, args: dict[str, Any]) -> Any:
        """Use a registration or invitation link: choose the password and sign in"""
        return _signed_in(accounts.verify(session=db_session(), ip=client_ip(), **args))


@blp.route("/auth/login")
class Login(MethodView):
    @blp.doc(security=[])
    @blp.arguments(LoginSchema)
    @blp.response(200, SignedInSchema)
    @documented_errors(401, 429)
    def post(self, args: dict[str, Any]) -> Any:
        """Exchange email, password (and the MFA code if on) for a bearer token"""
        return _signed_in(accounts.login(session=db_session(), ip=client_ip(), **args))


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.response(204)
    @documented_errors(401)
    def post(self) -> None:
        """Revoke the bearer token used for this request"""
        accounts.logout(
            session=db_session(), credential=_credential(), actor=current_actor(), ip=client_ip()
        )


@blp.route("/auth/logout-everywhere")
class LogoutEverywhere(MethodView):
    @blp.response(204)
    @documented_errors(401)
    def post(self) -> None:
        """Revoke every token and page session of the caller"""
        accounts.logout_everywhere(session=db_session(), actor=current_actor(), ip=client_ip())


@blp.route("/auth/password-reset")
class PasswordReset(MethodView):
    decorators = [limiter.shared_limit(account_mail_limit, scope="account-mail")]

    @blp.doc(security=[])
    @blp.arguments(PasswordResetSchema)
    @blp.response(202, MessageSchema)
    @documented_errors(429)
    def post(self, args: dict[str, Any]) -> Any:
        """Mail a link to choose a new password (the same answer whatever the email)"""
        return {
            "message": accounts.request_password_reset(
                session=db_session(), email=args["email"], ip=client_ip()
            )
        }


@blp.route("/auth/password-reset/confirm")
class PasswordResetConfirm(MethodView):
    @blp.doc(security=[])
    @blp.arguments(VerifySchema)
    @blp.response(200, MessageSchema)
    @documented_errors(400)
    def post(self, args: dict[str, Any]) -> Any:
        """Choose a new password with a reset link; every token and session ends"""
        accounts.confirm_password_reset(session=db_session(), ip=client_ip(), **args)
        return {"message": "Your password is changed. Sign in with the new one."}


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @documented_errors(401)
    def get(self) -> Any:
        """The signed-in account"""
        return render_me(accounts.me(session=db_session(), actor=current_actor()))


def render_me(me: accounts.Me) -> Response:
    """What MeSchema dumps, built directly: a returned Response skips flask-smorest's
    schema dump on this hot route (tests/api/test_direct_render.py holds them equal)."""
    return jsonify(
        {
            "id": me.id,
            "email": me.email,
            "name": me.name,
            "role": me.role,
            "trainee_id": me.trainee_id,
            "organisation_id": me.organisation_id,
            "mfa_enabled": bool(me.mfa_enabled),
        }
    )


@blp.route("/me/password")
class Password(MethodView):
    @blp.arguments(PasswordChangeSchema)
    @blp.response(200, MessageSchema)
    @documented_errors(400, 401, 429)
    def post(self, args: dict[str, Any]) -> Any:
        """Change the password; every other token and page session ends"""
        accounts.change_password(
            session=db_session(),
            actor=current_actor(),
            keep=_credential(),
            ip=client_ip(),
            **args,
        )
        return {"message": "Your password is changed; you are signed out everywhere else."}


@blp.route("/me/mfa")
class MfaStart(MethodView):
    @blp.response(201, MfaEnrolmentSchema)
    @documented_errors(401, 409)
    def post(self) -> Any:
        """Start TOTP enrolment: a new secret, pending until a code confirms it"""
        return mfa.start(session=db_session(), user=current_actor())


@blp.route("/me/mfa/confirm")
class MfaConfirm(MethodView):
    @blp.arguments(MfaCodeSchema)
    @blp.response(200, RecoveryCodesSchema)
    @documented_errors(400, 401, 409)
    def post(self, args: dict[str, Any]) -> Any:
        """Turn MFA on with a code from the app; the ten recovery codes, shown once"""
        codes = mfa.confirm(
            session=db_session(), user=current_actor(), code=args["code"], ip=client_ip()
        )
        return {"recovery_codes": codes}


@blp.route("/me/mfa/disable")
class MfaDisable(MethodView):
    @blp.arguments(MfaCodeSchema)
    @blp.response(204)
    @documented_errors(400, 401, 409)
    def post(self, args: dict[str, Any]) -> None:
        """Turn MFA off, with a current code or a recovery code"""
        mfa.disable(session=db_session(), user=current_actor(), code=args["code"], ip=client_ip())


@blp.route("/rounds/<id:round_id>/invitations")
class Invitations(MethodView):
    @allow("coordinator")
    @blp.response(202, InvitationsSchema)
    @documented_errors(401, 404)
    def post(self, round_id: int) -> Any:
        """Mail an invitation link to every imported trainee of the round without an account"""
        sent = accounts.invite_round(
            session=db_session(), actor=current_actor(), round_id=round_id, ip=client_ip()
        )
        return {"sent": sent}
