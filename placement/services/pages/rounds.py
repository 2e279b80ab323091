"""Read models of the coordinator's round pages: the dashboard, a round, its state
changes and CSV imports."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, func, select

from placement.models import (
    MatchRun,
    Organisation,
    Placement,
    PlacementStatus,
    Preference,
    Round,
    RoundTrainee,
    Slot,
    User,
    utcnow,
)
from placement.services import imports, rounds, runs
from placement.services.common import require_role
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
