"""Employer pages: the organisation, its slots, their applicants, and placements."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from placement.errors import Conflict, InvalidInput, TooLarge
from placement.flask_db import current_settings, db_session
from placement.models import ORGANISATION_KINDS, Organisation, Round, Slot
from placement.services import organisations, postcodes, slots, vetting
from placement.services.pages import employer as pages
from placement.services.pages import offers as offer_pages
from placement.services.pages import vetting as vetting_pages
from placement.services.pages.words import uk_dates
from placement.services.validation import AccreditationFields, OrganisationFields, SlotFields
from placement.web.common import (
    actor,
    attempt,
    evidence_download,
    load_form,
    posted_order,
    role_required,
    view_context,
    wants_json,
)
from placement.web.safety import safety_form

bp = Blueprint("employer", __name__, url_prefix="/employer")

# People type postcodes, never coordinates: the postcode sets them (services.postcodes).
ORG_FORM = ("name", "kind", "accreditations", "postcode", "website")
# Once the organisation exists its accreditations are records with their own forms.
ORG_EDIT_FORM = tuple(name for name in ORG_FORM if name != "accreditations")
ACCREDITATION_FORM = vetting.ACCREDITATION_FIELDS
SLOT_FORM = tuple(n for n in slots.EDITABLE if n not in ("latitude", "longitude"))


@bp.before_request
@role_required("employer")
def _employers_only() -> None:
    return None


def _org_values(org: Organisation | None) -> dict[str, Any]:
    if org is None:
        return {"kind": "test_lab"}
    values: dict[str, Any] = {name: getattr(org, name) for name in ORG_FORM}
    values["accreditations"] = ", ".join(org.accreditations)
    return values


def _save_organisation(org: Organisation | None) -> Organisation:
    loaded = load_form(
        OrganisationFields(), request.form, ORG_FORM if org is None else ORG_EDIT_FORM
    )
    settings = current_settings()
    if org is None:
        return organisations.create_organisation(
            session=db_session(), actor=actor(), values=loaded, settings=settings
        )
    assert org.id is not None
    return organisations.update_organisation(
        session=db_session(),
        actor=actor(),
        organisation_id=org.id,
        values=loaded,
        settings=settings,
    )


@bp.route("/organisation", methods=["GET", "POST"])
def organisation() -> Any:
    view = vetting_pages.own_accreditations(db_session(), actor())
    org = view.org
    values = _org_values(org)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        was_verified = org is not None and org.verified
        saved = attempt(lambda: _save_organisation(org))
        if saved.ok:
            if org is None:
                flash(
                    "Your organisation is saved. Complete its accreditations below; a "
                    "coordinator will then verify it.",
                    "success",
                )
            elif was_verified and saved.value is not None and not saved.value.verified:
                flash(
                    "Your organisation is saved. A coordinator will verify it again, as "
                    "its name or website changed.",
                    "warning",
                )
            else:
                flash("Your organisation is saved.", "success")
            return redirect(url_for(".organisation"))
        errors, status = saved.errors, saved.status
        view = vetting_pages.own_accreditations(db_session(), actor())
        org = view.org
    return render_template(
        "employer/organisation.html",
        title="Your organisation",
        org=org,
        records=view.records,
        lapse_reason=view.lapse_reason,
        location_note=postcodes.approximate_note(db_session(), org),
        values=values,
        errors=errors,
        kinds=ORGANISATION_KINDS,
    ), status


# --- accreditations ----------------------------------------------------------------------


def _accreditation_values(record: Any) -> dict[str, Any]:
    if record is None:
        return {}
    values = {name: getattr(record, name) for name in ACCREDITATION_FORM}
    values["expires_on"] = record.expires_on.isoformat() if record.expires_on else ""
    return values


def _evidence_upload() -> vetting.Upload | None:
    upload = request.files.get("evidence")
    if upload is None or not upload.filename:
        return None
    return vetting.Upload(upload.read(vetting.EVIDENCE_MAX_BYTES + 1), upload.filename)


@bp.route("/accreditations/new", methods=["GET", "POST"])
@bp.route("/accreditations/<id:accreditation_id>/edit", methods=["GET", "POST"])
def accreditation_form(accreditation_id: int | None = None) -> Any:
    view = vetting_pages.accreditation_form(db_session(), actor(), accreditation_id)
    values = _accreditation_values(view.record)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        saved = attempt(
            lambda: vetting.save_accreditation(
                session=db_session(),
                actor=actor(),
                values=load_form(AccreditationFields(), request.form, ACCREDITATION_FORM),
                storage=vetting.evidence_dir(current_settings().instance_dir),
                organisation_id=view.org.id if view.record is None else None,
                accreditation_id=accreditation_id,
                evidence=_evidence_upload(),
            ),
            refused=(InvalidInput, TooLarge),
        )
        if saved.value is not None:
            flash(f"{saved.value.standard} is saved.", "success")
            return redirect(url_for(".organisation"))
        errors, status = saved.errors, saved.status
        if not errors:
            errors = {"evidence": [saved.message]}
        errors = {("evidence" if k == "file" else k): v for k, v in errors.items()}
    return render_template(
        "employer/accreditation_form.html",
        title=f"Change {view.record.standard}" if view.record else "Add an accreditation",
        record=view.record,
        values=values,
        errors=errors,
        max_mb=vetting.EVIDENCE_MAX_BYTES // (1024 * 1024),
    ), status


@bp.get("/accreditations/<id:accreditation_id>/evidence")
def evidence(accreditation_id: int) -> Response:
    return evidence_download(accreditation_id)


@bp.route("/accreditations/<id:accreditation_id>/delete", methods=["GET", "POST"])
def delete_accreditation(accreditation_id: int) -> Any:
    view = vetting_pages.accreditation_form(db_session(), actor(), accreditation_id)
    assert view.record is not None
    standard = view.record.standard
    if request.method == "POST":
        vetting.delete_accreditation(
            session=db_session(), actor=actor(), accreditation_id=accreditation_id
        )
        flash(f"{standard} is removed.", "success")
        return redirect(url_for(".organisation"))
    return render_template(
        "confirm.html",
        title=f"Remove {standard}?",
        verb="Remove",
        danger=True,
        facts=[
            ("Standard", standard),
            ("Accrediting body", view.record.body or "—"),
            ("Number", view.record.number or "—"),
        ],
        consequence=(
            "Its record and evidence file are removed. "
            + ("Your organisation will need to be verified again." if view.org.verified else "")
        ),
        action=url_for(".delete_accreditation", accreditation_id=accreditation_id),
        back=url_for(".organisation"),
    )


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
    return values


def _save_slot(view: pages.SlotForm) -> Slot:
    assert view.org is not None
    loaded = load_form(SlotFields(), _with_org_location(request.form, view.org), SLOT_FORM)
    settings = current_settings()
    if view.slot is None:
        round_id = _round_choice(request.form.get("round_id"), view.open_rounds)
        return slots.create_slot(
            session=db_session(), actor=actor(), round_id=round_id, values=loaded, settings=settings
        )
    assert view.slot.id is not None
    return slots.update_slot(
        session=db_session(), actor=actor(), slot_id=view.slot.id, values=loaded, settings=settings
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
        location_note=postcodes.approximate_note(db_session(), view.slot),
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
    """A blank postcode means 'at our organisation's address'."""
    data = {k: form.get(k, "") for k in form}
    if not str(data.get("postcode", "")).strip() and org.postcode:
        data["postcode"] = org.postcode
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
        rows=offer_pages.host_offers(db_session(), actor()),
    )


@bp.route("/placements/<id:placement_id>/safety", methods=["GET", "POST"])
def safety(placement_id: int) -> Any:
    return safety_form(placement_id, back=url_for(".placements"))
