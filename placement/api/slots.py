"""Placement slots, their applicants and the employers' rankings."""

from __future__ import annotations

from typing import Any

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
from placement.flask_db import current_settings, db_session
from placement.services import slots
from placement.services.validation import SlotFields, ident, query_ident, text

blp = Blueprint("slots", __name__, url_prefix="/api/v1", description="Placement slots")


class SlotSchema(SlotFields):
    id = fields.Integer(dump_only=True)
    postcode = text(
        10,
        allow_none=True,
        metadata={
            "description": "UK postcode (any case or spacing; stored as `B15 2TT`). Given "
            "without `latitude`/`longitude`, it sets them; with neither, the slot sits at "
            "its host's. A postcode that cannot be found is 422."
        },
    )
    round_id = fields.Integer(dump_only=True)
    filled = fields.Integer(dump_only=True, metadata={"description": "seats taken"})
    created_at = fields.DateTime(dump_only=True)


class SlotPatchSchema(SlotSchema):
    class Meta:
        exclude = ("organisation_id",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class SlotQueryArgsSchema(PageArgsSchema):
    discipline = text(100)
    organisation_id = query_ident()


class ApplicantSchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "trainee id"})
    name = fields.String(required=True)
    level = fields.Integer(allow_none=True)
    skills = fields.List(fields.String())
    provider = fields.String()
    rank = fields.Integer(
        allow_none=True,
        metadata={
            "description": "the trainee's own rank of this slot; shown to coordinators only "
            "(null for employers)"
        },
    )
    employer_rank = fields.Integer(allow_none=True)


class RankingsArgsSchema(Schema):
    trainee_ids = fields.List(ident(), required=True, validate=validate.Length(max=10000))


class RankingsSchema(Schema):
    slot_id = fields.Integer()
    trainee_ids = fields.List(fields.Integer(), required=True)


@blp.route("/rounds/<id:round_id>/slots")
class RoundSlots(MethodView):
    @blp.arguments(SlotQueryArgsSchema, location="query")
    @blp.response(200, page_of(SlotSchema))
    @documented_errors(401, 404)
    def get(self, args: dict[str, Any], round_id: int) -> Any:
        """The round's slots; filter by `discipline` or `organisation_id`"""
        return slots.list_slots(
            session=db_session(),
            actor=current_actor(),
            round_id=round_id,
            discipline=args.get("discipline"),
            organisation_id=args.get("organisation_id"),
            **page_args(args),
        )

    @allow("employer", "coordinator")
    @blp.arguments(SlotSchema)
    @blp.response(201, SlotSchema)
    @documented_errors(401, 404, 409)
    def post(self, args: dict[str, Any], round_id: int) -> Any:
        """Post a slot (employer of a verified organisation, or coordinator; round draft
        or open)"""
        return slots.create_slot(
            session=db_session(),
            actor=current_actor(),
            round_id=round_id,
            values=args,
            settings=current_settings(),
        )


@blp.route("/slots/<id:slot_id>")
class Slot(MethodView):
    @blp.response(200, SlotSchema)
    @documented_errors(401, 404)
    def get(self, slot_id: int) -> Any:
        """One slot"""
        return slots.get_slot(session=db_session(), actor=current_actor(), slot_id=slot_id)

    @allow("employer", "coordinator")
    @blp.arguments(SlotPatchSchema)
    @blp.response(200, SlotSchema)
    @documented_errors(401, 404, 409)
    def patch(self, args: dict[str, Any], slot_id: int) -> Any:
        """Change a slot (owner employer or coordinator; round draft or open)"""
        return slots.update_slot(
            session=db_session(),
            actor=current_actor(),
            slot_id=slot_id,
            values=args,
            settings=current_settings(),
        )

    @allow("employer", "coordinator")
    @blp.response(204)
    @documented_errors(401, 404, 409)
    def delete(self, slot_id: int) -> None:
        """Delete a slot (owner employer or coordinator; round draft or open)"""
        slots.delete_slot(session=db_session(), actor=current_actor(), slot_id=slot_id)


@blp.route("/slots/<id:slot_id>/applicants")
class Applicants(MethodView):
    @allow("employer", "coordinator")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_of(ApplicantSchema))
    @documented_errors(401, 404)
    def get(self, args: dict[str, Any], slot_id: int) -> Any:
        """Trainees who ranked this slot: name, level, skills (no contact details, location
        or DBS status)"""
        return slots.list_applicants(
            session=db_session(), actor=current_actor(), slot_id=slot_id, **page_args(args)
        )


@blp.route("/slots/<id:slot_id>/rankings")
class Rankings(MethodView):
    @allow("employer", "coordinator")
    @blp.response(200, RankingsSchema)
    @documented_errors(401, 404)
    def get(self, slot_id: int) -> Any:
        """The owner employer's ranking of the slot's applicants (owner or coordinator)"""
        return slots.get_rankings(session=db_session(), actor=current_actor(), slot_id=slot_id)

    @allow("employer")
    @blp.arguments(RankingsArgsSchema)
    @blp.response(200, RankingsSchema)
    @documented_errors(401, 404, 409)
    def put(self, args: dict[str, Any], slot_id: int) -> Any:
        """Rank the slot's applicants, first = most wanted (owner employer; round open)"""
        return slots.set_rankings(
            session=db_session(),
            actor=current_actor(),
            slot_id=slot_id,
            trainee_ids=args["trainee_ids"],
        )
