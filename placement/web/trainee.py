"""Trainee pages: profile, browsing slots, ranking them, and the placement once published."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from placement.errors import InvalidInput, NotFound
from placement.flask_db import db_session
from placement.models import ORGANISATION_KINDS, Round
from placement.services import pages, placements, preferences, privacy, trainees
from placement.services.common import trainee_of
from placement.services.validation import TraineeFields
from placement.web import errors
from placement.web.common import (
    actor,
    field_errors,
    id_arg,
    int_or_404,
    load_form,
    number_arg,
    posted_order,
    role_required,
)

bp = errors.install(Blueprint("trainee", __name__, url_prefix="/trainee"))

PROFILE_FORM = trainees.PROFILE_FIELDS


@bp.before_request
@role_required("trainee")
def _trainees_only() -> None:
    return None


def _profile_values(t: Any) -> dict[str, Any]:
    values = {name: getattr(t, name) for name in PROFILE_FORM}
    values["skills"] = ", ".join(t.skills)
    for name in ("available_from", "available_to"):
        values[name] = values[name].isoformat() if values[name] else ""
    for name in ("latitude", "longitude", "max_travel_km"):
        value = values[name]
        values[name] = "" if value is None else f"{value:g}"
    return values


@bp.route("/profile", methods=["GET", "POST"])
def profile() -> Any:
    session = db_session()
    me = trainees.get_own_profile(session=session, actor=actor())
    values = _profile_values(me)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        values["dbs_cleared"] = "dbs_cleared" in request.form
        try:
            loaded = load_form(TraineeFields(), request.form, PROFILE_FORM)
            trainees.update_own_profile(session=session, actor=actor(), values=loaded)
        except InvalidInput as exc:
            session.rollback()
            errors, status = field_errors(exc.errors), 422
        else:
            flash("Your profile is saved.", "success")
            return redirect(url_for(".profile"))
    return render_template(
        "trainee/profile.html",
        title="Your profile",
        values=values,
        errors=errors,
        email=me.email,
    ), status


def _open_rounds() -> list[Round]:
    return pages.rounds_with_status(db_session(), "open")


@bp.get("/slots", endpoint="browse")
def browse() -> Any:
    session = db_session()
    me = trainee_of(session, actor())
    filters = {
        "round": request.args.get("round", ""),
        "discipline": request.args.get("discipline", ""),
        "kind": request.args.get("kind", ""),
        "within_km": request.args.get("within_km", ""),
    }
    errors: dict[str, list[str]] = {}
    within = number_arg(filters["within_km"], "within_km", errors, minimum=0)
    round_id = id_arg(filters["round"], "round", errors)
    if filters["kind"] and filters["kind"] not in ORGANISATION_KINDS:
        errors["kind"] = ["is not a kind of host"]
    if "\x00" in filters["discipline"]:
        errors["discipline"] = ["must not contain NUL characters"]
    listings = []
    if not errors:
        listings = pages.browse_slots(
            session,
            trainee=me,
            round_id=round_id,
            discipline=filters["discipline"] or None,
            host_kind=filters["kind"] or None,
            within_km=within,
        )
    chosen = _chosen_ids()
    return render_template(
        "trainee/browse.html",
        title="Find placements",
        listings=listings,
        filters=filters,
        errors=errors,
        round_options=[(r.id, r.name) for r in _open_rounds()],
        discipline_options=[(d, d) for d in pages.open_disciplines(session)],
        kind_options=[(k, k.replace("_", " ")) for k in ORGANISATION_KINDS],
        home_known=me.latitude is not None and me.longitude is not None,
        chosen=chosen,
    ), (422 if errors else 200)


def _chosen_ids() -> set[int]:
    session = db_session()
    chosen: set[int] = set()
    for rnd in _open_rounds():
        assert rnd.id is not None
        prefs = preferences.get_preferences(session=session, actor=actor(), round_id=rnd.id)
        chosen.update(prefs.slot_ids)
    return chosen


@bp.get("/slots/<id:slot_id>")
def slot_page(slot_id: int) -> Any:
    session = db_session()
    me = trainee_of(session, actor())
    listing = pages.slot_listing(session, slot_id, me)
    if listing is None or listing.round.status == "draft" or not listing.organisation.verified:
        raise NotFound("No such slot.")
    return render_template(
        "trainee/slot.html",
        title=listing.slot.title,
        listing=listing,
        chosen=slot_id in _chosen_ids(),
    )


@bp.post("/choices/add")
def add_choice() -> Any:
    session = db_session()
    slot_id = int_or_404(request.form.get("slot_id"))
    listing = pages.slot_listing(session, slot_id, None)
    if listing is None or listing.round.status == "draft":
        raise NotFound("No such slot.")
    round_id = listing.slot.round_id
    current = preferences.get_preferences(session=session, actor=actor(), round_id=round_id)
    if slot_id in current.slot_ids:
        flash(f"“{listing.slot.title}” is already in your choices.", "success")
    else:
        try:
            preferences.set_preferences(
                session=session,
                actor=actor(),
                round_id=round_id,
                slot_ids=[*current.slot_ids, slot_id],
            )
        except InvalidInput as exc:
            session.rollback()
            problems = field_errors(exc.errors).get("slot_ids", [exc.message])
            flash(f"Could not add “{listing.slot.title}”: {'; '.join(problems)}.", "error")
        else:
            flash(
                f"“{listing.slot.title}” added as choice {len(current.slot_ids) + 1}. "
                "Put your choices in order on this page.",
                "success",
            )
    return redirect(url_for(".choices", round=round_id))


@bp.route("/choices", methods=["GET", "POST"])
def choices() -> Any:
    session = db_session()
    open_rounds = _open_rounds()
    visible = pages.rounds_with_status(session, "open", "closed", "published")
    round_id = request.values.get("round")
    rnd: Round | None = None
    if round_id:
        rnd = next((r for r in visible if str(r.id) == round_id), None)
        if rnd is None:
            abort(404)
    elif open_rounds:
        rnd = open_rounds[0]
    if rnd is None:
        return render_template("trainee/choices.html", title="Your choices", round=None)
    assert rnd.id is not None
    saved = preferences.get_preferences(session=session, actor=actor(), round_id=rnd.id)
    slot_ids = list(saved.slot_ids)
    errors: list[str] = []
    status = 200
    unsaved = False
    if request.method == "POST":
        slot_ids, unsaved = posted_order("slot_ids")
        if not unsaved:
            try:
                result = preferences.set_preferences(
                    session=session, actor=actor(), round_id=rnd.id, slot_ids=slot_ids
                )
            except InvalidInput as exc:
                session.rollback()
                errors = field_errors(exc.errors).get("slot_ids", [exc.message])
                status = 422
            else:
                count = len(result.slot_ids)
                flash(
                    f"Your {count} choice{'s are' if count != 1 else ' is'} saved for {rnd.name}.",
                    "success",
                )
                return redirect(url_for(".choices", round=rnd.id))
    labels = pages.slot_labels(session, slot_ids)
    return render_template(
        "trainee/choices.html",
        title="Your choices",
        round=rnd,
        rounds=visible,
        slot_ids=[s for s in slot_ids if s in labels],
        labels=labels,
        errors=errors,
        unsaved=unsaved,
        editable=rnd.status == "open",
        saved_at=saved.updated_at,
    ), status


@bp.get("/placement", endpoint="placements")
def placements_page() -> Any:
    return render_template(
        "trainee/placements.html", title="Your placement", placements=published_placements()
    )


def published_placements() -> list[tuple[Any, pages.SlotListing]]:
    """The signed-in user's placements in published rounds (the service decides which)."""
    session = db_session()
    out = []
    for rnd in pages.rounds_with_status(session, "published"):
        assert rnd.id is not None
        page = placements.list_placements(
            session=session, actor=actor(), round_id=rnd.id, status="live", per_page=500
        )
        for item in page.items:
            listing = pages.slot_listing(session, item.slot_id, None)
            if listing is not None:
                out.append((item, listing))
    return out


