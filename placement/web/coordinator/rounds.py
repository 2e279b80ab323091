"""Rounds: the dashboard, creating a round, a round's page and its state changes."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from placement.flask_db import db_session
from placement.services import rounds
from placement.services.pages import rounds as pages
from placement.services.validation import RoundFields
from placement.web.common import actor, attempt, load_form, view_context
from placement.web.coordinator.base import bp

ROUND_FORM = (
    "name",
    "region",
    "starts_on",
    "ends_on",
    "preference_deadline",
    "max_preferences",
    "offer_days",
)
ACTIONS = {
    "open": (
        "Open",
        "Trainees and employers will see the round: trainees can rank its slots and "
        "employers can rank their applicants.",
    ),
    "close": (
        "Close",
        "Trainees can no longer change their choices and employers their rankings. "
        "You can then run the matcher.",
    ),
    "publish": (
        "Publish",
        "Approved placements become offers: trainees see them and accept or decline them "
        "within the round's offer days, and hosts see them. This cannot be undone.",
    ),
}


@bp.get("/")
def dashboard() -> Any:
    view = pages.dashboard(db_session(), actor())
    return render_template("coordinator/dashboard.html", title="Rounds", **view_context(view))


@bp.route("/rounds/new", methods=["GET", "POST"])
def new_round() -> Any:
    values: dict[str, Any] = {"max_preferences": 10, "offer_days": 7}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        created = attempt(
            lambda: rounds.create_round(
                session=db_session(),
                actor=actor(),
                values=load_form(RoundFields(), request.form, ROUND_FORM),
            )
        )
        if created.value is not None:
            flash(f"Round “{created.value.name}” created as a draft.", "success")
            return redirect(url_for(".round_page", round_id=created.value.id))
        errors, status = created.errors, created.status
    return render_template(
        "coordinator/round_form.html", title="Create a round", values=values, errors=errors
    ), status


@bp.get("/rounds/<id:round_id>")
def round_page(round_id: int) -> Any:
    view = pages.round_page(db_session(), actor(), round_id)
    return render_template(
        "coordinator/round.html", title=view.round.name, actions=ACTIONS, **view_context(view)
    )


@bp.route("/rounds/<id:round_id>/<any(open, close, publish):action>", methods=["GET", "POST"])
def transition(round_id: int, action: str) -> Any:
    if request.method == "POST":
        rnd = rounds.transition_round(
            session=db_session(), actor=actor(), round_id=round_id, action=action
        )
        flash(f"Round “{rnd.name}” is now {rnd.status}.", "success")
        return redirect(url_for(".round_page", round_id=round_id))
    view = pages.transition_page(db_session(), actor(), round_id, action)
    verb, consequence = ACTIONS[action]
    return render_template(
        "confirm.html",
        title=f"{verb} “{view.round.name}”?",
        round=view.round,
        verb=verb,
        facts=view.facts,
        consequence=f"{view.outcome} {consequence}",
        warnings=view.warnings,
        problem=view.problem,
        yes=f"{verb} the round anyway" if view.warnings else None,
        action=url_for(".transition", round_id=round_id, action=action),
        back=url_for(".round_page", round_id=round_id),
    )
