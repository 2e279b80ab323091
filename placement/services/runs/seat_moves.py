"""Who one more seat would place, and who would move, stored with an optimal run's seat
values (`placement.matching.seat_values.seat_chains`): computed by the worker once, so
that the seat values page reads rows and never an explanation or a re-solve."""

from __future__ import annotations

import logging
import time
from typing import Any

from placement.matching import Instance, Result
from placement.matching.seat_values import result_seat_moves

log = logging.getLogger(__name__)


def seat_move_rows(
    run_id: int, instance: Instance, result: Result, extra: dict[str, Any]
) -> list[dict[str, Any]]:
    """The `seat_value_moves` rows of a run, timed in `extra["seat_moves_seconds"]`. An
    error here is logged and leaves the run with its seat values but without the moves,
    rather than failing a good result."""
    if result.seat_values is None:
        return []
    t0 = time.perf_counter()
    try:
        moves = result_seat_moves(instance, result)
    except Exception:
        log.exception("run %s: the moves behind the seat values failed; kept without", run_id)
        extra["seat_moves_failed"] = True
        return []
    rows = [
        {
            "run_id": run_id,
            "slot_id": int(m.slot_id),
            "step": m.step,
            "trainee_id": int(m.trainee_id),
            "from_slot_id": None if m.from_slot_id is None else int(m.from_slot_id),
            "to_slot_id": None if m.to_slot_id is None else int(m.to_slot_id),
        }
        for m in moves
    ]
    extra["seat_moves_seconds"] = round(time.perf_counter() - t0, 4)
    return rows


def without_erased_moves(rows: list[dict[str, Any]], erased: set[int]) -> list[dict[str, Any]]:
    """The rows without any chain that moves a trainee erased while the run solved (a
    chain with a hole in it would tell the coordinator something false)."""
    broken = {r["slot_id"] for r in rows if r["trainee_id"] in erased}
    return [r for r in rows if r["slot_id"] not in broken] if broken else rows
