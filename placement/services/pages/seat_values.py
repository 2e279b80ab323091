"""Read model of the seat values page: the slots where one more seat would place someone,
with that trainee and the moves it sets off, then those where it would save the most.

Everything comes from the rows the worker wrote with the run (`seat_values`, whose `moves`
hold each chain): one count, one page of slots along the index in the API's order, and one
query for the names in the chains of the slots on the page. No explanation is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import and_, case, func, literal, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from placement.errors import WrongState
from placement.models import (
    MatchRun,
    Organisation,
    Preference,
    Round,
    RunSeatValue,
    RunStatus,
    Slot,
    Trainee,
    User,
)
from placement.services import rounds, runs
from placement.services.common import MAX_PER_PAGE, Page, require_role


@dataclass(frozen=True)
class SeatMoveRow:
    trainee_id: int
    trainee: str
    from_slot_id: int | None
    to_slot_id: int | None
    from_slot: str | None  # "Title, Host"; None: the trainee was unplaced
    to_slot: str | None  # None: the trainee would give up their place (a swap)
    # The trainee's own rank of each slot in the run's round (None: not ranked, or none).
    from_rank: int | None = None
    to_rank: int | None = None


@dataclass(frozen=True)
class SeatRow:
    slot_id: int
    title: str
    organisation: str
    capacity: int
    placed_gain: int
    cost_change: float
    # placed_gain 1: the trainee one optimal re-solve with the extra seat places, then the
    # placed trainees who move to make room; placed_gain 0: the moves of the cheaper cycle.
    placed: SeatMoveRow | None
    moves: list[SeatMoveRow]

    @property
    def summary(self) -> str:
        """What the seat does in plain words: "places Priya Shah (their 2nd choice);
        2 trainees move to a choice they ranked higher"."""
        parts = []
        if self.placed is not None:
            parts.append(f"places {self.placed.trainee} ({choice(self.placed.to_rank)})")
        elif self.placed_gain:
            parts.append("places one more trainee")
        moving = [m for m in self.moves if m.from_slot_id is not None and m.to_slot_id is not None]
        higher = sum(1 for m in moving if _better(m.to_rank, m.from_rank))
        lower = sum(1 for m in moving if _better(m.from_rank, m.to_rank))
        other = len(moving) - higher - lower
        out = sum(1 for m in self.moves if m.to_slot_id is None)
        into = sum(1 for m in self.moves if m.from_slot_id is None)
        for n, what in (
            (higher, "to a choice they ranked higher"),
            (lower, "to a choice they ranked lower"),
            (other, "to another slot"),
        ):
            if n:
                parts.append(f"{_trainees(n)} {'moves' if n == 1 else 'move'} {what}")
        if into:
            parts.append(f"{_trainees(into)} not placed now {'is' if into == 1 else 'are'} placed")
        if out:
            parts.append(f"{_trainees(out)} {'gives' if out == 1 else 'give'} up a place")
        return "; ".join(parts)


def choice(rank: int | None) -> str:
    """ "their 2nd choice", or "a slot they did not rank"."""
    if rank is None:
        return "a slot they did not rank"
    suffix = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
    return f"their {rank}{suffix} choice"


def _better(a: int | None, b: int | None) -> bool:
    """Rank ``a`` is one the trainee put above ``b`` (a ranked slot beats an unranked one)."""
    if a is None:
        return False
    return b is None or a < b


def _trainees(n: int) -> str:
    return "1 trainee" if n == 1 else f"{n} trainees"


@dataclass(frozen=True)
class SeatValuesPage:
    run: MatchRun
    round: Round
    rows: Page[SeatRow]
    would_place: int  # slots where one more seat places one more trainee


