"""Who one more seat would place, and who would move, stored with an optimal run's seat
values (`placement.matching.seat_values.seat_chains`): computed by the worker once, kept
on the seat value rows, so that the seat values page and the API read rows and never an
explanation or a re-solve."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from placement.matching import Instance, Result
from placement.matching.memory import gc_paused
from placement.matching.seat_values import result_seat_moves
from placement.models import User
from placement.services.common import Page
from placement.services.runs.reading import list_seat_values

log = logging.getLogger(__name__)


def seat_move_chains(
    run_id: int, instance: Instance, result: Result, extra: dict[str, Any]
) -> dict[int, list[list[int | None]]]:
    """The chain of moves of every slot where one more seat helps, as stored on its seat
    value row (`RunSeatValue.moves`), timed in `extra["seat_moves_seconds"]`. An error here
    is logged and leaves the run with its seat values but without the moves, rather than
    failing a good result."""
    if result.seat_values is None:
        return {}
    t0 = time.perf_counter()
    try:
        moves = result_seat_moves(instance, result)
    except Exception:
        log.exception("run %s: the moves behind the seat values failed; kept without", run_id)
        extra["seat_moves_failed"] = True
        return {}
    chains: dict[int, list[list[int | None]]] = {}
    with gc_paused():  # 100,000 small lists, no cycles (see seat_moves)
        for m in moves:  # in slot then step order
            chains.setdefault(int(m.slot_id), []).append(
                [int(m.trainee_id),
                 None if m.from_slot_id is None else int(m.from_slot_id),
                 None if m.to_slot_id is None else int(m.to_slot_id)]
            )  # fmt: skip
    extra["seat_moves_seconds"] = round(time.perf_counter() - t0, 4)
    return chains


def without_erased_moves(
    chains: dict[int, list[list[int | None]]], erased: set[int]
) -> dict[int, list[list[int | None]]]:
    """The chains without any that moves a trainee erased while the run solved (a chain
    with a hole in it would tell the coordinator something false)."""
    return {s: c for s, c in chains.items() if not any(m[0] in erased for m in c)}


@dataclass(frozen=True)
class SeatValueItem:
    """A slot's seat value with who the seat helps: `would_place_trainee_id` (placed_gain
    1) is the trainee one optimal re-solve with the extra seat places, and `moves` the
    chain it sets off, in order (`from_slot_id` null: placed from unplaced; `to_slot_id`
    null: gives up their place)."""

    slot_id: int
    placed_gain: int
    cost_change: float
    would_place_trainee_id: int | None = None
    moves: list[dict[str, int | None]] = field(default_factory=list)


def list_seat_values_with_moves(
    *, session: Session, actor: User | None, run_id: int, page: int = 1, per_page: int = 50
) -> Page[SeatValueItem]:
    """`list_seat_values` (same order, same errors) with each slot's moves, as objects."""
    values = list_seat_values(
        session=session, actor=actor, run_id=run_id, page=page, per_page=per_page
    )
    items = []
    for v in values.items:
        chain = [{"trainee_id": t, "from_slot_id": a, "to_slot_id": b} for t, a, b in v.moves or []]
        placed = v.placed_gain > 0 and bool(chain) and chain[0]["from_slot_id"] is None
        items.append(
            SeatValueItem(
                slot_id=v.slot_id,
                placed_gain=v.placed_gain,
                cost_change=v.cost_change,
                would_place_trainee_id=chain[0]["trainee_id"] if placed else None,
                moves=chain,
            )
        )
    return Page(items=items, total=values.total, page=values.page, per_page=values.per_page)
