"""Employer pages: the organisation, its slots, their applicants, and placements."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from placement.errors import Conflict, InvalidInput, NotFound
from placement.flask_db import db_session
from placement.models import ORGANISATION_KINDS, Organisation, Round, Slot
from placement.services import organisations, pages, slots
from placement.services.common import organisation_of
from placement.services.validation import OrganisationFields, SlotFields
from placement.web import errors
from placement.web.common import (
    actor,
    field_errors,
    load_form,
    posted_order,
    role_required,
)
from placement.web.trainee import published_placements

bp = errors.install(Blueprint("employer", __name__, url_prefix="/employer"))

ORG_FORM = ("name", "kind", "accreditations", "postcode", "latitude", "longitude", "website")
SLOT_FORM = slots.EDITABLE


@bp.before_request
@role_required("employer")
def _employers_only() -> None:
    return None


def _org() -> Organisation | None:
    return organisation_of(db_session(), actor())


def _org_values(org: Organisation | None) -> dict[str, Any]:
    if org is None:
        return {"kind": "test_lab"}
    values: dict[str, Any] = {name: getattr(org, name) for name in ORG_FORM}
    values["accreditations"] = ", ".join(org.accreditations)
    for name in ("latitude", "longitude"):
        values[name] = "" if values[name] is None else f"{values[name]:g}"
    return values


@bp.route("/organisation", methods=["GET", "POST"])
def organisation() -> Any:
    session = db_session()
    org = _org()
    values = _org_values(org)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        try:
            loaded = load_form(OrganisationFields(), request.form, ORG_FORM)
            if org is None:
                org = organisations.create_organisation(
                    session=session, actor=actor(), values=loaded
                )
                flash("Your organisation is saved. A coordinator will verify it.", "success")
            else:
                assert org.id is not None
                organisations.update_organisation(
                    session=session, actor=actor(), organisation_id=org.id, values=loaded
                )
                flash("Your organisation is saved.", "success")
        except InvalidInput as exc:
            session.rollback()
            errors, status = field_errors(exc.errors), 422
        else:
            return redirect(url_for(".organisation"))
    return render_template(
        "employer/organisation.html",
        title="Your organisation",
        org=org,
        values=values,
        errors=errors,
        kinds=ORGANISATION_KINDS,
    ), status


def _my_slots(org: Organisation) -> list[tuple[Round, list[Slot]]]:
    session = db_session()
    grouped = []
    for rnd in pages.rounds_with_status(session, "open", "closed", "published"):
        assert rnd.id is not None and org.id is not None
        page = slots.list_slots(
            session=session, actor=actor(), round_id=rnd.id, organisation_id=org.id, per_page=500
        )
        if page.items or rnd.status == "open":
            grouped.append((rnd, list(page.items)))
    return grouped


@bp.get("/slots", endpoint="slots")
def slots_page() -> Any:
    org = _org()
    return render_template(
        "employer/slots.html",
        title="Your slots",
        org=org,
        grouped=_my_slots(org) if org is not None else [],
    )


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


@bp.route("/slots/new", methods=["GET", "POST"])
@bp.route("/slots/<id:slot_id>/edit", methods=["GET", "POST"])
def slot_form(slot_id: int | None = None) -> Any:
    session = db_session()
    org = _org()
    if org is None:
        flash("Describe your organisation before posting slots.", "warning")
        return redirect(url_for(".organisation"))
    slot = slots.get_slot(session=session, actor=actor(), slot_id=slot_id) if slot_id else None
    if slot is not None and slot.organisation_id != org.id:
        raise NotFound("No such slot.")
    open_rounds = pages.rounds_with_status(session, "open")
    values = _slot_values(slot, org)
    if slot is None:
        values["round_id"] = request.args.get("round", open_rounds[0].id if open_rounds else "")
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        values["remote"] = "remote" in request.form
        values["requires_dbs"] = "requires_dbs" in request.form
        try:
            loaded = load_form(SlotFields(), _with_org_location(request.form, org), SLOT_FORM)
            if slot is None:
                round_id = _round_choice(request.form.get("round_id"), open_rounds)
                slot = slots.create_slot(
                    session=session, actor=actor(), round_id=round_id, values=loaded
                )
                flash(f"Slot “{slot.title}” posted.", "success")
            else:
                assert slot.id is not None
                slots.update_slot(session=session, actor=actor(), slot_id=slot.id, values=loaded)
                flash(f"Slot “{slot.title}” saved.", "success")
        except InvalidInput as exc:
            session.rollback()
            errors, status = field_errors(exc.errors), 422
        else:
            return redirect(url_for(".slots"))
    return render_template(
        "employer/slot_form.html",
        title="Edit slot" if slot else "Post a slot",
        slot=slot,
        org=org,
        values=values,
        errors=errors,
        open_rounds=open_rounds,
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
    session = db_session()
    slot = slots.get_slot(session=session, actor=actor(), slot_id=slot_id)
    rnd = session.get(Round, slot.round_id)
    assert rnd is not None
    page = slots.list_applicants(session=session, actor=actor(), slot_id=slot_id, per_page=500)
    by_id = {a.id: a for a in page.items}
    ranked = slots.get_rankings(session=session, actor=actor(), slot_id=slot_id).trainee_ids
    order = [t for t in ranked if t in by_id] + [a.id for a in page.items if a.id not in ranked]
    errors: list[str] = []
    status = 200
    unsaved = False
    if request.method == "POST":
        order, unsaved = posted_order("trainee_ids")
        if not unsaved:
            try:
                slots.set_rankings(
                    session=session, actor=actor(), slot_id=slot_id, trainee_ids=order
                )
            except InvalidInput as exc:
                session.rollback()
                errors = field_errors(exc.errors).get("trainee_ids", [exc.message])
                status = 422
            else:
                flash(f"Your ranking of {len(order)} applicants is saved.", "success")
                return redirect(url_for(".applicants", slot_id=slot_id))
    return render_template(
        "employer/applicants.html",
        title=f"Applicants for {slot.title}",
        slot=slot,
        round=rnd,
        order=[t for t in order if t in by_id],
        by_id=by_id,
        ranked=set(ranked),
        errors=errors,
        unsaved=unsaved,
        editable=rnd.status == "open",
    ), status


@bp.route("/slots/<id:slot_id>/delete", methods=["GET", "POST"])
def delete_slot(slot_id: int) -> Any:
    session = db_session()
    org = _org()
    slot = slots.get_slot(session=session, actor=actor(), slot_id=slot_id)
    if org is None or slot.organisation_id != org.id:
        raise NotFound("No such slot.")
    title = slot.title
    problem = None
    status = 200
    if request.method == "POST":
        try:
            slots.delete_slot(session=session, actor=actor(), slot_id=slot_id)
        except Conflict as exc:
            # Shown on the confirmation page itself, with the way back.
            session.rollback()
            problem, status = exc.message, 409
        else:
            flash(f"Slot “{title}” deleted.", "success")
            return redirect(url_for(".slots"))
    ranked_by = slots.list_applicants(
        session=session, actor=actor(), slot_id=slot_id, per_page=1
    ).total
    rnd = session.get(Round, slot.round_id)
    return render_template(
        "confirm.html",
        title=f"Delete “{title}”?",
        verb="Delete",
        danger=True,
        facts=[
            ("Slot", title),
            ("Round", rnd.name if rnd else "—"),
            ("Dates", f"{slot.starts_on.isoformat()} to {slot.ends_on.isoformat()}"),
            ("Seats", str(slot.capacity)),
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
        "employer/placements.html", title="Placements", rows=published_placements()
    )
