"""Host organisations."""

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
from placement.services import organisations
from placement.services.validation import OrganisationFields, text

blp = Blueprint("organisations", __name__, url_prefix="/api/v1", description="Host organisations")


class OrganisationSchema(OrganisationFields):
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
    owner_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)


class OrganisationPatchSchema(OrganisationSchema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


@blp.route("/organisations")
class Organisations(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_of(OrganisationSchema))
    @documented_errors(401)
    def get(self, args: dict[str, Any]) -> Any:
        """Organisations you may see: coordinators all, employers their own, trainees the
        verified ones"""
        return organisations.list_organisations(
            session=db_session(), actor=current_actor(), **page_args(args)
        )

    @allow("employer", "coordinator")
    @blp.arguments(OrganisationSchema)
    @blp.response(201, OrganisationSchema)
    @documented_errors(401, 403, 409)
    def post(self, args: dict[str, Any]) -> Any:
        """Create an organisation (an employer's one becomes theirs)"""
        return organisations.create_organisation(
            session=db_session(), actor=current_actor(), values=args, settings=current_settings()
        )


@blp.route("/organisations/<id:organisation_id>")
class Organisation(MethodView):
    @blp.response(200, OrganisationSchema)
    @documented_errors(401, 404)
    def get(self, organisation_id: int) -> Any:
        """One organisation"""
        return organisations.get_organisation(
            session=db_session(), actor=current_actor(), organisation_id=organisation_id
        )

    @allow("employer", "coordinator")
    @blp.arguments(OrganisationPatchSchema)
    @blp.response(200, OrganisationSchema)
    @documented_errors(401, 403, 404)
    def patch(self, args: dict[str, Any], organisation_id: int) -> Any:
        """Change an organisation (owner employer or coordinator; `verified`: coordinator)"""
        return organisations.update_organisation(
            session=db_session(),
            actor=current_actor(),
            organisation_id=organisation_id,
            values=args,
            settings=current_settings(),
        )


class VerifyOrganisationSchema(Schema):
    seen = text(2000, metadata={"description": "what the coordinator checked"})


@blp.route("/organisations/<id:organisation_id>/verify")
class VerifyOrganisation(MethodView):
    @allow("coordinator")
    @blp.arguments(VerifyOrganisationSchema)
    @blp.response(200, OrganisationSchema)
    @documented_errors(401, 403, 404, 409)
    def post(self, args: dict[str, Any], organisation_id: int) -> Any:
        """Mark an organisation as vetted, saying what was seen (coordinator); 409 while
        an accreditation has expired"""
        return organisations.verify_organisation(
            session=db_session(),
            actor=current_actor(),
            organisation_id=organisation_id,
            seen=args.get("seen", ""),
        )
