"""Blocking pairs and per-trainee explanations of a result."""

from __future__ import annotations

from typing import Any

import numpy as np

from .instance import Id, Instance
from .lottery import priorities
from .prepared import Prepared
from .problem import (
    OK,
    RULES,
    Edges,
    build_arrays,
    cost_edges,
    failed_rule,
    pair_distance_km,
)
from .result import Result

_NEVER = np.iinfo(np.int64).max


def blocking_pairs(prep: Prepared, slot_of: np.ndarray, picked: Edges) -> int:
    """Count blocking pairs (vectorised over the candidate pairs); the same in both modes.

    A trainee t and a slot s block when t ranked s (and the pair is a candidate) above their
    outcome (or t is unplaced, or placed in a slot they did not rank), and s either has a
    free seat or prefers t to one of the trainees the match placed there. A slot prefers
    the trainees its employer ranked, in that order, then everyone else in the run's
    lottery order (:func:`placement.matching.lottery.priorities`). Locked placements take
    their seats but are not movable, so they are never the ones displaced.
    """
    arr, e = prep.arr, prep.edges
    n_t, n_s = len(arr.t_level), len(arr.s_cap)
    if len(e.t) == 0:
        return 0
    occupied = np.bincount(slot_of[slot_of >= 0], minlength=n_s)
    outcome_rank = np.full(n_t, _NEVER, dtype=np.int64)
    ranked = picked.rank > 0
    outcome_rank[picked.t[ranked]] = picked.rank[ranked]
    # Worst priority among the movable occupants of each slot.
    worst = np.full(n_s, -1, dtype=np.int64)
    np.maximum.at(worst, picked.s, priorities(arr, picked.t, picked.emp_rank))
    better = (e.rank > 0) & (e.rank < outcome_rank[e.t]) & (slot_of[e.t] != e.s)
    prefers = priorities(arr, e.t, e.emp_rank) < worst[e.s]
    willing = (occupied[e.s] < arr.s_cap[e.s]) | prefers
    return int(np.count_nonzero(better & willing))


def explain(instance: Instance, result: Result, trainee_id: Id) -> list[dict[str, Any]]:
    """Why each choice the trainee ranked above their outcome was not given.

    Parameters
    ----------
    instance : Instance
    result : Result
        A result of ``solve(instance)``.
    trainee_id : str or int
        Id as in the instance.

    Returns
    -------
    list of dict
        One entry per ranked slot above the outcome (all ranked slots when unplaced or
        placed in an unranked slot), in rank order:
        ``{"slot_id", "rank", "reason": "ineligible", "rule": "level" | "availability" |
        "dbs" | "distance" | "excluded"}``,
        ``{"slot_id", "rank", "reason": "full", "taken_by": [trainee ids],
        "total_cost": sum of their costs}`` or, when the slot had room but the trainee's
        outcome is cheaper overall (other terms outweigh the rank),
        ``{"slot_id", "rank", "reason": "costlier", "cost", "outcome_cost"}``.

    Raises
    ------
    KeyError
        If the trainee is not in the instance.
    """
    arr = build_arrays(instance)
    ti = arr.t_index[trainee_id]
    trainee = instance.trainees[ti]
    outcome = next((a for a in result.assignments if a.trainee_id == trainee_id), None)
    limit = outcome.rank if outcome is not None and outcome.rank is not None else None
    choices = [
        (r, arr.s_index[sid])
        for r, sid in enumerate(trainee.preferences, start=1)
        if sid in arr.s_index and (limit is None or r < limit)
    ]
    if not choices:
        return []
    ranks = np.array([r for r, _ in choices], dtype=np.int64)
    s = np.array([si for _, si in choices], dtype=np.int64)
    t = np.full(len(s), ti, dtype=np.int64)
    rules = failed_rule(arr, t, s, pair_distance_km(arr, t, s))
    costs = cost_edges(instance, arr, t, s, ranks).cost
    occupants: dict[Id, list[Any]] = {}
    for a in result.assignments:
        occupants.setdefault(a.slot_id, []).append(a)
    out: list[dict[str, Any]] = []
    for i, (rank, si) in enumerate(choices):
        slot = instance.slots[si]
        entry: dict[str, Any] = {"slot_id": slot.id, "rank": rank}
        taken = occupants.get(slot.id, [])
        if rules[i] != OK:
            entry.update(reason="ineligible", rule=RULES[rules[i]])
        elif len(taken) >= slot.capacity:
            entry.update(
                reason="full",
                taken_by=[a.trainee_id for a in taken],
                total_cost=round(sum(a.cost for a in taken), 6),
            )
        else:
            entry.update(
                reason="costlier",
                cost=round(float(costs[i]), 6),
                outcome_cost=outcome.cost if outcome is not None else None,
            )
        out.append(entry)
    return out
