"""Rounds and their life: draft -> open -> closed -> published."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from placement.api.common import (
    PageArgsSchema,
    allow,
    current_actor,
    documented_errors,
    page_args,
    page_of,
)
from placement.flask_db import db_session
from placement.models import ROUND_STATUSES
from placement.services import rounds
from placement.services.validation import RoundFields

blp = Blueprint("rounds", __name__, url_prefix="/api/v1", description="Matching rounds")


class RoundSchema(RoundFields):
    id = fields.Integer(dump_only=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(ROUND_STATUSES))
    created_at = fields.DateTime(dump_only=True)


class RoundQueryArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(ROUND_STATUSES))


@blp.route("/rounds")
class Rounds(MethodView):
    @blp.arguments(RoundQueryArgsSchema, location="query")
    @blp.response(200, page_of(RoundSchema))
    @documented_errors(401)
    def get(self, args: dict[str, Any]) -> Any:
        """Rounds (trainees and employers see only rounds that are not drafts)"""
        return rounds.list_rounds(
            session=db_session(),
            actor=current_actor(),
            status=args.get("status"),
            **page_args(args),
        )

    @allow("coordinator")
    @blp.arguments(RoundSchema)
    @blp.response(201, RoundSchema)
    @documented_errors(401)
    def post(self, args: dict[str, Any]) -> Any:
        """Create a round, in `draft` (coordinator)"""
        return rounds.create_round(session=db_session(), actor=current_actor(), values=args)


@blp.route("/rounds/<id:round_id>")
class Round(MethodView):
    @blp.response(200, RoundSchema)
    @documented_errors(401, 404)
    def get(self, round_id: int) -> Any:
        """One round"""
        return rounds.get_round_for(session=db_session(), actor=current_actor(), round_id=round_id)


def _transition(action: str, summary: str) -> type[MethodView]:
    class Transition(MethodView):
        @allow("coordinator")
        @blp.response(200, RoundSchema)
        @documented_errors(401, 404, 409)
        def post(self, round_id: int) -> Any:
            return rounds.transition_round(
                session=db_session(), actor=current_actor(), round_id=round_id, action=action
            )

    Transition.post.__doc__ = summary
    Transition.__name__ = f"{action.capitalize()}Round"
    Transition.__qualname__ = Transition.__name__
    return Transition


blp.route("/rounds/<id:round_id>/open")(
    _transition("open", "Open a draft round for slots and preferences (coordinator)")
)
blp.route("/rounds/<id:round_id>/close")(
    _transition("close", "Close an open round so it can be matched (coordinator)")
)
blp.route("/rounds/<id:round_id>/publish")(
    _transition("publish", "Publish a closed round's placements (coordinator)")
)
