"""Background jobs' pages: a progress bar while the work goes on, then its result."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, render_template, url_for

from placement.flask_db import db_session
from placement.services.pages import jobs as pages
from placement.web.common import actor
from placement.web.coordinator.base import bp


@bp.get("/jobs/<id:job_id>")
def job_page(job_id: int) -> Any:
    view = pages.job_page(db_session(), actor(), job_id)
    response = Response(render_template("coordinator/job.html", title=view.title, view=view))
    if not view.finished:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/jobs/<id:job_id>/progress")
def job_progress(job_id: int) -> Any:
    """The progress bar's JSON (the shape the run page's script reads)."""
    view = pages.job_page(db_session(), actor(), job_id)
    response = jsonify(
        {
            "status": view.job.status,
            "progress": view.percent,
            "phase_label": view.title,
            "status_label": view.status_label,
            "page_url": url_for(".job_page", job_id=job_id),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/jobs/<id:job_id>/instance.json")
def job_instance(job_id: int) -> Any:
    body = pages.instance_download(db_session(), actor(), job_id)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="instance-job-{job_id}.json"'},
    )
