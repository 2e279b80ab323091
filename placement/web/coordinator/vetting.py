"""Vetting pages: a host's accreditations and verification, a trainee's DBS checks, and
signing off a placement's safety details."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for

from placement.flask_db import db_session
from placement.models import DBS_LEVELS
from placement.services import postcodes, vetting
from placement.services.pages import vetting as pages
from placement.services.validation import DbsCheckFields
from placement.web.common import actor, attempt, evidence_download, load_form, view_context
from placement.web.coordinator.base import bp
from placement.web.safety import safety_form

DBS_FORM = ("certificate_number", "level", "issued_on")


@bp.get("/organisations/<id:organisation_id>")
def host(organisation_id: int) -> Any:
    view = pages.host_vetting(db_session(), actor(), organisation_id)
    return render_template(
        "coordinator/host.html",
        title=f"Vetting {view.org.name}",
        location_note=postcodes.approximate_note(db_session(), view.org),
        **view_context(view),
    )


@bp.get("/accreditations/<id:accreditation_id>/evidence")
def evidence(accreditation_id: int) -> Response:
    return evidence_download(accreditation_id)


@bp.route("/trainees/<id:trainee_id>/dbs", methods=["GET", "POST"])
def dbs(trainee_id: int) -> Any:
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        saved = attempt(
            lambda: vetting.record_dbs_check(
                session=db_session(),
                actor=actor(),
                trainee_id=trainee_id,
                values=load_form(DbsCheckFields(), request.form, DBS_FORM),
            )
        )
        if saved.value is not None:
            cleared = "is DBS cleared" if saved.value.dbs_cleared else "is not cleared yet"
            flash(f"The DBS check is recorded; the trainee {cleared}.", "success")
            return redirect(url_for(".dbs", trainee_id=trainee_id, round=request.args.get("round")))
        errors, status = saved.errors, saved.status
    view = pages.dbs_page(db_session(), actor(), trainee_id)
    return render_template(
        "coordinator/dbs.html",
        title=f"DBS checks of {view.trainee.name}",
        values=values,
        errors=errors,
        levels=DBS_LEVELS,
        round_id=request.args.get("round", ""),
        **view_context(view),
    ), status


@bp.route("/placements/<id:placement_id>/safety", methods=["GET", "POST"])
def safety(placement_id: int) -> Any:
    return safety_form(
        placement_id,
        back=request.referrer or url_for(".dashboard"),
        sign_off_url=url_for(".sign_off_safety", placement_id=placement_id),
    )


@bp.post("/placements/<id:placement_id>/safety/sign-off")
def sign_off_safety(placement_id: int) -> Any:
    vetting.sign_off_safety(session=db_session(), actor=actor(), placement_id=placement_id)
    flash("The safety details are signed off.", "success")
    return redirect(url_for(".safety", placement_id=placement_id))
