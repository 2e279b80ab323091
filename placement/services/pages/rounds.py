"""Read models of the coordinator's round pages: the dashboard, a round, its trainees,
CSV imports, host organisations and the audit log."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, func, select

from placement.models import (
    AuditEvent,
    MatchRun,
    Organisation,
    Placement,
    PlacementStatus,
    Preference,
    Proposal,
    Round,
    RoundTrainee,
    Slot,
    Trainee,
    UnplacedTrainee,
    User,
    utcnow,
)
from placement.services import imports, organisations, rounds, runs, trainees
from placement.services.common import Page, require_role
from placement.services.pages.lookups import slot_labels, user_names
from placement.services.pages.words import uk_date


@dataclass(frozen=True)
class RoundSummary:
    round: Round
    slots: int
    seats: int
    trainees: int
    ranked: int
    runs: int
    placements: int


def _summaries(session: Session, only: int | None = None) -> list[RoundSummary]:
    """Rounds, newest first (or just round `only`), with the counts the dashboard shows."""
    statement = select(Round).order_by(col(Round.id).desc())
    if only is not None:
        statement = statement.where(Round.id == only)
    found = session.exec(statement).all()

    def grouped(statement: Any) -> dict[int, int]:
        return {int(rid): int(n or 0) for rid, n in session.exec(statement).all()}

    slots = grouped(select(Slot.round_id, func.count()).group_by(col(Slot.round_id)))
    seats = grouped(select(Slot.round_id, func.sum(Slot.capacity)).group_by(col(Slot.round_id)))
    trainee_counts = grouped(
        select(RoundTrainee.round_id, func.count()).group_by(col(RoundTrainee.round_id))
    )
    ranked = grouped(
        select(Preference.round_id, func.count(func.distinct(Preference.trainee_id))).group_by(
            col(Preference.round_id)
        )
    )
    run_counts = grouped(select(MatchRun.round_id, func.count()).group_by(col(MatchRun.round_id)))
    placements = grouped(
        select(Placement.round_id, func.count())
        .where(Placement.status == PlacementStatus.LIVE)
        .group_by(col(Placement.round_id))
    )
    return [
        RoundSummary(
            round=r,
            slots=slots.get(r.id or 0, 0),
            seats=seats.get(r.id or 0, 0),
            trainees=trainee_counts.get(r.id or 0, 0),
            ranked=ranked.get(r.id or 0, 0),
            runs=run_counts.get(r.id or 0, 0),
            placements=placements.get(r.id or 0, 0),
        )
        for r in found
    ]


@dataclass(frozen=True)
class Dashboard:
    rows: list[RoundSummary]
    unverified: int


def dashboard(session: Session, actor: User) -> Dashboard:
    """Every round with its counts, and how many hosts wait to be verified."""
    require_role(actor, "coordinator")
    unverified = session.exec(
        select(func.count()).select_from(Organisation).where(col(Organisation.verified).is_(False))
    ).one()
    return Dashboard(rows=_summaries(session), unverified=int(unverified))


@dataclass(frozen=True)
class RoundPage:
    round: Round
    summary: RoundSummary | None
    runs: list[MatchRun]
    next_action: str | None


def round_page(session: Session, actor: User, round_id: int) -> RoundPage:
    rnd = rounds.get_round_for(session=session, actor=actor, round_id=round_id)
    require_role(actor, "coordinator")
    its_runs = runs.list_runs(session=session, actor=actor, round_id=round_id, per_page=100)
    summary = next(iter(_summaries(session, only=round_id)), None)
    return RoundPage(
        round=rnd,
        summary=summary,
        runs=list(its_runs.items),
        next_action=rounds.next_action(rnd.status),
    )


@dataclass(frozen=True)
class TransitionPage:
    """What opening, closing or publishing a round will do, in numbers, and why it may be
    too soon (`warnings`); `problem` when the round cannot take that step at all."""

    round: Round
    facts: list[tuple[str, str]]
    outcome: str
    warnings: list[str]
    problem: str | None


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def transition_page(
    session: Session, actor: User, round_id: int, action: str, *, today: date | None = None
) -> TransitionPage:
    rnd = rounds.get_round_for(session=session, actor=actor, round_id=round_id)
    require_role(actor, "coordinator")
    summary = next(iter(_summaries(session, only=round_id)))
    today = today or utcnow().date()
    expected = {"open": "draft", "close": "open", "publish": "closed"}[action]
    problem = None
    if rnd.status != expected:
        done = {"open": "opened", "close": "closed", "publish": "published"}[action]
        problem = f"The round is {rnd.status}; only a {expected} round can be {done}."
    facts = [
        ("Slots", f"{summary.slots:,} ({_plural(summary.seats, 'seat')})"),
        ("Trainees", f"{summary.trainees:,}, of whom {summary.ranked:,} have ranked slots"),
        ("Deadline for choices", uk_date(rnd.preference_deadline, empty="none set")),
    ]
    warnings: list[str] = []
    if action == "open":
        outcome = (
            f"{_plural(summary.slots, 'slot')} with {_plural(summary.seats, 'seat')} become "
            f"visible to trainees; {_plural(summary.trainees, 'trainee')} can rank them."
        )
        if summary.slots == 0:
            warnings.append("The round has no slots yet: trainees will have nothing to rank.")
    elif action == "close":
        unranked = summary.trainees - summary.ranked
        outcome = (
            f"{_plural(summary.ranked, 'trainee')}' choices are fixed as they are; "
            f"{_plural(unranked, 'trainee')} who ranked nothing will not be matched."
        ).replace("1 trainee' ", "1 trainee's ")
        deadline = rnd.preference_deadline
        if deadline is not None and today <= deadline:
            days = (deadline - today).days
            when = "today" if days == 0 else f"in {_plural(days, 'day')}"
            warnings.append(
                f"The deadline for choices is {uk_date(deadline)}, {when}: trainees were told "
                "they can change their choices until then."
            )
        if summary.trainees == 0:
            warnings.append("No trainees are in the round yet.")
        elif summary.ranked * 2 < summary.trainees:
            warnings.append(
                f"Only {summary.ranked:,} of {summary.trainees:,} trainees have ranked any slots."
            )
    else:
        runs_made = session.exec(
            select(func.count()).select_from(MatchRun).where(MatchRun.round_id == round_id)
        ).one()
        placed = session.exec(
            select(func.count(func.distinct(Placement.trainee_id))).where(
                Placement.round_id == round_id, Placement.status == PlacementStatus.LIVE
            )
        ).one()
        nothing = max(summary.trainees - int(placed), 0)
        outcome = (
            f"{_plural(summary.placements, 'approved placement')} will be published; "
            f"{_plural(nothing, 'trainee')} will get nothing. This cannot be undone."
        )
        facts.append(("Match runs", f"{int(runs_made):,}"))
        facts.append(("Approved placements", f"{summary.placements:,}"))
        if not runs_made:
            warnings.append("No match run has been made: publishing now gives nobody a placement.")
        elif summary.placements == 0:
            warnings.append("No proposal has been approved: publishing now places nobody.")
        elif nothing * 2 > summary.trainees:
            warnings.append(f"More than half the trainees ({nothing:,}) would get nothing.")
    return TransitionPage(rnd, facts, outcome, warnings, problem)


@dataclass(frozen=True)
class RoundTrainees:
    round: Round
    page: Page[Trainee]
    placed: set[int]  # trainees of the page with a live placement in the round
    ranked: set[int]  # those who ranked slots in the round
    incomplete: dict[int, list[str]]  # what each lacks for the matcher


def round_trainees(
    session: Session, actor: User, round_id: int, *, q: str | None, page: int, per_page: int
) -> RoundTrainees:
    rnd = rounds.get_round_for(session=session, actor=actor, round_id=round_id)
    found = trainees.list_trainees(
        session=session, actor=actor, round_id=round_id, q=q, page=page, per_page=per_page
    )
    ids = [t.id for t in found.items if t.id is not None]
    placed = session.exec(
        select(Placement.trainee_id).where(
            Placement.round_id == round_id,
            Placement.status == PlacementStatus.LIVE,
            col(Placement.trainee_id).in_(ids),
        )
    ).all()
    ranked = session.exec(
        select(Preference.trainee_id)
        .where(Preference.round_id == round_id, col(Preference.trainee_id).in_(ids))
        .distinct()
    ).all()
    incomplete = {
        t.id: missing for t in found.items if t.id is not None and (missing := _missing(t))
    }
    return RoundTrainees(
        round=rnd, page=found, placed=set(placed), ranked=set(ranked), incomplete=incomplete
    )


PROFILE_WORDS = {
    "level": "level",
    "latitude": "home location",
    "longitude": "home location",
    "max_travel_km": "travel limit",
    "available_from": "availability",
    "available_to": "availability",
}


def _missing(trainee: Trainee) -> list[str]:
    """What the trainee's profile lacks for the matcher, in words (the matcher's rule)."""
    words: list[str] = []
    for field in trainees.missing_for_matching(trainee):
        word = PROFILE_WORDS.get(field, field.replace("_", " "))
        if word not in words:
            words.append(word)
    return words


@dataclass(frozen=True)
class Choice:
    rank: int
    slot: str
    host: str


@dataclass(frozen=True)
class RunOutcome:
    run: MatchRun
    outcome: str  # in words: what the run proposed, and what was decided


@dataclass(frozen=True)
class TraineeRecord:
    """One trainee as a coordinator sees them: profile, choices by round, the runs they
    were in with their outcome, placements, and what was done about them."""

    trainee: Trainee
    round: Round | None
    missing: list[str]
    choices: dict[int, list[Choice]]
    rounds: dict[int, Round]
    runs: list[RunOutcome]
    placements: list[tuple[Placement, str, str]]
    history: list[tuple[Any, str, str]]  # (when, who, what)


def trainee_record(
    session: Session, actor: User, trainee_id: int, round_id: int | None
) -> TraineeRecord:
    require_role(actor, "coordinator")
    trainee = trainees.get_trainee(session=session, actor=actor, trainee_id=trainee_id)
    rnd = (
        rounds.get_round_for(session=session, actor=actor, round_id=round_id)
        if round_id is not None
        else None
    )
    prefs = session.exec(
        select(Preference)
        .where(Preference.trainee_id == trainee_id)
        .order_by(col(Preference.round_id), col(Preference.rank))
    ).all()
    proposals = session.exec(
        select(Proposal).where(Proposal.trainee_id == trainee_id).order_by(col(Proposal.run_id))
    ).all()
    unplaced = session.exec(
        select(UnplacedTrainee).where(UnplacedTrainee.trainee_id == trainee_id)
    ).all()
    placements = session.exec(
        select(Placement).where(Placement.trainee_id == trainee_id).order_by(col(Placement.id))
    ).all()
    labels = slot_labels(
        session,
        [p.slot_id for p in prefs]
        + [p.slot_id for p in proposals]
        + [p.slot_id for p in placements],
    )

    def slot(sid: int) -> tuple[str, str]:
        label = labels.get(sid)
        return (label.title, label.organisation) if label else (f"Slot {sid}", "")

    run_ids = {p.run_id for p in proposals} | {u.run_id for u in unplaced}
    run_rows = {
        r.id: r for r in session.exec(select(MatchRun).where(col(MatchRun.id).in_(run_ids))).all()
    }
    round_ids = (
        {p.round_id for p in prefs}
        | {r.round_id for r in run_rows.values()}
        | {p.round_id for p in placements}
        | set(
            session.exec(
                select(RoundTrainee.round_id).where(RoundTrainee.trainee_id == trainee_id)
            ).all()
        )
    )
    round_rows = {
        r.id: r
        for r in session.exec(select(Round).where(col(Round.id).in_(round_ids))).all()
        if r.id is not None
    }
    choices: dict[int, list[Choice]] = {}
    for p in prefs:
        title, host = slot(p.slot_id)
        choices.setdefault(p.round_id, []).append(Choice(p.rank, title, host))
    outcomes: list[RunOutcome] = []
    for q in proposals:
        run = run_rows.get(q.run_id)
        if run is None:
            continue
        title, host = slot(q.slot_id)
        choice = f"their choice {q.rank}" if q.rank else "a slot they did not rank"
        decided = str(q.status).replace("_", " ")
        if q.reason:
            decided += f" ({q.reason})"
        outcomes.append(RunOutcome(run, f"Proposed {title} at {host}, {choice}: {decided}"))
    for u in unplaced:
        run = run_rows.get(u.run_id)
        if run is None:
            continue
        why = {
            "no_eligible_slot": "no slot they were eligible for",
            "outcompeted": "every eligible slot went to others at lower total cost",
        }.get(u.reason, u.reason)
        outcomes.append(RunOutcome(run, f"Not placed: {why}"))
    outcomes.sort(key=lambda o: o.run.id or 0)
    placed = [(p, *slot(p.slot_id)) for p in placements]
    events = session.exec(
        select(AuditEvent)
        .where(
            or_(
                and_(
                    col(AuditEvent.object_type) == "trainee",
                    col(AuditEvent.object_id) == str(trainee_id),
                ),
                and_(
                    col(AuditEvent.object_type) == "proposal",
                    col(AuditEvent.object_id).in_([str(p.id) for p in proposals]),
                ),
                and_(
                    col(AuditEvent.object_type) == "placement",
                    col(AuditEvent.object_id).in_([str(p.id) for p in placements]),
                ),
            )
        )
        .order_by(col(AuditEvent.at).desc())
        .limit(100)
    ).all()
    who = user_names(session, [e.actor_id for e in events])
    history = [
        (e.at, who.get(e.actor_id, "someone") if e.actor_id else "the system", _said(e.action))
        for e in events
    ]
    return TraineeRecord(
        trainee=trainee,
        round=rnd,
        missing=_missing(trainee),
        choices=choices,
        rounds=round_rows,
        runs=outcomes,
        placements=placed,
        history=history,
    )


def _said(action: str) -> str:
    noun, _, verb = action.partition(".")
    return f"{noun.replace('_', ' ')} {verb.replace('_', ' ')}".strip().capitalize()


# --- CSV import ------------------------------------------------------------------------

# kind -> (the columns a file may have, those it must have)
IMPORT_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "trainees": (imports.TRAINEE_COLUMNS, imports.TRAINEE_REQUIRED),
    "slots": (imports.SLOT_COLUMNS, imports.SLOT_REQUIRED),
}


@dataclass(frozen=True)
class ImportPage:
    round: Round
    kind: str
    columns: tuple[str, ...]
    required: tuple[str, ...]


def import_page(session: Session, actor: User, round_id: int, kind: str) -> ImportPage:
    require_role(actor, "coordinator")
    rnd = rounds.get_round_for(session=session, actor=actor, round_id=round_id)
    columns, required = IMPORT_COLUMNS[kind]
    return ImportPage(round=rnd, kind=kind, columns=columns, required=required)


@dataclass(frozen=True)
class ImportPreview:
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]
    total: int


def import_preview(kind: str, data: bytes, *, limit: int) -> ImportPreview:
    """The file's first `limit` rows as the import reads them, under the columns it uses;
    InvalidInput (with every bad row) if it cannot be read."""
    columns, required = IMPORT_COLUMNS[kind]
    rows = imports.read_csv(data, columns, required)
    header = [c for c in columns if any(c in cells for _, cells in rows)]
    return ImportPreview(header=header, rows=rows[:limit], total=len(rows))


def import_check(
    session: Session, actor: User, round_id: int, kind: str, data: bytes
) -> imports.ImportResult:
    """Every value of the file checked as the import would, nothing kept: how many rows
    would be created and updated, or InvalidInput with every bad row and field."""
    return imports.IMPORTERS[kind](
        session=session, actor=actor, round_id=round_id, data=data, dry_run=True
    )


def import_template(kind: str) -> str:
    """A CSV file with the import's columns and one example row, to fill in."""
    examples = {
        "trainees": {
            "name": "Amara Osei",
            "email": "amara.osei@example.org",
            "level": "4",
            "skills": "pipetting; ELISA",
            "postcode": "B15 2TT",
            "max_travel_km": "30",
            "available_from": "2027-01-04",
            "available_to": "2027-07-02",
            "dbs_cleared": "true",
        },
        "slots": {
            "organisation": "Tame Valley Test Laboratories",
            "title": "Calibration technician",
            "discipline": "metrology",
            "required_skills": "calibration; documentation",
            "min_level": "4",
            "capacity": "2",
            "starts_on": "2027-01-11",
            "ends_on": "2027-07-02",
        },
    }[kind]
    columns = [c for c in IMPORT_COLUMNS[kind][0] if c not in ("id", "round_id")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerow([examples.get(c, "") for c in columns])
    return out.getvalue()


# --- hosts and the audit log -----------------------------------------------------------


@dataclass(frozen=True)
class OrganisationsPage:
    page: Page[Organisation]
    items: list[Organisation]  # the unverified first, then by name


def organisations_page(session: Session, actor: User, *, page: int) -> OrganisationsPage:
    found = organisations.list_organisations(session=session, actor=actor, page=page, per_page=100)
    items = sorted(found.items, key=lambda o: (o.verified, o.name.lower()))
    return OrganisationsPage(page=found, items=items)
