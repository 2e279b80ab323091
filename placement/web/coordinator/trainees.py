"""A round's trainees, and erasing a trainee's personal data."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from placement.flask_db import db_session
from placement.services import accounts, privacy
from placement.services.pages import trainees as pages
from placement.web.common import actor, client_ip, id_arg, page_arg, search_arg, view_context
from placement.web.coordinator.base import bp

TRAINEES_PER_PAGE = 50
SEARCH_MAX = 100


@bp.get("/rounds/<id:round_id>/trainees")
def round_trainees(round_id: int) -> Any:
    q = search_arg("q", SEARCH_MAX)
    view = pages.round_trainees(
        db_session(), actor(), round_id, q=q or None, page=page_arg(), per_page=TRAINEES_PER_PAGE
    )
    return render_template(
        "coordinator/trainees.html",
        title=f"Trainees in {view.round.name}",
        q=q,
        **view_context(view),
    )


@bp.post("/rounds/<id:round_id>/invitations")
def invite(round_id: int) -> Any:
    """Mail an invitation link to every imported trainee of the round without a login."""
    sent = accounts.invite_round(
        session=db_session(), actor=actor(), round_id=round_id, ip=client_ip()
    )
    if sent:
        flash(
            f"Invitations sent to {sent} trainee{'s' if sent != 1 else ''} without a login.",
            "success",
        )
    else:
        flash(
            "Nobody to invite: every trainee with an email has a login, or was invited "
            "in the last hour.",
            "warning",
        )
    return redirect(url_for(".round_trainees", round_id=round_id))


@bp.get("/trainees/<id:trainee_id>")
def trainee_record(trainee_id: int) -> Any:
    round_id = id_arg(request.args.get("round", ""), "round", {})
    view = pages.trainee_record(db_session(), actor(), trainee_id, round_id)
    return render_template(
        "coordinator/trainee.html", title=view.trainee.name, **view_context(view)
    )


@bp.route("/trainees/<id:trainee_id>/erase", methods=["GET", "POST"])
def erase(trainee_id: int) -> Any:
    round_id = id_arg(request.values.get("round", ""), "round", {})
    back = (
        url_for(".round_trainees", round_id=round_id)
        if round_id is not None
        else url_for(".dashboard")
    )
    if request.method == "POST":
        privacy.erase_trainee(session=db_session(), actor=actor(), trainee_id=trainee_id)
        flash(
            f"Trainee {trainee_id}'s personal data is erased; their match history is kept, "
            "anonymised.",
            "success",
        )
        return redirect(back)
    view = privacy.erasure_preview(session=db_session(), actor=actor(), trainee_id=trainee_id)
    trainee = view.trainee
    return render_template(
        "confirm.html",
        title=trainee.name if view.problem else f"Erase {trainee.name}'s personal data?",
        verb="Erase",
        danger=True,
        facts=[
            ("Trainee", f"{trainee.name} (number {trainee.id})"),
            ("Email", trainee.email or "—"),
            ("Login", "yes" if trainee.user_id is not None else "none"),
        ],
        consequence="Erasure cannot be undone. Do it when the trainee asks for their data "
        "to be erased, or when you no longer have a reason to keep it.",
        removed=view.removed,
        kept=view.kept,
        problem=view.problem,
        action=url_for(".erase", trainee_id=trainee_id, round=round_id),
        back=back,
    )
