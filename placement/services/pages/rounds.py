"""Read models of the coordinator's round pages: the dashboard, a round, its trainees,
CSV imports, host organisations and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, func, select

from placement.models import (
    AuditEvent,
    MatchRun,
    Organisation,
    Placement,
    PlacementStatus,
    Preference,
    Round,
    RoundTrainee,
    Slot,
    Trainee,
    User,
)
from placement.services import audit, imports, organisations, rounds, runs, trainees
from placement.services.common import Page, require_role
from placement.services.pages.lookups import user_names


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
class RoundTrainees:
    round: Round
    page: Page[Trainee]


def round_trainees(
    session: Session, actor: User, round_id: int, *, q: str | None, page: int, per_page: int
) -> RoundTrainees:
    rnd = rounds.get_round_for(session=session, actor=actor, round_id=round_id)
    found = trainees.list_trainees(
        session=session, actor=actor, round_id=round_id, q=q, page=page, per_page=per_page
    )
    return RoundTrainees(round=rnd, page=found)


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


# --- hosts and the audit log -----------------------------------------------------------


@dataclass(frozen=True)
class OrganisationsPage:
    page: Page[Organisation]
    items: list[Organisation]  # the unverified first, then by name


def organisations_page(session: Session, actor: User, *, page: int) -> OrganisationsPage:
    found = organisations.list_organisations(session=session, actor=actor, page=page, per_page=100)
    items = sorted(found.items, key=lambda o: (o.verified, o.name.lower()))
    return OrganisationsPage(page=found, items=items)


@dataclass(frozen=True)
class AuditPage:
    page: Page[AuditEvent]
    names: dict[int, str]


def audit_page(session: Session, actor: User, *, action: str | None, page: int) -> AuditPage:
    found = audit.list_audit(session=session, actor=actor, action=action, page=page, per_page=100)
    return AuditPage(page=found, names=user_names(session, (e.actor_id for e in found.items)))
