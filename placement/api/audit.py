"""The audit log, for coordinators."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from placement.api.common import (
    PageArgsSchema,
    allow,
    current_actor,
    documented_errors,
    page_args,
    page_of,
)
from placement.flask_db import db_session
from placement.services import audit
from placement.services.validation import query_ident, text

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Audit log")


class AuditEventSchema(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    actor_id = fields.Integer(allow_none=True)
    action = fields.String(required=True)
    object_type = fields.String()
    object_id = fields.String()
    detail = fields.Dict()
    ip = fields.String(allow_none=True)


class AuditQueryArgsSchema(PageArgsSchema):
    action = text(50)
    actor_id = query_ident()


@blp.route("/audit")
class AuditLog(MethodView):
    @allow("coordinator")
    @blp.arguments(AuditQueryArgsSchema, location="query")
    @blp.response(200, page_of(AuditEventSchema))
    @documented_errors(401)
    def get(self, args: dict[str, Any]) -> Any:
        """Who did what, when: logins that failed, decisions, imports, erasures, denied
        requests (coordinator; newest first)"""
        return audit.list_audit(
            session=db_session(),
            actor=current_actor(),
            action=args.get("action"),
            actor_id=args.get("actor_id"),
            **page_args(args),
        )
