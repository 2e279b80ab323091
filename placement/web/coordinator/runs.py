"""Match runs: starting one, its page and progress, why a trainee got their outcome,
and two runs compared."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for

from placement.errors import InvalidInput, WrongState
from placement.flask_db import db_session, settings_of
from placement.models import MatchRun, ProposalStatus
from placement.services import runs
from placement.services.common import Page
from placement.services.pages import runs as pages
from placement.services.pages import seat_values as seat_pages
from placement.services.pages.words import run_label
from placement.services.validation import WeightsFields
from placement.web import charts
from placement.web.common import actor, attempt, id_arg, load_form, page_arg, view_context
from placement.web.coordinator.base import bp

WEIGHT_LABELS = {
    "preference": "Trainees' choices",
    "employer": "Employers' rankings",
    "skills": "Missing skills",
    "distance": "Travel distance",
}
PHASE_LABELS = {
    "queued": "waiting for a worker",
    "loading": "loading the round",
    "solving": "solving",
    "writing": "saving the proposals",
    "done": "done",
}
PROPOSALS_PER_PAGE = 25
PROPOSAL_FILTERS = ("trainee", "slot", "rank", "status")
SEARCH_MAX = 100


@bp.route("/rounds/<id:round_id>/runs/new", methods=["GET", "POST"])
def new_run(round_id: int) -> Any:
    view = pages.new_run_page(db_session(), actor(), round_id)
    values: dict[str, Any] = {k: f"{v:g}" for k, v in view.defaults.items()}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        values["allow_unranked"] = "allow_unranked" in request.form
        started = attempt(
            lambda: runs.start_run(
                session=db_session(),
                actor=actor(),
                round_id=round_id,
                weights=load_form(WeightsFields(), request.form, tuple(WEIGHT_LABELS)),
                allow_unranked=bool(values["allow_unranked"]),
                settings=settings_of(current_app),
                name=str(values.get("name", "")),
            )
        )
        if started.value is not None:
            flash(f"{run_label(started.value)} is queued.", "success")
            return redirect(url_for(".run_page", run_id=started.value.id))
        errors = {k.removeprefix("weights."): v for k, v in started.errors.items()}
        status = started.status
    return render_template(
        "coordinator/run_form.html",
        title="Start a clearing run" if view.round.status == "published" else "Start a match run",
        round=view.round,
        values=values,
        errors=errors,
        labels=WEIGHT_LABELS,
        defaults=view.defaults,
    ), status


def _run_json(run: MatchRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "status_label": run.status,
        "progress": run.progress,
        "phase": run.phase,
        "phase_label": PHASE_LABELS.get(run.phase, run.phase),
        "error": run.error,
        "page_url": url_for(".run_page", run_id=run.id),
    }


@bp.get("/runs/<id:run_id>/progress.json")
def run_progress(run_id: int) -> Any:
    run = pages.run_progress(db_session(), actor(), run_id)
    response = jsonify(_run_json(run))
    response.headers["Cache-Control"] = "no-store"
    return response


def _proposal_filters() -> tuple[dict[str, str], dict[str, list[str]]]:
    """The proposals table's filters from the query string, with inline messages if bad."""
    filters = {name: request.args.get(name, "").strip() for name in PROPOSAL_FILTERS}
    problems: dict[str, list[str]] = {}
    for name in ("trainee", "slot"):
        if len(filters[name]) > SEARCH_MAX:
            problems[name] = [f"must be at most {SEARCH_MAX} characters"]
        elif "\x00" in filters[name]:
            problems[name] = ["must not contain NUL characters"]
    if filters["rank"] and filters["rank"] not in pages.RANK_BANDS:
        problems["rank"] = ["choose one of the listed choices"]
    if filters["status"] and filters["status"] not in tuple(ProposalStatus):
        problems["status"] = [f"must be one of {', '.join(ProposalStatus)}"]
    return filters, problems


@bp.get("/runs/<id:run_id>")
def run_page(run_id: int) -> Any:
    filters, problems = _proposal_filters()
    view = pages.run_page(
        db_session(),
        actor(),
        run_id,
        filters=None if problems else filters,
        page=page_arg(),
        per_page=PROPOSALS_PER_PAGE,
    )
    context: dict[str, Any] = {
        "title": f"Run {view.run.id}",
        "run": view.run,
        "round": view.round,
        "progress": _run_json(view.run),
        "labels": WEIGHT_LABELS,
    }
    results = view.results
    if results is not None:
        proposals: Page[pages.ProposalRow] = results.proposals
        context.update(
            stats=view.run.stats or {},
            proposals=proposals,
            filters=filters,
            query={k: v for k, v in filters.items() if v and k not in problems},
            filter_errors=problems,
            status_options=[(s, s) for s in ProposalStatus],
            rank_bands=pages.RANK_BANDS,
            unplaced=results.unplaced,
            names=results.names,
            chart=charts.bar_chart(
                results.bars, title="Proposals by the trainee's rank of their slot"
            ),
            bars=results.bars,
            open_count=results.open_count,
        )
    status = 422 if results is not None and problems else 200
    return render_template("coordinator/run.html", **context), status


