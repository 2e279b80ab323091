"""Read models of a round's trainees and one trainee's record, as a coordinator sees them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from placement.models import (
    AuditEvent,
    MatchRun,
    Placement,
    PlacementStatus,
    Preference,
    Proposal,
    Round,
    RoundTrainee,
    Trainee,
    UnplacedTrainee,
    User,
)
from placement.services import notes, postcodes, rounds, trainees
from placement.services.common import Page, require_role
from placement.services.pages.lookups import slot_labels, user_names


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
    notes: list[notes.Note]  # coordinators' notes, newest first
    location_note: str | None  # when the home location is only the postcode's district


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
        notes=notes.notes_of(session, trainee_id),
        location_note=postcodes.approximate_note(session, trainee),
    )


def _said(action: str) -> str:
    noun, _, verb = action.partition(".")
    return f"{noun.replace('_', ' ')} {verb.replace('_', ' ')}".strip().capitalize()
