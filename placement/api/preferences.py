"""A trainee's ranked preferences in a round."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from placement.api.common import allow, current_actor, documented_errors
from placement.flask_db import db_session
from placement.services import preferences
from placement.services.validation import ident

blp = Blueprint("preferences", __name__, url_prefix="/api/v1", description="Trainee preferences")


class PreferencesArgsSchema(Schema):
    slot_ids = fields.List(ident(), required=True, validate=validate.Length(max=50))


class PreferenceWarningSchema(Schema):
    slot_id = fields.Integer(required=True)
    message = fields.String(required=True)


class PreferencesSchema(Schema):
    round_id = fields.Integer()
    slot_ids = fields.List(fields.Integer(), required=True)
    updated_at = fields.DateTime(allow_none=True)
    warnings = fields.List(
        fields.Nested(PreferenceWarningSchema),
        metadata={"description": "ranked slots you cannot be matched to, and why"},
    )


def _render(found: preferences.Preferences) -> Response:
    """What PreferencesSchema dumps (the documented shape), built directly: these are the
    deadline-day routes, and a returned Response skips flask-smorest's schema dump."""
    return jsonify(
        {
            "round_id": found.round_id,
            "slot_ids": list(found.slot_ids),
            "updated_at": found.updated_at.isoformat() if found.updated_at else None,
            "warnings": [
                {"slot_id": int(w["slot_id"]), "message": str(w["message"])} for w in found.warnings
            ],
        }
    )


@blp.route("/rounds/<id:round_id>/preferences")
class Preferences(MethodView):
    @allow("trainee")
    @blp.response(200, PreferencesSchema)
    @documented_errors(401, 404)
    def get(self, round_id: int) -> Any:
        """Your ranked list for the round (trainee)"""
        return _render(
            preferences.get_preferences(
                session=db_session(), actor=current_actor(), round_id=round_id
            )
        )

    @allow("trainee")
    @blp.arguments(PreferencesArgsSchema)
    @blp.response(200, PreferencesSchema)
    @documented_errors(401, 404, 409)
    def put(self, args: dict[str, Any], round_id: int) -> Any:
        """Replace your ranked list, first = most wanted (trainee; round open)"""
        return _render(
            preferences.set_preferences(
                session=db_session(),
                actor=current_actor(),
                round_id=round_id,
                slot_ids=args["slot_ids"],
            )
        )
