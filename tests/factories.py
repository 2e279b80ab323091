"""Plain factory functions for tests: each adds one valid object, overridable by keyword.

For whole generated rounds: `generate` (a seeded `placement-instance/1` document) and
`load_round` (stores one as a round in bulk), the same code the benchmarks use.
"""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Any, Protocol

from sqlmodel import Session

from placement import auth
from placement.matching.synthetic import generate
from placement.models import (
    MatchRun,
    Organisation,
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
from placement.services.round_loader import LoadedRound, load_round

__all__ = [
    "FAST_HASH",
    "LoadedRound",
    "generate",
    "load_round",
    "match_run",
    "organisation",
    "pk",
    "preference",
    "proposal",
    "round_",
    "slot",
    "trainee",
    "unplaced",
    "user",
]

_seq = count(1)
FAST_HASH = auth.hash_password("factory-password-1")


class _Row(Protocol):
    id: int | None


def pk(row: _Row) -> int:
    """The id of a flushed row, typed `int` (a model's `id` is `int | None` until flushed)."""
    assert row.id is not None, "flush the row first"
    return row.id


def user(session: Session, **kw: Any) -> User:
    n = next(_seq)
    values: dict[str, Any] = {
        "email": f"user{n}@example.test",
        "name": f"User {n}",
        "role": "trainee",
        "password_hash": FAST_HASH,
        "email_verified_at": utcnow(),
    }
    values.update(kw)
    obj = User(**values)
    session.add(obj)
    session.flush()
    return obj


def organisation(session: Session, **kw: Any) -> Organisation:
    n = next(_seq)
    values: dict[str, Any] = {
        "name": f"Host {n} Laboratories",
        "kind": "test_lab",
        "accreditations": ["ISO/IEC 17025"],
        "postcode": "B15 2TT",
        "latitude": 52.45,
        "longitude": -1.93,
        "verified": True,
    }
    values.update(kw)
    obj = Organisation(**values)
    session.add(obj)
    session.flush()
    return obj


def round_(session: Session, **kw: Any) -> Round:
    n = next(_seq)
    values: dict[str, Any] = {
        "name": f"Round {n}",
        "region": "West Midlands",
        "starts_on": date(2027, 1, 4),
        "ends_on": date(2027, 7, 2),
        "status": "open",
    }
    values.update(kw)
    obj = Round(**values)
    session.add(obj)
    session.flush()
    return obj


def slot(session: Session, *, round: Round, organisation: Organisation, **kw: Any) -> Slot:
    n = next(_seq)
    values: dict[str, Any] = {
        "round_id": round.id,
        "organisation_id": organisation.id,
        "title": f"Placement {n}",
        "discipline": "diagnostics",
        "required_skills": ["pipetting"],
        "min_level": 4,
        "capacity": 2,
        "latitude": 52.45,
        "longitude": -1.93,
        "starts_on": date(2027, 2, 1),
        "ends_on": date(2027, 5, 28),
    }
    values.update(kw)
    obj = Slot(**values)
    session.add(obj)
    session.flush()
    return obj


def trainee(session: Session, **kw: Any) -> Trainee:
    n = next(_seq)
    values: dict[str, Any] = {
        "name": f"Trainee {n}",
        "email": f"trainee{n}@learners.test",
        "level": 4,
        "skills": ["pipetting"],
        "latitude": 52.48,
        "longitude": -1.89,
        "max_travel_km": 40,
        "available_from": date(2027, 1, 4),
        "available_to": date(2027, 7, 2),
        "dbs_cleared": True,
    }
    values.update(kw)
    # DBS clearance follows from a recorded check; a cleared factory trainee's counts from today.
    if values["dbs_cleared"] and "dbs_checked_on" not in values:
        values["dbs_checked_on"] = date.today()
    obj = Trainee(**values)
    session.add(obj)
    session.flush()
    return obj


def preference(session: Session, *, trainee: Trainee, slot: Slot, rank: int) -> Preference:
    obj = Preference(round_id=slot.round_id, trainee_id=pk(trainee), slot_id=pk(slot), rank=rank)
    session.add(obj)
    if session.get(RoundTrainee, (slot.round_id, trainee.id)) is None:
        session.add(RoundTrainee(round_id=slot.round_id, trainee_id=pk(trainee)))
    session.flush()
    return obj


def match_run(session: Session, *, round: Round, **kw: Any) -> MatchRun:
    values: dict[str, Any] = {"round_id": pk(round), "weights": {}}
    values.update(kw)
    obj = MatchRun(**values)
    session.add(obj)
    session.flush()
    return obj


def proposal(
    session: Session, *, run: MatchRun, trainee: Trainee, slot: Slot, **kw: Any
) -> Proposal:
    values: dict[str, Any] = {
        "run_id": pk(run),
        "trainee_id": pk(trainee),
        "slot_id": pk(slot),
        "rank": 1,
        "cost": 1.0,
    }
    values.update(kw)
    obj = Proposal(**values)
    session.add(obj)
    session.flush()
    return obj


def unplaced(
    session: Session, *, run: MatchRun, trainee: Trainee, reason: str = "outcompeted"
) -> UnplacedTrainee:
    obj = UnplacedTrainee(run_id=pk(run), trainee_id=pk(trainee), reason=reason)
    session.add(obj)
    session.flush()
    return obj
