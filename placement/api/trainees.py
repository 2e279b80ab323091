"""Trainee profiles, the trainee's data export and erasure."""

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
from placement.flask_db import current_settings, db_session
from placement.services import privacy, trainees
from placement.services.validation import TraineeFields, query_ident, text

blp = Blueprint("trainees", __name__, url_prefix="/api/v1", description="Trainees")


class TraineeSchema(TraineeFields):
    id = fields.Integer(dump_only=True)
    postcode = text(
        10,
        allow_none=True,
        metadata={
            "description": "UK postcode (any case or spacing; stored as `B15 2TT`). Given "
            "without `latitude`/`longitude`, it sets them; a postcode that cannot be found "
            "is 422."
        },
    )
    dbs_cleared = fields.Boolean(
        metadata={
            "description": "follows from the DBS checks a coordinator recorded; a trainee "
            "sending it gets 422; an import may vouch for it"
        }
    )
    dbs_checked_on = fields.Date(
        dump_only=True, allow_none=True, metadata={"description": "issue date of the newest check"}
    )
    user_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    erased_at = fields.DateTime(dump_only=True, allow_none=True)


class TraineePatchSchema(TraineeSchema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class OwnProfileSchema(TraineeSchema):
    """What a trainee may change of their own profile (the email is their login's)."""

    class Meta:
        dump_only = ("email",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class TraineeQueryArgsSchema(PageArgsSchema):
    round_id = query_ident(metadata={"description": "only trainees taking part in this round"})
    q = text(200, metadata={"description": "part of the name or email"})


class PersonalDataSchema(Schema):
    """Everything held about you; sections are lists of records."""

    format = fields.String()
    exported_at = fields.String()
    account = fields.Dict()
    profile = fields.Dict()
    rounds = fields.List(fields.Dict())
    preferences = fields.List(fields.Dict())
    employer_rankings = fields.List(fields.Dict())
    exclusions = fields.List(fields.Dict())
    proposals = fields.List(fields.Dict())
    unplaced = fields.List(fields.Dict())
    placements = fields.List(fields.Dict())
    api_tokens = fields.List(fields.Dict())
    dbs = fields.Dict(metadata={"description": "DBS status and the checks recorded"})
    placement_safety = fields.List(
        fields.Dict(), metadata={"description": "safety details of their placements"}
    )
    activity = fields.List(fields.Dict(), metadata={"description": "what the trainee did"})
    about_you = fields.List(
        fields.Dict(),
        metadata={"description": "what staff did to their record, proposals, placements"},
    )


@blp.route("/trainees/me")
class OwnProfile(MethodView):
    @allow("trainee")
    @blp.response(200, TraineeSchema)
    @documented_errors(401, 404)
    def get(self) -> Any:
        """Your own profile (trainee)"""
        return trainees.get_own_profile(session=db_session(), actor=current_actor())

    @allow("trainee")
    @blp.arguments(OwnProfileSchema)
    @blp.response(200, TraineeSchema)
    @documented_errors(401, 404)
    def put(self, args: dict[str, Any]) -> Any:
        """Update your own profile (trainee); fields left out keep their values"""
        return trainees.update_own_profile(
            session=db_session(), actor=current_actor(), values=args, settings=current_settings()
        )


@blp.route("/trainees/me/export")
class OwnData(MethodView):
    @allow("trainee")
    @blp.response(200, PersonalDataSchema)
    @documented_errors(401, 404)
    def get(self) -> Any:
        """Every piece of personal data held about you, as JSON (trainee)"""
        return privacy.export_own_data(session=db_session(), actor=current_actor())


@blp.route("/trainees")
class Trainees(MethodView):
    @allow("coordinator")
    @blp.arguments(TraineeQueryArgsSchema, location="query")
    @blp.response(200, page_of(TraineeSchema))
    @documented_errors(401)
    def get(self, args: dict[str, Any]) -> Any:
        """All trainees (coordinator); filter by `round_id` or `q`"""
        return trainees.list_trainees(
            session=db_session(),
            actor=current_actor(),
            round_id=args.get("round_id"),
            q=args.get("q"),
            **page_args(args),
        )

    @allow("coordinator")
    @blp.arguments(TraineeSchema)
    @blp.response(201, TraineeSchema)
    @documented_errors(401, 409)
    def post(self, args: dict[str, Any]) -> Any:
        """Create a trainee profile without a login (coordinator)"""
        return trainees.create_trainee(
            session=db_session(), actor=current_actor(), values=args, settings=current_settings()
        )


@blp.route("/trainees/<id:trainee_id>")
class Trainee(MethodView):
    @allow("coordinator")
    @blp.response(200, TraineeSchema)
    @documented_errors(401, 404)
    def get(self, trainee_id: int) -> Any:
        """One trainee (coordinator)"""
        return trainees.get_trainee(
            session=db_session(), actor=current_actor(), trainee_id=trainee_id
        )

    @allow("coordinator")
    @blp.arguments(TraineePatchSchema)
    @blp.response(200, TraineeSchema)
    @documented_errors(401, 404, 409)
    def patch(self, args: dict[str, Any], trainee_id: int) -> Any:
        """Change a trainee's profile (coordinator)"""
        return trainees.update_trainee(
            session=db_session(),
            actor=current_actor(),
            trainee_id=trainee_id,
            values=args,
            settings=current_settings(),
        )

    @allow("coordinator")
    @blp.response(204)
    @documented_errors(401, 404)
    def delete(self, trainee_id: int) -> None:
        """Erase a trainee: personal fields and login removed, match history kept
        anonymised (coordinator)"""
        privacy.erase_trainee(session=db_session(), actor=current_actor(), trainee_id=trainee_id)
