"""A round's placements: the list, withdrawing one, the CSV export, and the offer report."""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from placement.flask_db import current_settings, db_session
from placement.models import PlacementStatus
from placement.services import instance_json, jobs, placements
from placement.services.pages import jobs as job_pages
from placement.services.pages import offers as offer_pages
from placement.services.pages import placements as pages
from placement.services.pages.words import uk_dates
from placement.services.spreadsheets import XLSX_TYPE
from placement.web.common import actor, page_arg, view_context
from placement.web.coordinator.base import bp

PLACEMENTS_PER_PAGE = 50


@bp.get("/rounds/<id:round_id>/placements")
def round_placements(round_id: int) -> Any:
    raw = request.args.get("status", "").strip()
    if raw and raw not in tuple(PlacementStatus):
        abort(404)
    view = pages.round_placements(
        db_session(),
        actor(),
        round_id,
        status=PlacementStatus(raw) if raw else None,
        page=page_arg(),
        per_page=PLACEMENTS_PER_PAGE,
    )
    return render_template(
        "coordinator/placements.html",
        title=f"Placements in {view.round.name}",
        status=raw,
        status_options=[(s.value, s.value.capitalize()) for s in PlacementStatus],
        **view_context(view),
    )


@bp.route("/placements/<id:placement_id>/withdraw", methods=["GET", "POST"])
def withdraw(placement_id: int) -> Any:
    if request.method == "POST":
        done = pages.withdraw(db_session(), actor(), placement_id)
        flash(
            f"Placement withdrawn: {done.trainee_name} is no "
            "longer placed, and the seat is free again.",
            "success",
        )
        return redirect(url_for(".round_placements", round_id=done.placement.round_id))
    view = pages.withdraw_page(db_session(), actor(), placement_id)
    consequence = (
        f"{view.trainee_name} will no longer be placed at {view.slot.title} "
        f"({view.organisation}), and the seat there is free again. "
        + ("The trainee and the host will no longer see this placement. " if view.published else "")
        + "The approval stays in the run's history and the audit log. This cannot be undone."
    )
    return render_template(
        "confirm.html",
        title=f"Withdraw {view.trainee_name}'s placement?",
        verb="Withdraw",
        danger=True,
        facts=[
            ("Trainee", view.trainee_name),
            ("Slot", f"{view.slot.title}, {view.organisation}"),
            ("Dates", uk_dates(view.slot.starts_on, view.slot.ends_on)),
            ("Round", view.round.name),
            ("Status", view.placement.status),
        ],
        consequence=consequence,
        problem=None if view.live else "This placement is already withdrawn.",
        action=url_for(".withdraw", placement_id=placement_id),
        back=url_for(".round_placements", round_id=view.round.id),
    )


@bp.get("/rounds/<id:round_id>/placements.csv")
def placements_csv(round_id: int) -> Any:
    chunks = placements.placements_csv_stream(
        session=db_session(), actor=actor(), round_id=round_id
    )
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="round-{round_id}-placements.csv"'},
    )


@bp.get("/rounds/<id:round_id>/placements.xlsx")
def placements_xlsx(round_id: int) -> Any:
    body = placements.placements_xlsx(session=db_session(), actor=actor(), round_id=round_id)
    return Response(
        body,
        mimetype=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="round-{round_id}-placements.xlsx"'},
    )


@bp.get("/rounds/<id:round_id>/report")
def round_report(round_id: int) -> Any:
    view = offer_pages.report_page(db_session(), actor(), round_id)
    return render_template(
        "coordinator/report.html", title=f"Offers in {view.round.name}", **view_context(view)
    )


@bp.get("/rounds/<id:round_id>/report.csv")
def round_report_csv(round_id: int) -> Any:
    text = placements.round_report_csv(session=db_session(), actor=actor(), round_id=round_id)
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="round-{round_id}-report.csv"'},
    )


@bp.get("/rounds/<id:round_id>/instance.json")
def instance_file(round_id: int) -> Any:
    """The round's instance file; a large round's is written in the background, and its
    page shows progress, then the download."""
    if job_pages.export_size(db_session(), actor(), round_id) > current_settings().background_rows:
        job = jobs.start_job(
            session=db_session(),
            actor=actor(),
            settings=current_settings(),
            kind="export_instance",
            round_id=round_id,
        )
        return redirect(url_for(".job_page", job_id=job.id))
    body = instance_json.export_instance_file(
        session=db_session(), actor=actor(), round_id=round_id
    )
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="round-{round_id}-instance.json"'},
    )
