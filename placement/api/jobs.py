"""Long work in the background: the job resource, and the 202 answer of `?async=true`."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from placement.api.common import current_actor, documented_errors
from placement.flask_db import db_session
from placement.models import JOB_KINDS, JOB_STATUSES, Job
from placement.services import jobs

blp = Blueprint(
    "jobs", __name__, url_prefix="/api/v1", description="Long work done in the background"
)


class AsyncArgsSchema(Schema):
    async_ = fields.Boolean(
        data_key="async",
        load_default=False,
        metadata={
            "description": "true: answer 202 at once with a job (Location: /api/v1/jobs/{id}) "
            "and do the work in the background"
        },
    )


class JobSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(JOB_KINDS))
    status = fields.String(required=True, validate=validate.OneOf(JOB_STATUSES))
    progress = fields.Float(required=True, metadata={"description": "0 to 1"})
    code = fields.Integer(
        allow_none=True,
        metadata={"description": "the HTTP status the synchronous route would have answered"},
    )
    result = fields.Raw(
        allow_none=True,
        metadata={
            "description": "the synchronous route's body once finished: its success body, or "
            "its error body ({message, errors} of a 422 listing bad rows, say)"
        },
    )
    error = fields.String(allow_none=True)
    round_id = fields.Integer(allow_none=True)
    run_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


ACCEPTED = {
    "schema": JobSchema,
    "description": "with ?async=true: the job, queued; poll the Location",
    "headers": {"Location": {"schema": {"type": "string"}}},
    "success": True,
}


def accepted(job: Job) -> Response:
    """202 with the job's body and `Location: /api/v1/jobs/{id}`."""
    response = jsonify(JobSchema().dump(jobs.job_body(job)))
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.JobResource", job_id=job.id)
    return response


@blp.route("/jobs/<id:job_id>")
class JobResource(MethodView):
    @blp.response(200, JobSchema)
    @documented_errors(401, 404)
    def get(self, job_id: int) -> Any:
        """A background job of the caller's: its status, progress and, once finished, the
        synchronous answer (anyone else's job is 404)"""
        job = jobs.get_job(session=db_session(), actor=current_actor(), job_id=job_id)
        return jobs.job_body(job)
