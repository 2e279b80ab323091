"""Vetting and safeguarding: accreditation records and their evidence, verifications,
DBS checks, and placement safety details."""

from __future__ import annotations

from typing import Any

from flask import Response, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from placement.api.common import allow, current_actor, documented_errors
from placement.flask_db import current_settings, db_session
from placement.services import vetting
from placement.services.validation import AccreditationFields, DbsCheckFields, SafetyFields

blp = Blueprint(
    "vetting", __name__, url_prefix="/api/v1", description="Vetting and safeguarding records"
)


class AccreditationSchema(AccreditationFields):
    id = fields.Integer(dump_only=True)
    organisation_id = fields.Integer(dump_only=True)
    complete = fields.Function(
        vetting.is_complete,
        dump_only=True,
        metadata={"description": "body, number and expiry date are filled in"},
    )
    current = fields.Function(
        lambda record: vetting.is_current(record),
        dump_only=True,
        metadata={"description": "complete and not expired"},
    )
    evidence_name = fields.String(dump_only=True, allow_none=True)
    evidence_type = fields.String(dump_only=True, allow_none=True)
    evidence_size = fields.Integer(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class AccreditationPatchSchema(AccreditationSchema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class AccreditationListSchema(Schema):
    items = fields.List(fields.Nested(AccreditationSchema), required=True)


class EvidenceFileSchema(Schema):
    file = Upload(
        required=True,
        metadata={
            "description": f"PDF, PNG or JPEG, at most {vetting.EVIDENCE_MAX_BYTES // 2**20} MB"
        },
    )


class VerificationSchema(Schema):
    id = fields.Integer()
    organisation_id = fields.Integer()
    verified_by = fields.Integer(allow_none=True)
    verified_at = fields.DateTime()
    seen = fields.String()
    snapshot = fields.Dict(metadata={"description": "what the host's record said then"})
    lapsed_at = fields.DateTime(allow_none=True)
    lapse_reason = fields.String(allow_none=True)


class VerificationListSchema(Schema):
    items = fields.List(fields.Nested(VerificationSchema), required=True)


class DbsCheckSchema(DbsCheckFields):
    id = fields.Integer(dump_only=True)
    trainee_id = fields.Integer(dump_only=True)
    source = fields.String(dump_only=True, metadata={"description": "`seen` or `import`"})
    seen_by = fields.Integer(dump_only=True, allow_none=True)
    seen_at = fields.DateTime(dump_only=True)


class RecordedCheckSchema(Schema):
    check = fields.Nested(DbsCheckSchema, required=True)
    dbs_cleared = fields.Boolean(required=True)
    dbs_checked_on = fields.Date(allow_none=True)


class DbsCheckListSchema(Schema):
    items = fields.List(fields.Nested(DbsCheckSchema), required=True)


class DbsStatusSchema(Schema):
    cleared = fields.Boolean(required=True)
    checked_on = fields.Date(allow_none=True)
    current_until = fields.Date(
        allow_none=True, metadata={"description": "under the default age of 3 years"}
    )
    checks = fields.List(fields.Nested(DbsCheckSchema), required=True)


class SafetySchema(SafetyFields):
    placement_id = fields.Integer(dump_only=True)
    complete = fields.Function(vetting.is_safety_complete, dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    signed_off_at = fields.DateTime(dump_only=True, allow_none=True)


# --- accreditations --------------------------------------------------------------------


@blp.route("/organisations/<id:organisation_id>/accreditations")
class Accreditations(MethodView):
    @allow("employer", "coordinator")
    @blp.response(200, AccreditationListSchema)
    @documented_errors(401, 404)
    def get(self, organisation_id: int) -> Any:
        """An organisation's accreditation records (owner employer or coordinator)"""
        items = vetting.list_accreditations(
            session=db_session(), actor=current_actor(), organisation_id=organisation_id
        )
        return {"items": items}

    @allow("employer", "coordinator")
    @blp.arguments(AccreditationSchema)
    @blp.response(201, AccreditationSchema)
    @documented_errors(401, 404)
    def post(self, args: dict[str, Any], organisation_id: int) -> Any:
        """Add an accreditation record (owner employer or coordinator); an owner's change
        lapses the organisation's verification"""
        return vetting.create_accreditation(
            session=db_session(),
            actor=current_actor(),
            organisation_id=organisation_id,
            values=args,
        )


@blp.route("/accreditations/<id:accreditation_id>")
class Accreditation(MethodView):
    @allow("employer", "coordinator")
    @blp.arguments(AccreditationPatchSchema)
    @blp.response(200, AccreditationSchema)
    @documented_errors(401, 404)
    def patch(self, args: dict[str, Any], accreditation_id: int) -> Any:
        """Complete or correct an accreditation record (owner employer or coordinator)"""
        return vetting.update_accreditation(
            session=db_session(),
            actor=current_actor(),
            accreditation_id=accreditation_id,
            values=args,
        )

    @allow("employer", "coordinator")
    @blp.response(204)
    @documented_errors(401, 404)
    def delete(self, accreditation_id: int) -> None:
        """Remove an accreditation record and its evidence (owner employer or coordinator)"""
        vetting.delete_accreditation(
            session=db_session(), actor=current_actor(), accreditation_id=accreditation_id
        )


@blp.route("/accreditations/<id:accreditation_id>/evidence")
class Evidence(MethodView):
    @allow("employer", "coordinator")
    @blp.response(200, description="the file, as an attachment")
    @documented_errors(401, 404)
    def get(self, accreditation_id: int) -> Response:
        """The evidence file (owner employer or coordinator only)"""
        found = vetting.evidence_of(
            session=db_session(),
            actor=current_actor(),
            accreditation_id=accreditation_id,
            storage=vetting.evidence_dir(current_settings().instance_dir),
        )
        return send_file(
            found.path,
            mimetype=found.content_type,
            as_attachment=True,
            download_name=found.name,
            max_age=0,
        )

    @allow("employer", "coordinator")
    @blp.arguments(EvidenceFileSchema, location="files")
    @blp.response(200, AccreditationSchema)
    @documented_errors(401, 404, 413)
    def put(self, args: dict[str, Any], accreditation_id: int) -> Any:
        """Upload the certificate (PDF, PNG or JPEG, checked by its content), replacing any
        earlier file (owner employer or coordinator)"""
        upload = args["file"]
        return vetting.attach_evidence(
            session=db_session(),
            actor=current_actor(),
            accreditation_id=accreditation_id,
            data=upload.read(vetting.EVIDENCE_MAX_BYTES + 1),
            filename=upload.filename or "evidence",
            storage=vetting.evidence_dir(current_settings().instance_dir),
        )


@blp.route("/organisations/<id:organisation_id>/verifications")
class Verifications(MethodView):
    @allow("coordinator")
    @blp.response(200, VerificationListSchema)
    @documented_errors(401, 404)
    def get(self, organisation_id: int) -> Any:
        """Every verification of an organisation, newest first, lapsed ones with why
        (coordinator)"""
        items = vetting.list_verifications(
            session=db_session(), actor=current_actor(), organisation_id=organisation_id
        )
        return {"items": items}


# --- DBS checks ------------------------------------------------------------------------


@blp.route("/trainees/<id:trainee_id>/dbs-check")
class DbsCheck(MethodView):
    @allow("coordinator")
    @blp.arguments(DbsCheckFields)
    @blp.response(201, RecordedCheckSchema)
    @documented_errors(401, 404, 409)
    def post(self, args: dict[str, Any], trainee_id: int) -> Any:
        """Record a DBS certificate you have seen (coordinator); `dbs_cleared` follows"""
        return vetting.record_dbs_check(
            session=db_session(), actor=current_actor(), trainee_id=trainee_id, values=args
        )


@blp.route("/trainees/<id:trainee_id>/dbs-checks")
class DbsChecks(MethodView):
    @allow("coordinator")
    @blp.response(200, DbsCheckListSchema)
    @documented_errors(401, 404)
    def get(self, trainee_id: int) -> Any:
        """The DBS checks recorded for a trainee, newest first (coordinator)"""
        items = vetting.list_dbs_checks(
            session=db_session(), actor=current_actor(), trainee_id=trainee_id
        )
        return {"items": items}


@blp.route("/trainees/me/dbs")
class OwnDbs(MethodView):
    @allow("trainee")
    @blp.response(200, DbsStatusSchema)
    @documented_errors(401, 404)
    def get(self) -> Any:
        """Your DBS status and the checks recorded (trainee)"""
        return vetting.own_dbs_status(session=db_session(), actor=current_actor())


# --- placement safety ------------------------------------------------------------------


@blp.route("/placements/<id:placement_id>/safety")
class Safety(MethodView):
    @blp.response(200, SafetySchema)
    @documented_errors(401, 404)
    def get(self, placement_id: int) -> Any:
        """A placement's safety details: coordinator, the host, and the placed trainee once
        results are published"""
        return vetting.get_safety(
            session=db_session(), actor=current_actor(), placement_id=placement_id
        )

    @allow("employer", "coordinator")
    @blp.arguments(SafetyFields)
    @blp.response(200, SafetySchema)
    @documented_errors(401, 404, 409)
    def put(self, args: dict[str, Any], placement_id: int) -> Any:
        """Fill in the safety details (the host, or a coordinator); fields left out keep
        their values; a change withdraws the coordinator's sign-off"""
        return vetting.update_safety(
            session=db_session(), actor=current_actor(), placement_id=placement_id, values=args
        )


@blp.route("/placements/<id:placement_id>/safety/sign-off")
class SafetySignOff(MethodView):
    @allow("coordinator")
    @blp.response(200, SafetySchema)
    @documented_errors(401, 404, 409)
    def post(self, placement_id: int) -> Any:
        """Sign off complete safety details (coordinator); 409 while incomplete"""
        return vetting.sign_off_safety(
            session=db_session(), actor=current_actor(), placement_id=placement_id
        )
