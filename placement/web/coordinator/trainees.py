"""A round's trainees, and erasing a trainee's personal data."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from placement.errors import InvalidInput, WrongState
from placement.flask_db import db_session
from placement.services import accounts, bulk, notes, privacy
from placement.services.pages import trainees as pages
from placement.web.common import (
    actor,
    attempt,
    client_ip,
    id_arg,
    page_arg,
    search_arg,
    view_context,
)
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


def posted_ids(name: str) -> list[int]:
    """The rows ticked in a bulk form; a value that cannot be an id is refused."""
    ids: list[int] = []
    errors: dict[str, list[str]] = {}
    for raw in request.form.getlist(name):
        value = id_arg(raw, name, errors)
        if errors or value is None:
            raise InvalidInput(errors={name: ["choose rows from the list"]})
        ids.append(value)
    return ids


def counted(result: bulk.BulkResult, done: str, *, none: str) -> None:
    """Flash what a bulk action did, in numbers, and which rows it left and why."""
    if result.done:
        flash(done.format(n=result.done, s="s" if result.done != 1 else ""), "success")
    if result.skipped:
        left = "; ".join(f"{name} ({why})" for name, why in result.skipped[:20])
        more = len(result.skipped) - 20
        flash(
            f"{none} {len(result.skipped)} left: {left}"
            + (f"; and {more} more." if more > 0 else "."),
            "warning",
        )


def _back(round_id: int) -> str:
    return url_for(
        ".round_trainees",
        round_id=round_id,
        q=request.form.get("q") or None,
        page=request.form.get("page") or None,
    )


def _all_matching() -> tuple[bool, str | None]:
    """Whether the form asked for every trainee that matches its search (not only the
    ticked rows), and that search."""
    q = (request.form.get("q") or "").replace("\x00", "").strip()[:SEARCH_MAX] or None
    return request.form.get("all_matching") == "1", q


@bp.post("/rounds/<id:round_id>/trainees/bulk")
def bulk_trainees(round_id: int) -> Any:
    """The bulk form of the trainees list: invite at once; withdrawal is confirmed first."""
    ids = posted_ids("trainee_id")
    every, q = _all_matching()
    if not ids and not every:
        flash("Select at least one trainee first.", "error")
        return redirect(_back(round_id))
    if request.form.get("action") == "withdraw":
        return _withdraw_confirmation(round_id, ids, every, q)
    done = attempt(
        lambda: bulk.invite_trainees(
            session=db_session(),
            actor=actor(),
            round_id=round_id,
            trainee_ids=ids,
            ip=client_ip(),
            all_matching=every,
            q=q,
        )
    )
    if done.value is None:
        flash(done.message, "error")
    else:
        counted(done.value, "Invitations sent to {n} trainee{s}.", none="Not invited:")
    return redirect(_back(round_id))


# The confirmation names this many trainees, then says how many more.
NAMES_SHOWN = 50


def _first(items: list[str], what: str) -> list[str]:
    more = len(items) - NAMES_SHOWN
    return items[:NAMES_SHOWN] + ([f"and {more:,} more {what}"] if more > 0 else [])


def _withdraw_confirmation(round_id: int, ids: list[int], every: bool, q: str | None) -> Any:
    done = attempt(
        lambda: bulk.withdrawal_preview(
            session=db_session(),
            actor=actor(),
            round_id=round_id,
            trainee_ids=ids,
            all_matching=every,
            q=q,
        )
    )
    if done.value is None:
        flash(done.message, "error")
        return redirect(_back(round_id))
    view = done.value
    n = len(view.withdrawn)
    problem = view.problem or (None if n else "None of the selected trainees can be withdrawn.")
    hidden: list[tuple[str, Any]] = (
        [("all_matching", "1"), ("q", q or ""), ("expected", view.selected)]
        if every
        else [("trainee_id", i) for i in ids]
    )
    return render_template(
        "confirm.html",
        title=f"Withdraw {n} trainee{'s' if n != 1 else ''} from {view.round.name}?",
        verb="Withdraw",
        yes=f"Yes, withdraw {n} trainee{'s' if n != 1 else ''}",
        danger=True,
        facts=[
            ("Round", view.round.name),
            ("Selected", f"{view.selected:,}"),
            ("Will be withdrawn", f"{n:,}"),
            ("Their choices removed", f"{view.choices:,}"),
            ("Left as they are", f"{len(view.skipped):,}"),
        ],
        consequence=f"{n:,} trainee{'s' if n != 1 else ''} leave the round and "
        f"{view.choices:,} ranked choice{'s' if view.choices != 1 else ''} are removed: "
        "later match runs leave them out. Their profiles, earlier runs and history are "
        "kept. While the round is open they can join again by ranking its slots.",
        removed=_first(
            [f"{name} from the round, with their choices" for name in view.withdrawn], "trainees"
        ),
        kept=_first([f"{name}: {why}" for name, why in view.skipped], "trainees"),
        problem=problem,
        hidden=hidden,
        action=url_for(".withdraw_trainees", round_id=round_id),
        back=url_for(".round_trainees", round_id=round_id),
    )


@bp.post("/rounds/<id:round_id>/trainees/withdraw")
def withdraw_trainees(round_id: int) -> Any:
    ids = posted_ids("trainee_id")
    every, q = _all_matching()
    expected = id_arg(request.form.get("expected", ""), "expected", {}) if every else None
    done = attempt(
        lambda: bulk.withdraw_from_round(
            session=db_session(),
            actor=actor(),
            round_id=round_id,
            trainee_ids=ids,
            all_matching=every,
            q=q,
            expected=expected,
        ),
        refused=(InvalidInput, WrongState),
    )
    if done.value is None:
        flash(done.message, "error")
    else:
        counted(done.value, "{n} trainee{s} withdrawn from the round.", none="Not withdrawn:")
    return redirect(url_for(".round_trainees", round_id=round_id))


@bp.get("/trainees/<id:trainee_id>")
def trainee_record(trainee_id: int) -> Any:
    round_id = id_arg(request.args.get("round", ""), "round", {})
    view = pages.trainee_record(db_session(), actor(), trainee_id, round_id)
    return render_template(
        "coordinator/trainee.html", title=view.trainee.name, **view_context(view)
    )


@bp.post("/trainees/<id:trainee_id>/notes")
def add_note(trainee_id: int) -> Any:
    round_id = id_arg(request.form.get("round", ""), "round", {})
    done = attempt(
        lambda: notes.add_note(
            session=db_session(),
            actor=actor(),
            trainee_id=trainee_id,
            text=request.form.get("text", ""),
        )
    )
    if done.value is None:
        view = pages.trainee_record(db_session(), actor(), trainee_id, round_id)
        return render_template(
            "coordinator/trainee.html",
            title=f"Error: {view.trainee.name}",
            errors=done.errors,
            values={"text": request.form.get("text", "")},
            **view_context(view),
        ), done.status
    flash("Note added.", "success")
    return redirect(
        url_for(".trainee_record", trainee_id=trainee_id, round=round_id, _anchor="notes-h")
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
