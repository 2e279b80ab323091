"""Read-only queries that only the web pages need (summaries, lookups for display).

Nothing here writes: every change goes through the use-case services.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from placement.matching.geo import distance_km
from placement.models import (
    MatchRun,
    Organisation,
    Placement,
    Preference,
    Proposal,
    Round,
    RoundTrainee,
    Slot,
    Trainee,
    UnplacedTrainee,
    User,
)
from placement.services.common import Page, paginate


@dataclass(frozen=True)
class RoundSummary:
    round: Round
    slots: int
    seats: int
    trainees: int
    ranked: int
    runs: int
    placements: int


def dashboard_counts(session: Session) -> list[RoundSummary]:
    """Every round, newest first, with the counts a coordinator's dashboard shows."""
    rounds = session.exec(select(Round).order_by(col(Round.id).desc())).all()

    def grouped(statement: Any) -> dict[int, int]:
        return {int(rid): int(n or 0) for rid, n in session.exec(statement).all()}

    slots = grouped(select(Slot.round_id, func.count()).group_by(col(Slot.round_id)))
    seats = grouped(select(Slot.round_id, func.sum(Slot.capacity)).group_by(col(Slot.round_id)))
    trainees = grouped(
        select(RoundTrainee.round_id, func.count()).group_by(col(RoundTrainee.round_id))
    )
    ranked = grouped(
        select(Preference.round_id, func.count(func.distinct(Preference.trainee_id))).group_by(
            col(Preference.round_id)
        )
    )
    runs = grouped(select(MatchRun.round_id, func.count()).group_by(col(MatchRun.round_id)))
    placements = grouped(
        select(Placement.round_id, func.count())
        .where(Placement.status == "live")
        .group_by(col(Placement.round_id))
    )
    return [
        RoundSummary(
            round=r,
            slots=slots.get(r.id or 0, 0),
            seats=seats.get(r.id or 0, 0),
            trainees=trainees.get(r.id or 0, 0),
            ranked=ranked.get(r.id or 0, 0),
            runs=runs.get(r.id or 0, 0),
            placements=placements.get(r.id or 0, 0),
        )
        for r in rounds
    ]


def unverified_organisations(session: Session) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Organisation)
            .where(col(Organisation.verified).is_(False))
        ).one()
    )


def rounds_with_status(session: Session, *statuses: str) -> list[Round]:
    return list(
        session.exec(
            select(Round).where(col(Round.status).in_(statuses)).order_by(col(Round.starts_on))
        ).all()
    )


# --- browsing slots ------------------------------------------------------------------


@dataclass(frozen=True)
class SlotListing:
    slot: Slot
    organisation: Organisation
    round: Round
    distance_km: float | None
    free_seats: int


def _distance(trainee: Trainee | None, slot: Slot) -> float | None:
    if slot.remote:
        return 0.0
    if trainee is None or trainee.latitude is None or trainee.longitude is None:
        return None
    return distance_km(trainee.latitude, trainee.longitude, slot.latitude, slot.longitude)


def browse_slots(
    session: Session,
    *,
    trainee: Trainee | None,
    round_id: int | None = None,
    discipline: str | None = None,
    host_kind: str | None = None,
    within_km: float | None = None,
) -> list[SlotListing]:
    """Slots of open rounds at verified hosts, nearest first when the trainee's home is
    known; `within_km` keeps those no further than that from home (remote slots always)."""
    statement = (
        select(Slot, Organisation, Round)
        .join(Organisation, col(Organisation.id) == Slot.organisation_id)
        .join(Round, col(Round.id) == Slot.round_id)
        .where(Round.status == "open", col(Organisation.verified).is_(True))
    )
    if round_id is not None:
        statement = statement.where(Slot.round_id == round_id)
    if discipline:
        statement = statement.where(Slot.discipline == discipline)
    if host_kind:
        statement = statement.where(Organisation.kind == host_kind)
    listings = []
    for slot, org, rnd in session.exec(statement.order_by(col(Slot.title), col(Slot.id))).all():
        km = _distance(trainee, slot)
        if within_km is not None and km is not None and km > within_km:
            continue
        listings.append(SlotListing(slot, org, rnd, km, max(slot.capacity - slot.filled, 0)))
    listings.sort(key=lambda s: (s.distance_km is None, s.distance_km or 0.0))
    return listings


