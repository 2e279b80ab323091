"""Trainee pages: profile, browsing slots, ranking them, and the placement once published."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for

from placement.errors import Conflict
from placement.flask_db import current_settings, db_session
from placement.models import ORGANISATION_KINDS
from placement.services import postcodes, preferences, privacy, trainees
from placement.services.offers import DECLINE_REASON_MAX
from placement.services.pages import offers as offer_pages
from placement.services.pages import outcomes, your_data
from placement.services.pages import trainee as pages
from placement.services.pages import vetting as vetting_pages
from placement.services.pages.outcomes import OutcomeView
from placement.services.pages.trainee import BrowseQuery
from placement.services.validation import TraineeFields
from placement.web.common import (
    actor,
    attempt,
    id_arg,
    int_or_404,
    load_form,
    number_arg,
    posted_order,
    role_required,
    search_arg,
    text,
    view_context,
    wants_json,
)
from placement.web.messages import human_errors

bp = Blueprint("trainee", __name__, url_prefix="/trainee")

# People type postcodes, never coordinates: the postcode sets them (services.postcodes).
PROFILE_FORM = tuple(n for n in trainees.PROFILE_FIELDS if n not in ("latitude", "longitude"))


@bp.before_request
@role_required("trainee")
def _trainees_only() -> None:
    return None


def _profile_values(t: Any) -> dict[str, Any]:
    values = {name: getattr(t, name) for name in PROFILE_FORM}
    values["skills"] = ", ".join(t.skills)
    for name in ("available_from", "available_to"):
        values[name] = values[name].isoformat() if values[name] else ""
    value = values["max_travel_km"]
    values["max_travel_km"] = "" if value is None else f"{value:g}"
    return values


def _profile_form(had_postcode: bool) -> dict[str, Any]:
    values = load_form(TraineeFields(), request.form, PROFILE_FORM)
    if had_postcode and values.get("postcode") is None:
        # Removing the postcode removes the home it placed; nothing else shows it here.
        values["latitude"] = values["longitude"] = None
    return values


@bp.route("/profile", methods=["GET", "POST"])
def profile() -> Any:
    view = vetting_pages.own_dbs(db_session(), actor())
    me = view.trainee
    values = _profile_values(me)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        values["share_needs"] = "share_needs" in request.form
        saved = attempt(
            lambda: trainees.update_own_profile(
                session=db_session(),
                actor=actor(),
                values=_profile_form(bool(me.postcode)),
                settings=current_settings(),
            )
        )
        if saved.ok:
            flash("Your profile is saved.", "success")
            return redirect(url_for(".profile"))
        errors, status = saved.errors, saved.status
    return render_template(
        "trainee/profile.html",
        title="Your profile",
        values=values,
        errors=errors,
        email=me.email,
        to_do=trainees.missing_in_words(me),
        dbs=view.status,
        location_note=postcodes.approximate_note(db_session(), me),
    ), status


@bp.get("/slots", endpoint="browse")
def browse() -> Any:
    filters = {
        "q": search_arg("q", 200),
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
    query = BrowseQuery(
        round_id=round_id,
        discipline=filters["discipline"] or None,
        host_kind=filters["kind"] or None,
        within_km=within,
        keywords=filters["q"] or None,
    )
    view = pages.browse_page(db_session(), actor(), None if errors else query)
    return render_template(
        "trainee/browse.html",
        title="Find placements",
        listings=view.listings,
        filters=filters,
        errors=human_errors(errors, filters),
        round_options=[(r.id, r.name) for r in view.open_rounds],
        discipline_options=[(d, d) for d in view.disciplines],
        kind_options=[(k, k.replace("_", " ")) for k in ORGANISATION_KINDS],
        home_known=view.home_known,
        chosen=view.chosen,
    ), (422 if errors else 200)


@bp.get("/slots/<id:slot_id>")
def slot_page(slot_id: int) -> Any:
    view = pages.slot_page(db_session(), actor(), slot_id)
    return render_template("trainee/slot.html", title=view.listing.slot.title, **view_context(view))


@bp.post("/choices/add")
def add_choice() -> Any:
    slot_id = int_or_404(request.form.get("slot_id"))
    target = pages.choice_slot(db_session(), actor(), slot_id)
    added = attempt(lambda: pages.add_choice(db_session(), actor(), slot_id))
    if added.value is None:
        problems = added.errors.get("slot_ids", [added.message])
        flash(f"Could not add “{target.title}”: {'; '.join(problems)}.", "error")
    elif added.value.position is None:
        flash(f"“{target.title}” is already in your choices.", "success")
    else:
        flash(
            f"“{target.title}” added as choice {added.value.position}. "
            "Put your choices in order on this page.",
            "success",
        )
        if added.value.warning:
            flash(
                f"You cannot be matched to “{target.title}”: {added.value.warning}",
                "warning",
            )
    return redirect(url_for(".choices", round=target.round_id))


@bp.route("/choices", methods=["GET", "POST"])
def choices() -> Any:
    raw = request.values.get("round")
    round_id = int_or_404(raw) if raw else None
    view = pages.choices_page(db_session(), actor(), round_id)
    if view.round is None:
        return render_template("trainee/choices.html", title="Your choices", round=None)
    rnd = view.round
    errors: list[str] = []
    status = 200
    unsaved = False
    if request.method == "POST":
        slot_ids, unsaved = posted_order("slot_ids")
        if not unsaved:
            assert rnd.id is not None
            chosen_round: int = rnd.id
            saved = attempt(
                lambda: preferences.set_preferences(
                    session=db_session(), actor=actor(), round_id=chosen_round, slot_ids=slot_ids
                )
            )
            if wants_json():
                if saved.value is None:
                    problems = (
                        saved.errors.get("slot_ids")
                        or saved.errors.get("profile")
                        or [saved.message]
                    )
                    return jsonify(saved=False, errors=problems), saved.status
                return jsonify(saved=True, count=len(saved.value.slot_ids))
            if saved.value is not None:
                count = len(saved.value.slot_ids)
                flash(
                    f"Your {count} choice{'s are' if count != 1 else ' is'} saved for {rnd.name}.",
                    "success",
                )
                return redirect(url_for(".choices", round=rnd.id))
            errors = saved.errors.get("slot_ids") or saved.errors.get("profile") or [saved.message]
            status = saved.status
        view = pages.choices_page(db_session(), actor(), rnd.id, slot_ids=slot_ids)
    return render_template(
        "trainee/choices.html",
        title="Your choices",
        errors=errors,
        unsaved=unsaved,
        **view_context(view),
    ), status


@bp.get("/placement", endpoint="placements")
def placements_page() -> Any:
    view = offer_pages.trainee_placements_page(db_session(), actor())
    return render_template("trainee/placements.html", title="Your placement", **view_context(view))


@bp.post("/placement/<id:placement_id>/accept")
def accept_offer(placement_id: int) -> Any:
    done = attempt(
        lambda: offer_pages.accept(db_session(), actor(), placement_id), refused=(Conflict,)
    )
    if done.value is not None:
        flash(
            f"You accepted {done.value.slot_title} at {done.value.organisation}. "
            "Your host can now see how to contact you.",
            "success",
        )
    else:
        flash(done.message, "error")
    return redirect(url_for(".placements"), code=303)


@bp.route("/placement/<id:placement_id>/decline", methods=["GET", "POST"])
def decline_offer(placement_id: int) -> Any:
    values: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = {"reason": text(request.form, "reason")}
        if len(values["reason"]) > DECLINE_REASON_MAX:
            errors = {"reason": [f"Longer than {DECLINE_REASON_MAX} characters."]}
            status = 422
        else:
            done = attempt(
                lambda: offer_pages.decline(
                    db_session(), actor(), placement_id, values["reason"] or None
                ),
                refused=(Conflict,),
            )
            if done.value is not None:
                flash(
                    f"You declined {done.value.slot_title} at {done.value.organisation}. "
                    "The place is free for someone else.",
                    "success",
                )
                return redirect(url_for(".placements"), code=303)
            flash(done.message, "error")
            return redirect(url_for(".placements"), code=303)
    view = offer_pages.answer_page(db_session(), actor(), placement_id)
    return render_template(
        "trainee/decline.html",
        title=f"Decline {view.offer.listing.slot.title}?",
        offer=view.offer,
        values=values,
        errors=errors,
    ), status


EXPORT_FILENAME = "placement-my-data.json"


@bp.get("/data", endpoint="data")
def data_page() -> Any:
    view = your_data.data_page(db_session(), actor())
    return render_template(
        "trainee/data.html", title="Your data", view=view, filename=EXPORT_FILENAME
    )


@bp.get("/data.json")
def data_json() -> Any:
    data = privacy.export_own_data(session=db_session(), actor=actor())
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"'},
    )


@bp.get("/placement/<id:placement_id>/safety")
def safety(placement_id: int) -> Any:
    view = vetting_pages.safety_page(db_session(), actor(), placement_id)
    return render_template(
        "safety.html",
        title=f"Safety details: {view.slot.title}",
        values={},
        errors={},
        back=url_for(".placements"),
        sign_off_url=None,
        **view_context(view),
    )


@bp.app_template_global("trainee_outcomes")
def trainee_outcomes() -> list[OutcomeView]:
    """For trainee/_outcome.html: the signed-in trainee's explained outcomes."""
    return outcomes.trainee_outcomes(db_session(), actor())
