"""The audit log, for coordinators."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validates_schema

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
    detail = fields.Dict(
        metadata={
            "description": "what else is known; a change keeps `changes`: "
            '`{field: {"before": ..., "after": ...}}` (secrets never appear; health '
            'needs read "(hidden)")'
        }
    )
    ip = fields.String(allow_none=True)
    round_id = fields.Integer(allow_none=True, metadata={"description": "the round it is about"})
    trainee_id = fields.Integer(
        allow_none=True, metadata={"description": "the trainee it is about"}
    )


class AuditQueryArgsSchema(PageArgsSchema):
    action = text(
        50,
        metadata={"description": "an action (`proposal.approve`) or a family of them (`proposal`)"},
    )
    actor_id = query_ident(metadata={"description": "the account that acted"})
    round_id = query_ident(metadata={"description": "events about this round"})
    trainee_id = query_ident(metadata={"description": "events about this trainee"})
    person = text(
        200,
        metadata={
            "description": "part of a name or email: of who acted, or of the trainee or "
            "account the event is about"
        },
    )
    since = fields.Date(metadata={"description": "on or after this day (UTC), YYYY-MM-DD"})
    until = fields.Date(metadata={"description": "on or before this day (UTC), YYYY-MM-DD"})

    @validates_schema
    def _dates_ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError("must not be before since", field_name="until")


@blp.route("/audit")
class AuditLog(MethodView):
    @allow("coordinator")
    @blp.arguments(AuditQueryArgsSchema, location="query")
    @blp.response(200, page_of(AuditEventSchema))
    @documented_errors(401)
    def get(self, args: dict[str, Any]) -> Any:
        """Who changed what, when, from where: sign-ins, decisions with before/after values,
        imports, erasures, denied requests (coordinator; newest first; filter by round,
        person, action and dates)"""
        return audit.list_audit(
            session=db_session(),
            actor=current_actor(),
            filters=audit.AuditFilters(
                action=args.get("action"),
                actor_id=args.get("actor_id"),
                round_id=args.get("round_id"),
                trainee_id=args.get("trainee_id"),
                person=args.get("person"),
                since=args.get("since"),
                until=args.get("until"),
            ),
            page=page_args(args)["page"],
            per_page=page_args(args)["per_page"],
        )