def open_disciplines(session: Session) -> list[str]:
    rows = session.exec(
        select(Slot.discipline)
        .join(Round, col(Round.id) == Slot.round_id)
        .where(Round.status == "open", Slot.discipline != "")
        .distinct()
        .order_by(col(Slot.discipline))
    ).all()
    return [str(d) for d in rows]


def slot_listing(session: Session, slot_id: int, trainee: Trainee | None) -> SlotListing | None:
    row = session.exec(
        select(Slot, Organisation, Round)
        .join(Organisation, col(Organisation.id) == Slot.organisation_id)
        .join(Round, col(Round.id) == Slot.round_id)
        .where(Slot.id == slot_id)
    ).first()
    if row is None:
        return None
    slot, org, rnd = row
    return SlotListing(
        slot, org, rnd, _distance(trainee, slot), max(slot.capacity - slot.filled, 0)
    )


# --- display lookups -----------------------------------------------------------------


def trainee_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        sa_select(col(Trainee.id), col(Trainee.name)).where(col(Trainee.id).in_(wanted))
    )
    return {int(i): n for i, n in rows.all()}


@dataclass(frozen=True)
class SlotLabel:
    title: str
    organisation: str
    capacity: int
    filled: int


def slot_labels(session: Session, ids: Iterable[int]) -> dict[int, SlotLabel]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        sa_select(
            col(Slot.id),
            col(Slot.title),
            col(Organisation.name),
            col(Slot.capacity),
            col(Slot.filled),
        )
        .join(Organisation, col(Organisation.id) == Slot.organisation_id)
        .where(col(Slot.id).in_(wanted))
    )
    return {int(i): SlotLabel(t, o, c, f) for i, t, o, c, f in rows.all()}


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(sa_select(col(User.id), col(User.name)).where(col(User.id).in_(wanted)))
    return {int(i): n for i, n in rows.all()}


# --- runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RankBar:
    label: str
    count: int


def rank_distribution(session: Session, run_id: int, max_preferences: int) -> list[RankBar]:
    """How many proposals of a run gave each choice (1st, 2nd, ...; 'unranked' last)."""
    counts = Counter(session.exec(select(Proposal.rank).where(Proposal.run_id == run_id)).all())
    worst = max([r for r in counts if r is not None] or [0])
    top = max(min(max_preferences, 50), worst, 1)
    bars = [RankBar(str(r), counts.get(r, 0)) for r in range(1, top + 1)]
    # Trailing empty ranks add nothing to the picture.
    while len(bars) > 1 and bars[-1].count == 0:
        bars.pop()
    if counts.get(None):
        bars.append(RankBar("unranked", counts[None]))
    return bars


@dataclass(frozen=True)
class Outcome:
    slot_id: int | None
    rank: int | None
    status: str  # proposal status, or the unplaced reason


def run_outcomes(session: Session, run_id: int) -> dict[int, Outcome]:
    out: dict[int, Outcome] = {}
    for p in session.exec(select(Proposal).where(Proposal.run_id == run_id)).all():
        out[p.trainee_id] = Outcome(p.slot_id, p.rank, p.status)
    for u in session.exec(select(UnplacedTrainee).where(UnplacedTrainee.run_id == run_id)).all():
        out.setdefault(u.trainee_id, Outcome(None, None, u.reason))
    return out


@dataclass
class Comparison:
    differing: list[tuple[int, Outcome | None, Outcome | None]] = field(default_factory=list)
    same: int = 0


