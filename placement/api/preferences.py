"""A trainee's ranked preferences in a round."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from placement.api.common import allow, current_actor, documented_errors
from placement.flask_db import db_session
from placement.services import preferences
from placement.services.validation import MAX_ID, ident

F = TypeVar("F", bound=Callable[..., Any])

blp = Blueprint("preferences", __name__, url_prefix="/api/v1", description="Trainee preferences")


MAX_SLOT_IDS = 50


class PreferencesArgsSchema(Schema):
    slot_ids = fields.List(ident(), required=True, validate=validate.Length(max=MAX_SLOT_IDS))


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


def _valid_slot_ids(value: Any) -> bool:
    """Whether PreferencesArgsSchema would accept `value` as `slot_ids` unchanged."""
    return (
        isinstance(value, list)
        and len(value) <= MAX_SLOT_IDS
        and all(type(item) is int and 1 <= item <= MAX_ID for item in value)
    )


def fast_slot_ids(view: F) -> F:
    """Below `allow`, above `blp.arguments(PreferencesArgsSchema)`: a body the schema would
    load as it is (`{"slot_ids": [ids]}`, nothing else) goes straight to the view; any
    other body takes the schema's path, for its exact 422 messages. The route's
    documentation is the schema's, unchanged (deadline day: the schema's parsing cost
    more than the rules)."""
    parsed = view.__wrapped__  # type: ignore[attr-defined]  # flask-smorest's, below webargs

    @wraps(view)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        body = request.get_json(silent=True) if request.is_json else None
        if (
            isinstance(body, dict)
            and body.keys() == {"slot_ids"}
            and _valid_slot_ids(body["slot_ids"])
        ):
            return parsed(self, {"slot_ids": body["slot_ids"]}, *args, **kwargs)
        return view(self, *args, **kwargs)

    return cast(F, wrapper)


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
    @fast_slot_ids
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
