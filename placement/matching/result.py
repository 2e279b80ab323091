"""Frozen result records and the `placement-result/1` document."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import orjson

from .instance import Id

RESULT_FORMAT = "placement-result/1"


@dataclass(frozen=True, slots=True)
class Assignment:
    """A trainee placed in a slot.

    ``rank`` is the trainee's rank of the slot (None when unranked), ``cost`` the weighted
    total and ``terms`` its four weighted parts; ``locked`` marks an approved placement that
    the solver did not move (and does not count in ``placed`` or ``objective``).
    """

    trainee_id: Id
    slot_id: Id
    rank: int | None
    cost: float
    terms: dict[str, float]
    locked: bool


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A trainee left without a slot, and why."""

    trainee_id: Id
    reason: Literal["no_eligible_slot", "outcompeted"]


@dataclass(frozen=True, slots=True)
class Stats:
    """Diagnostics of one solve (see DESIGN.md, "Diagnostics with every run")."""

    placed: int
    unplaced: int
    objective: float
    first_choice: int
    top3: int
    mean_rank: float | None
    worst_rank: int | None
    blocking_pairs: int
    solve_seconds: float


@dataclass(frozen=True, slots=True)
class SeatValue:
    """How the optimum would change with one more seat at a slot (see API.md)."""

    slot_id: Id
    placed_gain: int
    cost_change: float


@dataclass(frozen=True, slots=True)
class Result:
    """Every trainee of the instance exactly once, in ``assignments`` or ``unplaced``.

    ``mode`` repeats the instance's; ``lottery`` (stable mode) is every trainee id, best
    first; ``seat_values`` is set when the instance asks for them (optimal mode).
    """

    assignments: tuple[Assignment, ...]
    unplaced: tuple[Unplaced, ...]
    stats: Stats
    mode: str = "optimal"
    lottery: tuple[Id, ...] | None = None
    seat_values: tuple[SeatValue, ...] | None = None


def result_to_dict(result: Result) -> dict[str, Any]:
    """The `placement-result/1` document of API.md for ``result``.

    Parameters
    ----------
    result : Result

    Returns
    -------
    dict
        JSON-ready: ``format``, ``mode``, ``assignments``, ``unplaced`` and ``stats``, and
        ``lottery`` and ``seat_values`` when the result has them.
    """
    s = result.stats
    doc: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "mode": result.mode,
        "assignments": [
            {
                "trainee_id": a.trainee_id,
                "slot_id": a.slot_id,
                "rank": a.rank,
                "cost": a.cost,
                "terms": dict(a.terms),
                "locked": a.locked,
            }
            for a in result.assignments
        ],
        "unplaced": [{"trainee_id": u.trainee_id, "reason": u.reason} for u in result.unplaced],
        "stats": {
            "placed": s.placed,
            "unplaced": s.unplaced,
            "objective": s.objective,
            "first_choice": s.first_choice,
            "top3": s.top3,
            "mean_rank": s.mean_rank,
            "worst_rank": s.worst_rank,
            "blocking_pairs": s.blocking_pairs,
            "solve_seconds": s.solve_seconds,
        },
    }
    if result.lottery is not None:
        doc["lottery"] = list(result.lottery)
    if result.seat_values is not None:
        doc["seat_values"] = [
            {"slot_id": v.slot_id, "placed_gain": v.placed_gain, "cost_change": v.cost_change}
            for v in result.seat_values
        ]
    return doc


def result_to_json(result: Result) -> bytes:
    """``result_to_dict(result)`` as UTF-8 JSON text, written by orjson.

    The records are dataclasses whose fields are the document's keys in its order, so
    orjson writes them directly (no dictionary per record). Ids orjson cannot write (an
    integer beyond 64 bits) fall back to the standard library; the content is the same.
    """
    doc: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "mode": result.mode,
        "assignments": result.assignments,
        "unplaced": result.unplaced,
        "stats": result.stats,
    }
    if result.lottery is not None:
        doc["lottery"] = result.lottery
    if result.seat_values is not None:
        doc["seat_values"] = result.seat_values
    try:
        return orjson.dumps(doc)
    except orjson.JSONEncodeError:
        return json.dumps(result_to_dict(result), ensure_ascii=False).encode()


def result_from_dict(data: Mapping[str, Any]) -> Result:
    """The :class:`Result` of a `placement-result/1` document (as ``result_to_dict`` made it).

    Parameters
    ----------
    data : mapping
        ``assignments``, ``unplaced`` and ``stats``; a stat missing from ``stats`` reads 0.
        ``mode`` (default ``"optimal"``), ``lottery`` and ``seat_values`` when present.

    Returns
    -------
    Result
    """
    stats = data["stats"]
    return Result(
        assignments=tuple(
            Assignment(
                trainee_id=a["trainee_id"],
                slot_id=a["slot_id"],
                rank=a["rank"],
                cost=a["cost"],
                terms=dict(a["terms"]),
                locked=a["locked"],
            )
            for a in data["assignments"]
        ),
        unplaced=tuple(
            Unplaced(trainee_id=u["trainee_id"], reason=u["reason"]) for u in data["unplaced"]
        ),
        stats=Stats(**{f.name: stats.get(f.name, 0) for f in fields(Stats)}),
        mode=data.get("mode", "optimal"),
        lottery=None if data.get("lottery") is None else tuple(data["lottery"]),
        seat_values=None
        if data.get("seat_values") is None
        else tuple(
            SeatValue(v["slot_id"], v["placed_gain"], v["cost_change"]) for v in data["seat_values"]
        ),
    )
