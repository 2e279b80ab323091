"""Approved placements, and withdrawing them."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from placement.api.common import (
    PageArgsSchema,
    allow,
    current_actor,
    documented_errors,
    page_args,
    page_of,
)
from placement.api.runs import PlacementSchema
from placement.flask_db import db_session
from placement.models import PLACEMENT_STATUSES
from placement.services import approvals, placements

blp = Blueprint("placements", __name__, url_prefix="/api/v1", description="Placements")


class PlacementViewSchema(Schema):
    id = fields.Integer(required=True)
    round_id = fields.Integer(required=True)
    trainee_id = fields.Integer(required=True)
    trainee_name = fields.String()
    slot_id = fields.Integer(required=True)
    slot_title = fields.String()
    organisation_id = fields.Integer()
    proposal_id = fields.Integer(allow_none=True)
    status = fields.String(validate=validate.OneOf(PLACEMENT_STATUSES))
    created_at = fields.DateTime()
    withdrawn_at = fields.DateTime(allow_none=True)


class PlacementQueryArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(PLACEMENT_STATUSES))


@blp.route("/rounds/<id:round_id>/placements")
class RoundPlacements(MethodView):
    @blp.arguments(PlacementQueryArgsSchema, location="query")
    @blp.response(200, page_of(PlacementViewSchema))
    @documented_errors(401, 404, 409)
    def get(self, args: dict[str, Any], round_id: int) -> Any:
        """Placements: coordinators all; after publication, employers those at their
        slots and trainees their own (409 before)"""
        return placements.list_placements(
            session=db_session(),
            actor=current_actor(),
            round_id=round_id,
            status=args.get("status"),
            **page_args(args),
        )


@blp.route("/rounds/<id:round_id>/placements.csv")
class RoundPlacementsCsv(MethodView):
    @allow("coordinator")
    @blp.response(200, {"type": "string"}, content_type="text/csv")
    @documented_errors(401, 404)
    def get(self, round_id: int) -> Any:
        """The round's live placements as CSV (coordinator)"""
        body = placements.placements_csv(
            session=db_session(), actor=current_actor(), round_id=round_id
        )
        return Response(
            body,
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="round-{round_id}-placements.csv"'
            },
        )


@blp.route("/placements/<id:placement_id>")
class Placement(MethodView):
    @allow("coordinator")
    @blp.response(200, PlacementSchema)
    @documented_errors(401, 404, 409)
    def delete(self, placement_id: int) -> Any:
        """Withdraw a placement; its seat is free again (coordinator)"""
        return approvals.withdraw_placement(
            session=db_session(), actor=current_actor(), placement_id=placement_id
        )
