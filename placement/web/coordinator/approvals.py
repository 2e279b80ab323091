"""Deciding a run's proposals: approve or reject one, or approve all that still fit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for

from placement.errors import Conflict, InvalidInput, WrongState
from placement.flask_db import current_settings, db_session
from placement.services import approvals, jobs
from placement.services.pages import placements as pages
from placement.services.pages.words import uk_date
from placement.web.common import actor, attempt, wants_json
from placement.web.coordinator.base import bp

DEFAULT_REASON = "Rejected by a coordinator"
# Refusals the run page's script shows in the row (a full slot, a decided proposal...).
REFUSED = (Conflict, InvalidInput, WrongState)


@bp.post("/proposals/<id:proposal_id>/approve")
def approve(proposal_id: int) -> Any:
    if wants_json():
        # The run page's script decides in place: the answer is the row's new state.
        done = attempt(lambda: pages.approve(db_session(), actor(), proposal_id), REFUSED)
        if done.value is None:
            return jsonify(ok=False, message=done.message), done.status
        return jsonify(
            ok=True, status="approved", message=f"Approved: {done.value.trainee_name} is placed."
        )
    done_ = pages.approve(db_session(), actor(), proposal_id)
    flash(f"Approved: {done_.trainee_name} is placed.", "success")
    return _back_to_run()


@bp.post("/proposals/<id:proposal_id>/reject")
def reject(proposal_id: int) -> Any:
    reason = request.form.get("reason", "").strip() or DEFAULT_REASON
    if "\x00" in reason:
        raise InvalidInput(errors={"reason": ["must not contain NUL characters"]})
    if wants_json():
        done = attempt(
            lambda: approvals.reject_proposal(
                session=db_session(), actor=actor(), proposal_id=proposal_id, reason=reason
            ),
            REFUSED,
        )
        if done.value is None:
            return jsonify(ok=False, message=done.message), done.status
        return jsonify(ok=True, status="rejected", message=f"Rejected: {reason}")
    proposal = approvals.reject_proposal(
        session=db_session(), actor=actor(), proposal_id=proposal_id, reason=reason
    )
    flash(f"Proposal {proposal.id} rejected.", "success")
    return _back_to_run()


@bp.route("/runs/<id:run_id>/approve-all", methods=["GET", "POST"])
def approve_all(run_id: int) -> Any:
    if request.method == "POST":
        large = pages.approve_all_page(db_session(), actor(), run_id).open_count
        if large > current_settings().background_rows:
            # A national run: approved in the background, with a progress bar.
            job = jobs.start_job(
                session=db_session(),
                actor=actor(),
                settings=current_settings(),
                kind="approve_all",
                run_id=run_id,
            )
            return redirect(url_for(".job_page", job_id=job.id))
        result = approvals.approve_all(session=db_session(), actor=actor(), run_id=run_id)
        message = f"Approved {result.approved} proposals."
        if result.conflicts:
            message += f" {result.conflicts} no longer fit and stay open."
        flash(message, "success" if not result.conflicts else "warning")
        return redirect(url_for(".run_page", run_id=run_id))
    view = pages.approve_all_page(db_session(), actor(), run_id)
    return render_template(
        "confirm.html",
        title=f"Approve all {view.open_count:,} open proposals of run {view.run.id}?",
        verb="Approve",
        yes="Yes, approve them",
        facts=[
            ("Round", view.round.name),
            ("Run", f"Run {view.run.id}, finished {_when(view.run.finished_at)}"),
            ("Open proposals", f"{view.open_count:,}"),
        ],
        consequence=(
            "Each open proposal that still fits becomes a live placement, cheapest first, "
            "and takes a seat. A proposal whose slot has filled up or whose trainee is "
            "already placed stays open, and you are told how many. The placed trainees' "
            "open proposals in other runs of this round are superseded. Each placement "
            "can be withdrawn later, one at a time."
        ),
        problem=view.problem,
        action=url_for(".approve_all", run_id=run_id),
        back=url_for(".run_page", run_id=run_id),
    )


def _when(moment: datetime | None) -> str:
    return f"{uk_date(moment)} UTC" if moment is not None else "not yet"


def _back_to_run() -> Any:
    target = request.form.get("next", "")
    if target.startswith("/coordinator/runs/") and "//" not in target and target.isprintable():
        return redirect(target)
    return redirect(url_for(".dashboard"))
