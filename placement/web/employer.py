"""Employer pages: the organisation, its slots, their applicants, and placements."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from placement.errors import Conflict, InvalidInput
from placement.flask_db import db_session
from placement.models import ORGANISATION_KINDS, Organisation, Round, Slot
from placement.services import organisations, slots
from placement.services.pages import employer as pages
from placement.services.pages.placements import published_placements
from placement.services.pages.words import uk_dates
from placement.services.validation import OrganisationFields, SlotFields
from placement.web.common import (
    actor,
    attempt,
    load_form,
    posted_order,
    role_required,
    view_context,
    wants_json,
)

bp = Blueprint("employer", __name__, url_prefix="/employer")

ORG_FORM = ("name", "kind", "accreditations", "postcode", "latitude", "longitude", "website")
SLOT_FORM = slots.EDITABLE


@bp.before_request
@role_required("employer")
def _employers_only() -> None:
    return None


def _org_values(org: Organisation | None) -> dict[str, Any]:
    if org is None:
        return {"kind": "test_lab"}
    values: dict[str, Any] = {name: getattr(org, name) for name in ORG_FORM}
    values["accreditations"] = ", ".join(org.accreditations)
    for name in ("latitude", "longitude"):
        values[name] = "" if values[name] is None else f"{values[name]:g}"
    return values


def _save_organisation(org: Organisation | None) -> Organisation:
    loaded = load_form(OrganisationFields(), request.form, ORG_FORM)
    if org is None:
        return organisations.create_organisation(session=db_session(), actor=actor(), values=loaded)
    assert org.id is not None
    return organisations.update_organisation(
        session=db_session(), actor=actor(), organisation_id=org.id, values=loaded
    )


@bp.route("/organisation", methods=["GET", "POST"])
def organisation() -> Any:
    org = pages.own_organisation(db_session(), actor())
    values = _org_values(org)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        saved = attempt(lambda: _save_organisation(org))
        if saved.ok:
            if org is None:
                flash("Your organisation is saved. A coordinator will verify it.", "success")
            else:
                flash("Your organisation is saved.", "success")
            return redirect(url_for(".organisation"))
        errors, status = saved.errors, saved.status
        org = pages.own_organisation(db_session(), actor())
    return render_template(
        "employer/organisation.html",
        title="Your organisation",
        org=org,
        values=values,
        errors=errors,
        kinds=ORGANISATION_KINDS,
    ), status


@bp.get("/slots", endpoint="slots")
def slots_page() -> Any:
    view = pages.slots_page(db_session(), actor())
    return render_template("employer/slots.html", title="Your slots", **view_context(view))


def _slot_values(slot: Slot | None, org: Organisation) -> dict[str, Any]:
    if slot is None:
        return {"min_level": 4, "capacity": 1, "postcode": org.postcode or ""}
    values: dict[str, Any] = {name: getattr(slot, name) for name in SLOT_FORM}
    values["required_skills"] = ", ".join(slot.required_skills)
    for name in ("starts_on", "ends_on"):
        values[name] = values[name].isoformat()
    for name in ("latitude", "longitude"):
        values[name] = f"{values[name]:g}"
    return values


def _save_slot(view: pages.SlotForm) -> Slot:
    assert view.org is not None
    loaded = load_form(SlotFields(), _with_org_location(request.form, view.org), SLOT_FORM)
    if view.slot is None:
        round_id = _round_choice(request.form.get("round_id"), view.open_rounds)
        return slots.create_slot(
            session=db_session(), actor=actor(), round_id=round_id, values=loaded
        )
    assert view.slot.id is not None
    return slots.update_slot(
        session=db_session(), actor=actor(), slot_id=view.slot.id, values=loaded
    )


@bp.route("/slots/new", methods=["GET", "POST"])
@bp.route("/slots/<id:slot_id>/edit", methods=["GET", "POST"])
def slot_form(slot_id: int | None = None) -> Any:
    view = pages.slot_form(db_session(), actor(), slot_id)
    if view.org is None:
        flash("Describe your organisation before posting slots.", "warning")
        return redirect(url_for(".organisation"))
    values = _slot_values(view.slot, view.org)
    if view.slot is None:
        first = view.open_rounds[0].id if view.open_rounds else ""
        values["round_id"] = request.args.get("round", first)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        values["remote"] = "remote" in request.form
        values["requires_dbs"] = "requires_dbs" in request.form
        saved = attempt(lambda: _save_slot(view))
        if saved.value is not None:
            verb = "posted" if view.slot is None else "saved"
            flash(f"Slot “{saved.value.title}” {verb}.", "success")
            return redirect(url_for(".slots"))
        errors, status = saved.errors, saved.status
        view = pages.slot_form(db_session(), actor(), slot_id)
    return render_template(
        "employer/slot_form.html",
        title="Edit slot" if view.slot else "Post a slot",
        values=values,
        errors=errors,
        **view_context(view),
    ), status


def _round_choice(raw: str | None, open_rounds: list[Round]) -> int:
    for rnd in open_rounds:
        if str(rnd.id) == (raw or ""):
            assert rnd.id is not None
            return rnd.id
    raise InvalidInput(errors={"round_id": ["choose an open round"]})


def _with_org_location(form: Any, org: Organisation) -> dict[str, str]:
    """Blank coordinates mean 'at our organisation's address'."""
    data = {k: form.get(k, "") for k in form}
    for key in ("latitude", "longitude"):
        if not str(data.get(key, "")).strip() and getattr(org, key) is not None:
            data[key] = str(getattr(org, key))
    for key in ("remote", "requires_dbs"):
        data[key] = "1" if key in form else ""
    return data


