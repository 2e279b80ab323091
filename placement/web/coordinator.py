"""Coordinator pages: rounds, hosts, imports, match runs, approvals, the audit log."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from placement.errors import InvalidInput, NotFound
from placement.flask_db import db_session, settings_of
from placement.models import PROPOSAL_STATUSES, MatchRun
from placement.services import (
    approvals,
    audit,
    imports,
    instances,
    organisations,
    pages,
    placements,
    privacy,
    rounds,
    runs,
    trainees,
)
from placement.services.common import Page
from placement.services.validation import RoundFields, WeightsFields
from placement.web import charts, errors
from placement.web.common import (
    actor,
    field_errors,
    id_arg,
    load_form,
    page_arg,
    role_required,
    search_arg,
)

bp = errors.install(Blueprint("coordinator", __name__, url_prefix="/coordinator"))


@bp.before_request
@role_required("coordinator")
def _coordinators_only() -> None:
    return None


ROUND_FORM = ("name", "region", "starts_on", "ends_on", "preference_deadline", "max_preferences")
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
        "Approved placements become visible to the trainees and employers. This cannot be undone.",
    ),
}


@bp.get("/")
def dashboard() -> Any:
    session = db_session()
    return render_template(
        "coordinator/dashboard.html",
        title="Rounds",
        rows=pages.dashboard_counts(session),
        unverified=pages.unverified_organisations(session),
    )


@bp.route("/rounds/new", methods=["GET", "POST"])
def new_round() -> Any:
    values: dict[str, Any] = {"max_preferences": 10}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        try:
            loaded = load_form(RoundFields(), request.form, ROUND_FORM)
            rnd = rounds.create_round(session=db_session(), actor=actor(), values=loaded)
        except InvalidInput as exc:
            errors, status = field_errors(exc.errors), 422
        else:
            flash(f"Round “{rnd.name}” created as a draft.", "success")
            return redirect(url_for(".round_page", round_id=rnd.id))
    return render_template(
        "coordinator/round_form.html", title="Create a round", values=values, errors=errors
    ), status


@bp.get("/rounds/<id:round_id>")
def round_page(round_id: int) -> Any:
    session = db_session()
    rnd = rounds.get_round_for(session=session, actor=actor(), round_id=round_id)
    summary = next((r for r in pages.dashboard_counts(session) if r.round.id == rnd.id), None)
    return render_template(
        "coordinator/round.html",
        title=rnd.name,
        round=rnd,
        summary=summary,
        runs=_runs_of(round_id),
        actions=ACTIONS,
        next_action=_next_action(rnd.status),
    )


def _next_action(status: str) -> str | None:
    for action, (source, _target) in rounds.TRANSITIONS.items():
        if source == status:
            return action
    return None


def _runs_of(round_id: int) -> list[Any]:
    page = runs.list_runs(session=db_session(), actor=actor(), round_id=round_id, per_page=100)
    return list(page.items)


@bp.route("/rounds/<id:round_id>/<any(open, close, publish):action>", methods=["GET", "POST"])
def transition(round_id: int, action: str) -> Any:
    session = db_session()
    rnd = rounds.get_round_for(session=session, actor=actor(), round_id=round_id)
    if request.method == "POST":
        rnd = rounds.transition_round(
            session=session, actor=actor(), round_id=round_id, action=action
        )
        flash(f"Round “{rnd.name}” is now {rnd.status}.", "success")
        return redirect(url_for(".round_page", round_id=round_id))
    verb, consequence = ACTIONS[action]
    return render_template(
        "confirm.html",
        title=f"{verb} “{rnd.name}”?",
        round=rnd,
        verb=verb,
        consequence=consequence,
        action=url_for(".transition", round_id=round_id, action=action),
        back=url_for(".round_page", round_id=round_id),
    )


@bp.get("/organisations", endpoint="organisations")
def organisations_page() -> Any:
    page = organisations.list_organisations(
        session=db_session(), actor=actor(), page=page_arg(), per_page=100
    )
    items = sorted(page.items, key=lambda o: (o.verified, o.name.lower()))
    return render_template(
        "coordinator/organisations.html", title="Host organisations", page=page, items=items
    )


@bp.post("/organisations/<id:organisation_id>/verify")
def verify(organisation_id: int) -> Any:
    org = organisations.verify_organisation(
        session=db_session(), actor=actor(), organisation_id=organisation_id
    )
    flash(f"{org.name} is verified: it can now post slots.", "success")
    return redirect(url_for(".organisations"))


@bp.get("/audit")
def audit_log() -> Any:
    session = db_session()
    action = search_arg("action") or None
    page = audit.list_audit(
        session=session, actor=actor(), action=action, page=page_arg(), per_page=100
    )
    return render_template(
        "coordinator/audit.html",
        title="Audit log",
        page=page,
        action=action or "",
        names=pages.user_names(session, (e.actor_id for e in page.items)),
    )


# --- CSV import ------------------------------------------------------------------------

IMPORTERS = {
    "trainees": (imports.import_trainees, imports.TRAINEE_COLUMNS, imports.TRAINEE_REQUIRED),
    "slots": (imports.import_slots, imports.SLOT_COLUMNS, imports.SLOT_REQUIRED),
}
PREVIEW_ROWS = 20


@bp.route("/rounds/<id:round_id>/import/<any(trainees, slots):kind>", methods=["GET", "POST"])
def import_page(round_id: int, kind: str) -> Any:
    session = db_session()
    rnd = rounds.get_round_for(session=session, actor=actor(), round_id=round_id)
    importer, columns, required = IMPORTERS[kind]
    context: dict[str, Any] = {
        "title": f"Import {kind}",
        "round": rnd,
        "kind": kind,
        "columns": columns,
        "required": required,
        "csv_text": "",
        "preview": None,
        "problems": [],
        "message": None,
    }
    status = 200
    if request.method == "POST":
        data = _uploaded_csv()
        if data is None:
            context["message"] = "Choose a CSV file to import."
            return render_template("coordinator/import.html", **context), 422
        context["csv_text"] = data.decode("utf-8-sig", errors="replace")
        if request.form.get("step") == "import":
            try:
                result = importer(session=session, actor=actor(), round_id=round_id, data=data)
            except InvalidInput as exc:
                session.rollback()
                context["message"] = exc.message
                context["problems"] = exc.errors if isinstance(exc.errors, list) else []
                status = 422
            else:
                flash(
                    f"Imported {kind}: {result.created} created, {result.updated} updated.",
                    "success",
                )
                return redirect(url_for(".round_page", round_id=round_id))
        try:
            header, rows = _preview(data, columns, required)
        except InvalidInput as exc:
            context["message"] = exc.message
            context["problems"] = exc.errors if isinstance(exc.errors, list) else []
            status = 422
        else:
            bad_rows = {p.get("row") for p in context["problems"]}
            context["preview"] = {
                "header": header,
                "rows": rows[:PREVIEW_ROWS],
                "total": len(rows),
                "bad_rows": bad_rows,
            }
    return render_template("coordinator/import.html", **context), status


def _uploaded_csv() -> bytes | None:
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        return upload.read()
    text = request.form.get("csv_text", "")
    return text.encode("utf-8") if text.strip() else None


def _preview(
    data: bytes, columns: tuple[str, ...], required: tuple[str, ...]
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    rows = imports.read_csv(data, columns, required)
    header = [c for c in columns if any(c in cells for _, cells in rows)]
    return header, rows


# --- match runs ------------------------------------------------------------------------

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


@bp.route("/rounds/<id:round_id>/runs/new", methods=["GET", "POST"])
def new_run(round_id: int) -> Any:
    session = db_session()
    rnd = rounds.get_round_for(session=session, actor=actor(), round_id=round_id)
    defaults = instances.default_weights()
    values: dict[str, Any] = {k: f"{v:g}" for k, v in defaults.items()}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = dict(request.form.to_dict())
        values["allow_unranked"] = "allow_unranked" in request.form
        try:
            weights = load_form(WeightsFields(), request.form, tuple(WEIGHT_LABELS))
            run = runs.start_run(
                session=session,
                actor=actor(),
                round_id=round_id,
                weights=weights,
                allow_unranked=bool(values["allow_unranked"]),
                settings=settings_of(current_app),
            )
        except InvalidInput as exc:
            session.rollback()
            errors = {k.removeprefix("weights."): v for k, v in field_errors(exc.errors).items()}
            status = 422
        else:
            flash(f"Run {run.id} is queued.", "success")
            return redirect(url_for(".run_page", run_id=run.id))
    return render_template(
        "coordinator/run_form.html",
        title="Start a match run",
        round=rnd,
        values=values,
        errors=errors,
        labels=WEIGHT_LABELS,
        defaults=defaults,
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
    run = runs.get_run(session=db_session(), actor=actor(), run_id=run_id)
    response = jsonify(_run_json(run))
    response.headers["Cache-Control"] = "no-store"
    return response


PROPOSALS_PER_PAGE = 25
PROPOSAL_FILTERS = ("trainee", "slot", "rank", "status")
SEARCH_MAX = 100


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
    if filters["status"] and filters["status"] not in PROPOSAL_STATUSES:
        problems["status"] = [f"must be one of {', '.join(PROPOSAL_STATUSES)}"]
    return filters, problems


@bp.get("/runs/<id:run_id>")
def run_page(run_id: int) -> Any:
    session = db_session()
    run = runs.get_run(session=session, actor=actor(), run_id=run_id)
    rnd = rounds.get_round_for(session=session, actor=actor(), round_id=run.round_id)
    context: dict[str, Any] = {
        "title": f"Run {run.id}",
        "run": run,
        "round": rnd,
        "progress": _run_json(run),
        "labels": WEIGHT_LABELS,
    }
    status = 200
    if run.status == "succeeded":
        filters, problems = _proposal_filters()
        proposals: Page[pages.ProposalRow]
        if problems:
            status = 422
            proposals = Page(items=[], total=0, page=1, per_page=PROPOSALS_PER_PAGE)
        else:
            proposals = pages.find_proposals(
                session,
                run_id,
                status=filters["status"] or None,
                trainee=filters["trainee"] or None,
                rank=filters["rank"] or None,
                slot=filters["slot"] or None,
                page=page_arg(),
                per_page=PROPOSALS_PER_PAGE,
            )
        unplaced = runs.list_unplaced(session=session, actor=actor(), run_id=run_id, per_page=500)
        bars = pages.rank_distribution(session, run_id, rnd.max_preferences)
        context.update(
            stats=run.stats or {},
            proposals=proposals,
            filters=filters,
            query={k: v for k, v in filters.items() if v and k not in problems},
            filter_errors=problems,
            status_options=[(s, s) for s in PROPOSAL_STATUSES],
            rank_bands=pages.RANK_BANDS,
            unplaced=unplaced,
            names=pages.trainee_names(session, [u.trainee_id for u in unplaced.items]),
            chart=charts.bar_chart(bars, title="Proposals by the trainee's rank of their slot"),
            bars=bars,
            open_count=_open_count(run_id),
        )
    return render_template("coordinator/run.html", **context), status


def _why_context(run_id: int, trainee_id: int) -> dict[str, Any]:
    session = db_session()
    run = runs.get_run(session=session, actor=actor(), run_id=run_id)
    reasons = runs.explain_trainee(
        session=session, actor=actor(), run_id=run_id, trainee_id=trainee_id
    )
    outcome = pages.run_outcomes(session, run_id).get(trainee_id)
    slot_ids = [int(r["slot_id"]) for r in reasons]
    if outcome is not None and outcome.slot_id is not None:
        slot_ids.append(outcome.slot_id)
    taken = [int(t) for r in reasons for t in r.get("taken_by", [])]
    return {
        "title": "Why this outcome",
        "run": run,
        "trainee_id": trainee_id,
        "outcome": outcome,
        "reasons": reasons,
        "names": pages.trainee_names(session, [trainee_id, *taken]),
        "slot_labels": pages.slot_labels(session, slot_ids),
    }


@bp.get("/runs/<id:run_id>/trainees/<id:trainee_id>/why")
def why(run_id: int, trainee_id: int) -> Any:
    return render_template("coordinator/why.html", **_why_context(run_id, trainee_id))


@bp.get("/runs/<id:run_id>/trainees/<id:trainee_id>/why.part")
def why_part(run_id: int, trainee_id: int) -> Any:
    """The same explanation as a fragment, fetched when a proposal's "why" panel opens:
    one explanation per panel opened, never one per row when the table is drawn."""
    return render_template("coordinator/why_part.html", **_why_context(run_id, trainee_id))


@bp.post("/proposals/<id:proposal_id>/approve")
def approve(proposal_id: int) -> Any:
    session = db_session()
    placement = approvals.approve_proposal(session=session, actor=actor(), proposal_id=proposal_id)
    names = pages.trainee_names(session, [placement.trainee_id])
    flash(f"Approved: {names.get(placement.trainee_id, 'the trainee')} is placed.", "success")
    return _back_to_run()


@bp.post("/proposals/<id:proposal_id>/reject")
def reject(proposal_id: int) -> Any:
    reason = request.form.get("reason", "").strip() or "Rejected by a coordinator"
    if "\x00" in reason:
        raise InvalidInput(errors={"reason": ["must not contain NUL characters"]})
    proposal = approvals.reject_proposal(
        session=db_session(), actor=actor(), proposal_id=proposal_id, reason=reason[:500]
    )
    flash(f"Proposal {proposal.id} rejected.", "success")
    return _back_to_run()


@bp.route("/runs/<id:run_id>/approve-all", methods=["GET", "POST"])
def approve_all(run_id: int) -> Any:
    session = db_session()
    if request.method == "POST":
        result = approvals.approve_all(session=session, actor=actor(), run_id=run_id)
        message = f"Approved {result.approved} proposals."
        if result.conflicts:
            message += f" {result.conflicts} no longer fit and stay open."
        flash(message, "success" if not result.conflicts else "warning")
        return redirect(url_for(".run_page", run_id=run_id))
    run = runs.get_run(session=session, actor=actor(), run_id=run_id)
    rnd = rounds.get_round_for(session=session, actor=actor(), round_id=run.round_id)
    open_count = _open_count(run_id)
    problem = None
    if rnd.status not in approvals.DECIDING_STATES:
        problem = f"The round is {rnd.status}; proposals are decided once it is closed."
    elif not open_count:
        problem = "This run has no open proposals left."
    return render_template(
        "confirm.html",
        title=f"Approve all {open_count:,} open proposals of run {run.id}?",
        verb="Approve",
        yes="Yes, approve them",
        facts=[
            ("Round", rnd.name),
            ("Run", f"Run {run.id}, finished {_when(run.finished_at)}"),
            ("Open proposals", f"{open_count:,}"),
        ],
        consequence=(
            "Each open proposal that still fits becomes a live placement, cheapest first, "
            "and takes a seat. A proposal whose slot has filled up or whose trainee is "
            "already placed stays open, and you are told how many. The placed trainees' "
            "open proposals in other runs of this round are superseded. Each placement "
            "can be withdrawn later, one at a time."
        ),
        problem=problem,
        action=url_for(".approve_all", run_id=run_id),
        back=url_for(".run_page", run_id=run_id),
    )


def _open_count(run_id: int) -> int:
    return runs.list_proposals(
        session=db_session(), actor=actor(), run_id=run_id, status="proposed", per_page=1
    ).total


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "not yet"


def _back_to_run() -> Any:
    target = request.form.get("next", "")
    if target.startswith("/coordinator/runs/") and "//" not in target and target.isprintable():
        return redirect(target)
    return redirect(url_for(".dashboard"))


@bp.get("/rounds/<id:round_id>/compare")
def compare(round_id: int) -> Any:
    session = db_session()
    rnd = rounds.get_round_for(session=session, actor=actor(), round_id=round_id)
    chosen = [id_arg(c, "run", {}) for c in request.args.getlist("run")]
    run_ids = [c for c in chosen if c is not None]
    if len(chosen) != 2 or len(run_ids) != 2:
        flash("Tick exactly two finished runs to compare them.", "warning")
        return redirect(url_for(".round_page", round_id=round_id))
    a, b = (runs.get_run(session=session, actor=actor(), run_id=c) for c in run_ids)
    if a.round_id != rnd.id or b.round_id != rnd.id:
        abort(404)
    comparison = pages.compare_runs(session, run_ids[0], run_ids[1])
    slot_ids = [
        o.slot_id for _, *outs in comparison.differing for o in outs if o and o.slot_id is not None
    ]
    return render_template(
        "coordinator/compare.html",
        title=f"Run {a.id} and run {b.id} compared",
        round=rnd,
        a=a,
        b=b,
        comparison=comparison,
        names=pages.trainee_names(session, [t for t, _, _ in comparison.differing]),
        slot_labels=pages.slot_labels(session, slot_ids),
        labels=WEIGHT_LABELS,
    )


@bp.get("/rounds/<id:round_id>/placements.csv")
def placements_csv(round_id: int) -> Any:
    text = placements.placements_csv(session=db_session(), actor=actor(), round_id=round_id)
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="round-{round_id}-placements.csv"'},
    )


# --- a round's placements --------------------------------------------------------------

PLACEMENTS_PER_PAGE = 50
PLACEMENT_STATUSES = ("live", "withdrawn")


@bp.get("/rounds/<id:round_id>/placements")
def round_placements(round_id: int) -> Any:
    session = db_session()
    rnd = rounds.get_round_for(session=session, actor=actor(), round_id=round_id)
    status = request.args.get("status", "").strip()
    if status and status not in PLACEMENT_STATUSES:
        abort(404)
    page = placements.list_placements(
        session=session,
        actor=actor(),
        round_id=round_id,
        status=status or None,
        page=page_arg(),
        per_page=PLACEMENTS_PER_PAGE,
    )
    return render_template(
        "coordinator/placements.html",
        title=f"Placements in {rnd.name}",
        round=rnd,
        page=page,
        status=status,
        status_options=[(s, s.capitalize()) for s in PLACEMENT_STATUSES],
        slot_labels=pages.slot_labels(session, [p.slot_id for p in page.items]),
    )


@bp.route("/placements/<id:placement_id>/withdraw", methods=["GET", "POST"])
def withdraw(placement_id: int) -> Any:
    session = db_session()
    if request.method == "POST":
        placement = approvals.withdraw_placement(
            session=session, actor=actor(), placement_id=placement_id
        )
        names = pages.trainee_names(session, [placement.trainee_id])
        flash(
            f"Placement withdrawn: {names.get(placement.trainee_id, 'the trainee')} is no "
            "longer placed, and the seat is free again.",
            "success",
        )
        return redirect(url_for(".round_placements", round_id=placement.round_id))
    detail = pages.placement_detail(session, placement_id)
    if detail is None:
        raise NotFound("No such placement.")
    back = url_for(".round_placements", round_id=detail.round.id)
    live = detail.placement.status == "live"
    consequence = (
        f"{detail.trainee_name} will no longer be placed at {detail.slot.title} "
        f"({detail.organisation}), and the seat there is free again. "
        + (
            "The trainee and the host will no longer see this placement. "
            if detail.round.status == "published"
            else ""
        )
        + "The approval stays in the run's history and the audit log. This cannot be undone."
    )
    return render_template(
        "confirm.html",
        title=f"Withdraw {detail.trainee_name}'s placement?",
        verb="Withdraw",
        danger=True,
        facts=[
            ("Trainee", detail.trainee_name),
            ("Slot", f"{detail.slot.title}, {detail.organisation}"),
            ("Dates", f"{detail.slot.starts_on.isoformat()} to {detail.slot.ends_on.isoformat()}"),
            ("Round", detail.round.name),
            ("Status", detail.placement.status),
        ],
        consequence=consequence,
        problem=None if live else "This placement is already withdrawn.",
        action=url_for(".withdraw", placement_id=placement_id),
        back=back,
    )


# --- a round's trainees, and erasure ---------------------------------------------------

TRAINEES_PER_PAGE = 50

# What `privacy.erase_trainee` does, in words. Every trainee field is on one list or the
# other (a test holds these lists to the service's behaviour).
ERASURE_REMOVED: tuple[tuple[tuple[str, ...], str], ...] = (
    (("name",), "Their name: from now on they are shown as “Erased trainee”"),
    (("email",), "Their email address"),
    (("provider",), "Their college or training provider"),
    (("skills",), "Their skills"),
    (("postcode", "latitude", "longitude"), "Their home postcode and location"),
    (("max_travel_km",), "How far they can travel"),
    (("available_from", "available_to"), "When they are available"),
    (("dbs_cleared",), "Their DBS check status"),
    (("needs",), "What they told us about their needs"),
    (
        ("user_id",),
        "Their login, if they have one: the account's email, name and password, and its "
        "sessions and API tokens (they are signed out everywhere)",
    ),
    ((), "The IP addresses recorded with the things they did"),
    (
        (),
        "The stored input of every match run in their rounds (its fingerprint stays, so a "
        "published result can still be identified, but it can no longer be re-run offline)",
    ),
)
ERASURE_KEPT: tuple[tuple[tuple[str, ...], str], ...] = (
    (("id", "level"), "An anonymous record with its number and qualification level"),
    ((), "The rounds they took part in, their ranked choices and employers' rankings of them"),
    ((), "Match runs' proposals for them, and why a run did not place them"),
    (
        (),
        "Their placements, live or withdrawn: they stay counted, and appear as "
        "“Erased trainee” in lists and in the CSV export",
    ),
    ((), "The audit log of what was done, without their name, login or IP address"),
    (("created_at", "updated_at", "erased_at"), "When the record was made, changed and erased"),
)


@bp.get("/rounds/<id:round_id>/trainees")
def round_trainees(round_id: int) -> Any:
    session = db_session()
    rnd = rounds.get_round_for(session=session, actor=actor(), round_id=round_id)
    q = search_arg("q", SEARCH_MAX)
    page = trainees.list_trainees(
        session=session,
        actor=actor(),
        round_id=round_id,
        q=q or None,
        page=page_arg(),
        per_page=TRAINEES_PER_PAGE,
    )
    return render_template(
        "coordinator/trainees.html",
        title=f"Trainees in {rnd.name}",
        round=rnd,
        page=page,
        q=q,
    )


def _round_arg() -> int | None:
    return id_arg(request.values.get("round", ""), "round", {})


@bp.route("/trainees/<id:trainee_id>/erase", methods=["GET", "POST"])
def erase(trainee_id: int) -> Any:
    session = db_session()
    round_id = _round_arg()
    back = (
        url_for(".round_trainees", round_id=round_id)
        if round_id is not None
        else url_for(".dashboard")
    )
    if request.method == "POST":
        privacy.erase_trainee(session=session, actor=actor(), trainee_id=trainee_id)
        flash(
            f"Trainee {trainee_id}'s personal data is erased; their match history is kept, "
            "anonymised.",
            "success",
        )
        return redirect(back)
    trainee = trainees.get_trainee(session=session, actor=actor(), trainee_id=trainee_id)
    erased = trainee.erased_at is not None
    return render_template(
        "confirm.html",
        title=f"Erase {trainee.name}'s personal data?" if not erased else trainee.name,
        verb="Erase",
        danger=True,
        facts=[
            ("Trainee", f"{trainee.name} (number {trainee.id})"),
            ("Email", trainee.email or "—"),
            ("Login", "yes" if trainee.user_id is not None else "none"),
        ],
        consequence="Erasure cannot be undone. Do it when the trainee asks for their data "
        "to be erased, or when you no longer have a reason to keep it.",
        removed=[text for _, text in ERASURE_REMOVED],
        kept=[text for _, text in ERASURE_KEPT],
        problem=(
            f"This trainee's personal data was already erased on "
            f"{trainee.erased_at.strftime('%Y-%m-%d')}."
            if trainee.erased_at is not None
            else None
        ),
        action=url_for(".erase", trainee_id=trainee_id, round=round_id),
        back=back,
    )
