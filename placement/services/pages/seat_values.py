"""Read model of the seat values page: the slots where one more seat would place someone,
with that trainee and the moves it sets off, then those where it would save the most.

Everything comes from rows the worker wrote with the run (`seat_values` and
`seat_value_moves`): one count, one page of slots along the index in the API's order, and
one query for the moves of the slots on the page. No explanation is read."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from placement.errors import WrongState
from placement.models import (
    MatchRun,
    Organisation,
    Round,
    RunSeatMove,
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
    moves = _moves(session, run_id, [v.slot_id for v, *_ in picked])
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


def _moves(session: Session, run_id: int, slot_ids: list[int]) -> dict[int, list[SeatMoveRow]]:
    """The chains of the slots on the page, in step order, with names (one query)."""
    if not slot_ids:
        return {}
    src, dst = aliased(Slot), aliased(Slot)
    src_org, dst_org = aliased(Organisation), aliased(Organisation)
    rows = session.execute(
        sa_select(
            col(RunSeatMove.slot_id),
            col(RunSeatMove.trainee_id),
            col(Trainee.name),
            col(RunSeatMove.from_slot_id),
            col(RunSeatMove.to_slot_id),
            col(src.title),
            col(src_org.name),
            col(dst.title),
            col(dst_org.name),
        )
        .join(Trainee, col(Trainee.id) == col(RunSeatMove.trainee_id))
        .outerjoin(src, col(src.id) == col(RunSeatMove.from_slot_id))
        .outerjoin(src_org, col(src_org.id) == col(src.organisation_id))
        .outerjoin(dst, col(dst.id) == col(RunSeatMove.to_slot_id))
        .outerjoin(dst_org, col(dst_org.id) == col(dst.organisation_id))
        .where(col(RunSeatMove.run_id) == run_id, col(RunSeatMove.slot_id).in_(slot_ids))
        .order_by(col(RunSeatMove.slot_id), col(RunSeatMove.step))
    ).all()
    out: dict[int, list[SeatMoveRow]] = {}
    for slot_id, trainee_id, name, from_id, to_id, s_title, s_org, d_title, d_org in rows:
        out.setdefault(slot_id, []).append(
            SeatMoveRow(
                trainee_id=trainee_id,
                trainee=name,
                from_slot_id=from_id,
                to_slot_id=to_id,
                from_slot=None if s_title is None else f"{s_title}, {s_org}",
                to_slot=None if d_title is None else f"{d_title}, {d_org}",
            )
        )
    return out