def compare_runs(session: Session, run_a: int, run_b: int) -> Comparison:
    """Trainees whose outcome (slot, or unplaced) differs between two runs."""
    a, b = run_outcomes(session, run_a), run_outcomes(session, run_b)
    result = Comparison()
    for trainee_id in sorted(set(a) | set(b)):
        left, right = a.get(trainee_id), b.get(trainee_id)
        if left is not None and right is not None and left.slot_id == right.slot_id:
            result.same += 1
        else:
            result.differing.append((trainee_id, left, right))
    return result


def run_round(session: Session, run_id: int) -> Round | None:
    run = session.get(MatchRun, run_id)
    return session.get(Round, run.round_id) if run is not None else None


def nice_number(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 5 x 10^k)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


# --- proposals, filtered -------------------------------------------------------------

RANK_BANDS = {
    "first": "First choice",
    "top3": "Top 3 choice",
    "4plus": "4th choice or worse",
    "unranked": "A slot they did not rank",
}


@dataclass(frozen=True)
class ProposalRow:
    proposal: Proposal
    trainee_name: str
    slot_title: str
    organisation: str


def _contains(text: str) -> str:
    """A LIKE pattern for 'contains `text`', with the pattern characters taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def find_proposals(
    session: Session,
    run_id: int,
    *,
    status: str | None = None,
    trainee: str | None = None,
    rank: str | None = None,
    slot: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Page[ProposalRow]:
    """One page of a run's proposals, in id order, with the names a table shows, in one
    query: `trainee` matches the trainee's name, `slot` the slot's title or its host's
    name (both case-insensitive 'contains'), `rank` is one of `RANK_BANDS`."""
    statement: Any = (
        select(
            Proposal,
            col(Trainee.name).label("trainee_name"),
            col(Slot.title).label("slot_title"),
            col(Organisation.name).label("organisation_name"),
        )
        .join(Trainee, col(Trainee.id) == col(Proposal.trainee_id))
        .join(Slot, col(Slot.id) == col(Proposal.slot_id))
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .where(col(Proposal.run_id) == run_id)
    )
    if status:
        statement = statement.where(col(Proposal.status) == status)
    if trainee:
        statement = statement.where(col(Trainee.name).ilike(_contains(trainee), escape="\\"))
    if slot:
        pattern = _contains(slot)
        statement = statement.where(
            or_(
                col(Slot.title).ilike(pattern, escape="\\"),
                col(Organisation.name).ilike(pattern, escape="\\"),
            )
        )
    if rank == "first":
        statement = statement.where(col(Proposal.rank) == 1)
    elif rank == "top3":
        statement = statement.where(col(Proposal.rank) <= 3)
    elif rank == "4plus":
        statement = statement.where(col(Proposal.rank) >= 4)
    elif rank == "unranked":
        statement = statement.where(col(Proposal.rank).is_(None))
    elif rank:
        raise ValueError(f"unknown rank band {rank!r}")
    raw = paginate(session, statement.order_by(col(Proposal.id)), page, per_page)
    return Page(
        items=[ProposalRow(p, t, s, o) for p, t, s, o in raw.items],
        total=raw.total,
        page=raw.page,
        per_page=raw.per_page,
    )


# --- placements ----------------------------------------------------------------------


@dataclass(frozen=True)
class PlacementDetail:
    placement: Placement
    trainee_name: str
    slot: Slot
    organisation: str
    round: Round


def placement_detail(session: Session, placement_id: int) -> PlacementDetail | None:
    """A placement with what a confirmation page names: trainee, slot, host, round."""
    statement: Any = (
        select(Placement, col(Trainee.name), Slot, col(Organisation.name), Round)  # type: ignore[call-overload]
        .join(Trainee, col(Trainee.id) == col(Placement.trainee_id))
        .join(Slot, col(Slot.id) == col(Placement.slot_id))
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .join(Round, col(Round.id) == col(Placement.round_id))
        .where(col(Placement.id) == placement_id)
    )
    row = session.exec(statement).first()
    if row is None:
        return None
    placement, trainee_name, slot, organisation, rnd = row
    return PlacementDetail(placement, trainee_name, slot, organisation, rnd)