@bp.route("/slots/<id:slot_id>/applicants", methods=["GET", "POST"])
def applicants(slot_id: int) -> Any:
    view = pages.applicants_page(db_session(), actor(), slot_id)
    order = view.ranked
    errors: list[str] = []
    status = 200
    unsaved = False
    if request.method == "POST":
        order, unsaved = posted_order("trainee_ids")
        if not unsaved:
            saved = attempt(
                lambda: slots.set_rankings(
                    session=db_session(), actor=actor(), slot_id=slot_id, trainee_ids=order
                )
            )
            if wants_json():
                if not saved.ok:
                    problems = saved.errors.get("trainee_ids", [saved.message])
                    return jsonify(saved=False, errors=problems), saved.status
                return jsonify(saved=True, count=len(order))
            if saved.ok:
                flash(
                    f"Your ranking of {len(order)} applicant{'s' if len(order) != 1 else ''}"
                    " is saved.",
                    "success",
                )
                return redirect(url_for(".applicants", slot_id=slot_id))
            errors = saved.errors.get("trainee_ids", [saved.message])
            status = saved.status
            view = pages.applicants_page(db_session(), actor(), slot_id)
    order = [t for t in order if t in view.by_id]
    return render_template(
        "employer/applicants.html",
        title=f"Applicants for {view.slot.title}",
        slot=view.slot,
        round=view.round,
        order=order,
        unranked=sorted(
            (t for t in view.by_id if t not in order), key=lambda t: view.by_id[t].name
        ),
        by_id=view.by_id,
        facts=view.facts,
        errors=errors,
        unsaved=unsaved,
        editable=view.editable,
    ), status


@bp.route("/slots/<id:slot_id>/delete", methods=["GET", "POST"])
def delete_slot(slot_id: int) -> Any:
    view = pages.delete_slot_page(db_session(), actor(), slot_id)
    title = view.slot.title
    problem = None
    status = 200
    if request.method == "POST":
        deleted = attempt(
            lambda: slots.delete_slot(session=db_session(), actor=actor(), slot_id=slot_id),
            refused=(Conflict,),
        )
        if deleted.ok:
            flash(f"Slot “{title}” deleted.", "success")
            return redirect(url_for(".slots"))
        # Shown on the confirmation page itself, with the way back.
        problem, status = deleted.message, deleted.status
        view = pages.delete_slot_page(db_session(), actor(), slot_id)
    ranked_by = view.ranked_by
    return render_template(
        "confirm.html",
        title=f"Delete “{title}”?",
        verb="Delete",
        danger=True,
        facts=[
            ("Slot", title),
            ("Round", view.round.name),
            ("Dates", uk_dates(view.slot.starts_on, view.slot.ends_on)),
            ("Seats", str(view.slot.capacity)),
        ],
        consequence=(
            "Trainees will no longer see it or be able to choose it. "
            + (
                f"{ranked_by} trainee{'s' if ranked_by != 1 else ''} chose it: it comes off "
                f"{'their lists' if ranked_by != 1 else 'their list'}, and your ranking of "
                "its applicants is deleted too. "
                if ranked_by
                else ""
            )
            + "This cannot be undone."
        ),
        problem=problem,
        action=url_for(".delete_slot", slot_id=slot_id),
        back=url_for(".slots"),
    ), status


@bp.get("/placements")
def placements() -> Any:
    return render_template(
        "employer/placements.html",
        title="Placements",
        rows=published_placements(db_session(), actor()),
    )