def seat_values_page(
    session: Session, actor: User, run_id: int, *, page: int, per_page: int
) -> SeatValuesPage:
    """The slots where one more seat helps, in the API's order (most placed, then the
    largest saving), paginated; slots where it changes nothing are left out."""
    require_role(actor, "coordinator")
    run = runs.get_run(session=session, actor=actor, run_id=run_id)
    rnd = rounds.get_round_for(session=session, actor=actor, round_id=run.round_id)
    if run.mode != "optimal":
        raise WrongState("Seat values come from the optimal mode; this is a stable run.")
    if run.status != RunStatus.SUCCEEDED:
        raise WrongState("The run has not succeeded yet.")
    page, per_page = max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)
    of_run = col(RunSeatValue.run_id) == run_id
    gain = col(RunSeatValue.placed_gain)
    saving = col(RunSeatValue.cost_change)
    placing, saving_only = session.execute(
        sa_select(
            func.count(case((gain > 0, 1))), func.count(case((and_(gain == 0, saving < 0), 1)))
        ).where(of_run)
    ).one()
    # Two ranges of the index (run_id, placed_gain, cost_change, slot_id), each read in
    # its own order: the slots that place one more, then those that only save.
    start, stop = (page - 1) * per_page, page * per_page
    picked: list[tuple[RunSeatValue, str, str, int]] = []
    for where, first, count in (
        (gain == 1, 0, placing),
        (and_(gain == 0, saving < 0), placing, saving_only),
    ):
        lo, hi = max(start - first, 0), min(stop - first, count)
        if hi > lo:
            picked += session.execute(
                sa_select(RunSeatValue, col(Slot.title), col(Organisation.name), col(Slot.capacity))
                .join(Slot, col(Slot.id) == col(RunSeatValue.slot_id))
                .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
                .where(of_run, where)
                .order_by(saving, col(RunSeatValue.slot_id))
                .offset(lo)
                .limit(hi - lo)
            ).all()
    moves = _moves(session, picked, run.round_id)
    rows = []
    for v, title, org, capacity in picked:
        chain = moves.get(v.slot_id, [])
        placed = chain[0] if v.placed_gain and chain and chain[0].from_slot is None else None
        rows.append(
            SeatRow(
                slot_id=v.slot_id,
                title=title,
                organisation=org,
                capacity=capacity,
                placed_gain=v.placed_gain,
                cost_change=v.cost_change,
                placed=placed,
                moves=chain[1:] if placed is not None else chain,
            )
        )
    return SeatValuesPage(
        run=run,
        round=rnd,
        rows=Page(items=rows, total=placing + saving_only, page=page, per_page=per_page),
        would_place=placing,
    )


def _moves(
    session: Session, picked: list[tuple[RunSeatValue, str, str, int]], round_id: int
) -> dict[int, list[SeatMoveRow]]:
    """The chains of the slots on the page, in order, with names: one query for the names
    of the trainees and slots they mention, by primary key, and one for the ranks those
    trainees gave those slots in the round."""
    chains = {v.slot_id: v.moves for v, *_ in picked if v.moves}
    trainee_ids = {m[0] for c in chains.values() for m in c}
    slot_ids = {s for c in chains.values() for m in c for s in m[1:] if s is not None}
    if not chains:
        return {}
    names: Any = sa_select(
        literal("t").label("kind"), col(Trainee.id).label("id"), col(Trainee.name).label("name")
    ).where(col(Trainee.id).in_(sorted(trainee_ids)))
    labels: Any = (
        sa_select(
            literal("s").label("kind"),
            col(Slot.id).label("id"),
            (col(Slot.title) + ", " + col(Organisation.name)).label("name"),
        )
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .where(col(Slot.id).in_(sorted(slot_ids or {-1})))
    )
    found = {(kind, ident): name for kind, ident, name in session.execute(union_all(names, labels))}
    ranks: dict[tuple[int | None, int | None], int] = {
        (t, s): r
        for t, s, r in session.execute(
            sa_select(col(Preference.trainee_id), col(Preference.slot_id), col(Preference.rank))
            .where(col(Preference.round_id) == round_id)
            .where(col(Preference.trainee_id).in_(sorted(trainee_ids)))
            .where(col(Preference.slot_id).in_(sorted(slot_ids or {-1})))
        )
    }
    out: dict[int, list[SeatMoveRow]] = {}
    for slot_id, chain in chains.items():
        out[slot_id] = [
            SeatMoveRow(
                trainee_id=cast(int, t),
                trainee=found.get(("t", t), "A trainee whose record was erased"),
                from_slot_id=a,
                to_slot_id=b,
                from_slot=None if a is None else found.get(("s", a), "a slot since removed"),
                to_slot=None if b is None else found.get(("s", b), "a slot since removed"),
                from_rank=ranks.get((t, a)),
                to_rank=ranks.get((t, b)),
            )
            for t, a, b in chain
        ]
    return out