@bp.get("/runs/<id:run_id>/trainees/<id:trainee_id>/why")
def why(run_id: int, trainee_id: int) -> Any:
    view = pages.why_page(db_session(), actor(), run_id, trainee_id)
    return render_template("coordinator/why.html", title="Why this outcome", **view_context(view))


@bp.get("/runs/<id:run_id>/trainees/<id:trainee_id>/why.part")
def why_part(run_id: int, trainee_id: int) -> Any:
    """The same explanation as a fragment, fetched when a proposal's "why" panel opens:
    one explanation per panel opened, never one per row when the table is drawn."""
    view = pages.why_page(db_session(), actor(), run_id, trainee_id)
    return render_template(
        "coordinator/why_part.html", title="Why this outcome", **view_context(view)
    )


MODE_LABELS = {"optimal": "Optimal (most placed)", "stable": "Stable (no blocking pairs)"}
SEAT_VALUES_PER_PAGE = 50


@bp.post("/rounds/<id:round_id>/runs/both")
def start_both(round_id: int) -> Any:
    """One click: the optimal and the stable mode on the same round, compared when done."""
    started = attempt(
        lambda: pages.start_side_by_side(db_session(), actor(), round_id, settings_of(current_app)),
        refused=(InvalidInput, WrongState),
    )
    if started.value is None:
        flash(f"Could not start the runs: {started.message}", "error")
        return redirect(url_for(".round_page", round_id=round_id))
    optimal, stable = started.value
    flash(f"Runs {optimal.id} (optimal) and {stable.id} (stable) are queued.", "success")
    return redirect(url_for(".compare", round_id=round_id, run=[optimal.id, stable.id]))


def _series_name(run: MatchRun) -> str:
    return f"Run {run.id}: {run.mode}"


@bp.get("/rounds/<id:round_id>/compare")
def compare(round_id: int) -> Any:
    chosen = [id_arg(c, "run", {}) for c in request.args.getlist("run")]
    run_ids = [c for c in chosen if c is not None]
    if len(chosen) != 2 or len(run_ids) != 2:
        flash("Tick exactly two finished runs to compare them.", "warning")
        return redirect(url_for(".round_page", round_id=round_id))
    if run_ids[0] == run_ids[1]:
        flash("Choose two different runs: a run compared with itself shows nothing.", "warning")
        return redirect(url_for(".round_page", round_id=round_id))
    view = pages.compare_page(db_session(), actor(), round_id, run_ids[0], run_ids[1])
    labels = list(dict.fromkeys([b.label for b in view.bars_a] + [b.label for b in view.bars_b]))
    if "unranked" in labels:  # keep 'unranked' last
        labels = [x for x in labels if x != "unranked"] + ["unranked"]
    count_a = {b.label: b.count for b in view.bars_a}
    count_b = {b.label: b.count for b in view.bars_b}
    rank_rows = [(x, count_a.get(x, 0), count_b.get(x, 0)) for x in labels]
    chart = charts.grouped_bar_chart(
        labels,
        [
            (_series_name(view.a), [a for _, a, _ in rank_rows]),
            (_series_name(view.b), [b for _, _, b in rank_rows]),
        ],
        title="Proposals by the trainee's rank of their slot, both runs",
        chart_id="compare-chart",
    )
    return render_template(
        "coordinator/compare.html",
        title=f"{run_label(view.a)} and {run_label(view.b)} compared",
        labels=WEIGHT_LABELS,
        mode_labels=MODE_LABELS,
        chart=chart if view.comparison is not None else None,
        rank_rows=rank_rows,
        compare_url=url_for(".compare", round_id=round_id, run=[view.a.id, view.b.id]),
        progress={r.id: _run_json(r) for r in (view.a, view.b)},
        **view_context(view),
    )


@bp.get("/runs/<id:run_id>/seat-values")
def seat_values(run_id: int) -> Any:
    view = seat_pages.seat_values_page(
        db_session(), actor(), run_id, page=page_arg(), per_page=SEAT_VALUES_PER_PAGE
    )
    return render_template(
        "coordinator/seat_values.html",
        title=f"Where one more seat helps: run {view.run.id}",
        choice=seat_pages.choice,
        **view_context(view),
    )