# What each part of the export holds, in the order the page shows them.
DATA_SECTIONS = {
    "account": ("Your account", "Your login. The password is stored only as a one-way hash."),
    "profile": ("Your profile", "What you told us about yourself."),
    "rounds": ("Rounds you take part in", "Placement rounds you were imported into or chose in."),
    "preferences": ("Your choices", "The slots you ranked, first choice first."),
    "employer_rankings": (
        "How hosts ranked you",
        "Where a host put you in their order of applicants for a slot.",
    ),
    "exclusions": (
        "Pairings a coordinator ruled out",
        "Slots the matcher was told not to offer you, and why.",
    ),
    "proposals": (
        "Matches proposed for you",
        "What each match run proposed, its cost terms, and what a coordinator decided.",
    ),
    "unplaced": ("Runs that did not place you", "And the reason each gave."),
    "placements": ("Your placements", "Approved placements, live or withdrawn."),
    "api_tokens": (
        "Sign-in sessions and API tokens",
        "Only when each was made and last used; the tokens themselves are stored as hashes.",
    ),
    "activity": ("What you did", "The audit log's record of the changes you made."),
    "about_you": (
        "What was done about you",
        "The audit log's record of what staff did to your record, proposals and placements.",
    ),
}
EXPORT_FILENAME = "placement-my-data.json"


@bp.get("/data", endpoint="data")
def data_page() -> Any:
    data = privacy.export_own_data(session=db_session(), actor=actor())
    return render_template(
        "trainee/data.html",
        title="Your data",
        data=data,
        sections=DATA_SECTIONS,
        filename=EXPORT_FILENAME,
    )


@bp.get("/data.json")
def data_json() -> Any:
    data = privacy.export_own_data(session=db_session(), actor=actor())
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"'},
    )
