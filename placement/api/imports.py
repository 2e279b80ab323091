"""Bulk CSV import into a round: all or nothing."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from placement.api.common import allow, current_actor, documented_errors
from placement.api.jobs import ACCEPTED, AsyncArgsSchema, accepted
from placement.flask_db import current_settings, db_session
from placement.services import imports, jobs

blp = Blueprint("imports", __name__, url_prefix="/api/v1", description="Bulk CSV import")


class ImportFileSchema(Schema):
    file = Upload(required=True, metadata={"description": "CSV, UTF-8 with or without BOM"})


class ImportResultSchema(Schema):
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)


def _view(kind: str, summary: str) -> type[MethodView]:
    class Import(MethodView):
        @allow("coordinator")
        @blp.arguments(ImportFileSchema, location="files")
        @blp.arguments(AsyncArgsSchema, location="query", as_kwargs=True)
        @blp.response(201, ImportResultSchema)
        @blp.alt_response(202, **ACCEPTED)
        @documented_errors(401, 404, 409, 413)
        def post(self, args: dict[str, Any], round_id: int, async_: bool = False) -> Any:
            if async_:
                return accepted(
                    jobs.start_job(
                        session=db_session(),
                        actor=current_actor(),
                        settings=current_settings(),
                        kind=f"import_{kind}",
                        round_id=round_id,
                        payload=args["file"].read(),
                    )
                )
            return imports.IMPORTERS[kind](
                session=db_session(),
                actor=current_actor(),
                round_id=round_id,
                data=args["file"].read(),
                settings=current_settings(),
            )

    Import.post.__doc__ = summary
    Import.__name__ = Import.__qualname__ = f"Import{kind.capitalize()}"
    return Import


blp.route("/rounds/<id:round_id>/import/trainees")(
    _view(
        "trainees",
        "Import trainees from CSV (coordinator): 201 {created, updated}, or 422 listing "
        "every bad row and nothing stored; ?async=true: 202 and a job",
    )
)
blp.route("/rounds/<id:round_id>/import/slots")(
    _view(
        "slots",
        "Import slots from CSV (coordinator): 201 {created, updated}, or 422 listing every "
        "bad row and nothing stored; ?async=true: 202 and a job",
    )
)
