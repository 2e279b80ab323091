"""Approved placements and their offers: listing, the trainee's answer, withdrawing, the
round's CSV and offer report."""

from __future__ import annotations

from typing import Any

from flask import Response, stream_with_context
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
from placement.services import approvals, offers, placements
from placement.services.offers import DECLINE_REASON_MAX
from placement.services.spreadsheets import XLSX_TYPE
from placement.services.validation import text

blp = Blueprint("placements", __name__, url_prefix="/api/v1", description="Placements")


class PlacementViewSchema(PlacementSchema):
    trainee_name = fields.String()
    slot_title = fields.String()
    organisation_id = fields.Integer()
    trainee_email = fields.String(
        allow_none=True,
        metadata={"description": "for the host, only once the offer is accepted"},
    )
    trainee_needs = fields.String(
        allow_none=True,
        metadata={
            "description": "for the host, only once the offer is accepted and if the trainee "
            "shares their needs (`share_needs`)"
        },
    )
    decline_reason = fields.String(
        allow_none=True, metadata={"description": "the coordinator and the trainee only"}
    )


class DeclineArgsSchema(Schema):
    reason = text(DECLINE_REASON_MAX, allow_none=True)


class OfferCountsSchema(Schema):
    group = fields.String()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    total = fields.Integer()


class FreeSeatSchema(Schema):
    slot_id = fields.Integer()
    slot_title = fields.String()
    organisation_name = fields.String()
    capacity = fields.Integer()
    free = fields.Integer()


class RoundReportSchema(Schema):
    round_id = fields.Integer()
    round_name = fields.String()
    round_status = fields.String()
    overall = fields.Nested(OfferCountsSchema)
    by_host_kind = fields.List(fields.Nested(OfferCountsSchema))
    by_provider = fields.List(fields.Nested(OfferCountsSchema))
    free_seats = fields.List(fields.Nested(FreeSeatSchema))
    free_seat_total = fields.Integer()
    unplaced = fields.Integer(
        metadata={"description": "the round's trainees with no open or accepted offer"}
    )


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
        """The round's placements with their offers' status and dates, as CSV, streamed from
        the first byte (coordinator)"""
        chunks = placements.placements_csv_stream(
            session=db_session(), actor=current_actor(), round_id=round_id
        )
        return Response(
            stream_with_context(chunks),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="round-{round_id}-placements.csv"'
            },
        )


@blp.route("/rounds/<id:round_id>/placements.xlsx")
class RoundPlacementsXlsx(MethodView):
    @allow("coordinator")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=XLSX_TYPE)
    @documented_errors(401, 404)
    def get(self, round_id: int) -> Any:
        """The round's placements as the CSV export has them, as an XLSX workbook
        (coordinator)"""
        body = placements.placements_xlsx(
            session=db_session(), actor=current_actor(), round_id=round_id
        )
        return Response(
            body,
            mimetype=XLSX_TYPE,
            headers={
                "Content-Disposition": f'attachment; filename="round-{round_id}-placements.xlsx"'
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


@blp.route("/placements/<id:placement_id>/accept")
class AcceptOffer(MethodView):
    @allow("trainee")
    @blp.response(200, PlacementSchema)
    @documented_errors(401, 404, 409)
    def post(self, placement_id: int) -> Any:
        """Accept one's offer (the placed trainee); 409 unless offered and not past its
        deadline"""
        return offers.accept_offer(
            session=db_session(), actor=current_actor(), placement_id=placement_id
        )


@blp.route("/placements/<id:placement_id>/decline")
class DeclineOffer(MethodView):
    @allow("trainee")
    @blp.arguments(DeclineArgsSchema)
    @blp.response(200, PlacementSchema)
    @documented_errors(401, 404, 409)
    def post(self, args: dict[str, Any], placement_id: int) -> Any:
        """Decline one's offer (the placed trainee); the seat is free again at once; 409
        unless offered"""
        return offers.decline_offer(
            session=db_session(),
            actor=current_actor(),
            placement_id=placement_id,
            reason=args.get("reason"),
        )


@blp.route("/rounds/<id:round_id>/report")
class RoundReport(MethodView):
    @allow("coordinator")
    @blp.response(200, RoundReportSchema)
    @documented_errors(401, 404)
    def get(self, round_id: int) -> Any:
        """Offers by status, host kind and training provider, and the free seats
        (coordinator)"""
        return placements.round_report(
            session=db_session(), actor=current_actor(), round_id=round_id
        )


@blp.route("/rounds/<id:round_id>/report.csv")
class RoundReportCsv(MethodView):
    @allow("coordinator")
    @blp.response(200, {"type": "string"}, content_type="text/csv")
    @documented_errors(401, 404)
    def get(self, round_id: int) -> Any:
        """The round's offer report as CSV: a row per group, a column per status
        (coordinator)"""
        body = placements.round_report_csv(
            session=db_session(), actor=current_actor(), round_id=round_id
        )
        return Response(
            body,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="round-{round_id}-report.csv"'},
        )
