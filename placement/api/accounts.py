"""Accounts: register, log in and out, who am I."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from placement.api.common import bearer_token, current_actor, documented_errors
from placement.extensions import client_ip, limiter, login_account_key, login_ip_key, login_limit
from placement.flask_db import db_session
from placement.services import accounts
from placement.services.validation import Email, text

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Accounts and tokens")


class MeSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    trainee_id = fields.Integer(allow_none=True)
    organisation_id = fields.Integer(allow_none=True)


class RegisterSchema(Schema):
    email = Email(required=True)
    password = text(128, required=True, min_length=1)
    name = text(200, required=True, min_length=1)
    role = fields.String(required=True, validate=validate.OneOf(accounts.SELF_SERVICE_ROLES))


class LoginSchema(Schema):
    email = text(254, required=True)
    password = text(1024, required=True)


class SignedInSchema(Schema):
    user = fields.Nested(MeSchema, required=True)
    token = fields.String(required=True, metadata={"description": "bearer token, shown once"})


def _signed_in(result: accounts.SignedIn) -> dict[str, Any]:
    return {"user": accounts.me(session=db_session(), actor=result.user), "token": result.token}


@blp.route("/auth/register")
class Register(MethodView):
    @blp.doc(security=[])
    @blp.arguments(RegisterSchema)
    @blp.response(201, SignedInSchema)
    @documented_errors(409)
    def post(self, args: dict[str, Any]) -> Any:
        """Create a trainee or employer account and sign in"""
        return _signed_in(accounts.register(session=db_session(), **args))


@blp.route("/auth/login")
class Login(MethodView):
    decorators = [
        limiter.limit(login_limit, key_func=login_ip_key),
        limiter.limit(login_limit, key_func=login_account_key),
    ]

    @blp.doc(security=[])
    @blp.arguments(LoginSchema)
    @blp.response(200, SignedInSchema)
    @documented_errors(401, 429)
    def post(self, args: dict[str, Any]) -> Any:
        """Exchange email and password for a bearer token (rate limited)"""
        return _signed_in(accounts.login(session=db_session(), ip=client_ip(), **args))


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.response(204)
    @documented_errors(401)
    def post(self) -> None:
        """Revoke the bearer token used for this request"""
        current_actor()
        accounts.logout(session=db_session(), token=bearer_token() or "")


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @documented_errors(401)
    def get(self) -> Any:
        """The signed-in account"""
        return accounts.me(session=db_session(), actor=current_actor())
