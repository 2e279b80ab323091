"""From the slot chosen for each trainee to a :class:`Result` with its stats."""

from __future__ import annotations

from dataclasses import replace
from operator import attrgetter

import numpy as np

from .diagnostics import blocking_pairs
from .lottery import trainee_order
from .prepared import Prepared
from .problem import cost_edges
from .result import Assignment, Result, Stats, Unplaced
from .seat_values import seat_values


def assemble_mode(
    prep: Prepared, slot_of: np.ndarray, seconds: float, *, pot: np.ndarray | None = None
) -> Result:
    """:func:`assemble` plus the mode, the stable mode's lottery and the seat values.

    Parameters
    ----------
    prep : Prepared
        From :func:`placement.matching.prepared.prepare_mode`.
    slot_of : ndarray
        The slot index of each trainee (-1 if none).
    seconds : float
        ``solve_seconds``.
    pot : ndarray, optional
        The optimal potentials of the solve, if it computed them (seat values reuse them).
    """
    instance = prep.instance
    values = None
    if instance.mode != "stable" and instance.seat_values:
        values = seat_values(prep, slot_of, pot)
    lottery = None
    if instance.mode == "stable":
        order = trainee_order(prep.arr).tolist()
        lottery = tuple(map(attrgetter("id"), map(instance.trainees.__getitem__, order)))
    result = assemble(prep, slot_of, seconds)
    return replace(result, mode=instance.mode, lottery=lottery, seat_values=values)


def _round(x: float) -> float:
    return round(float(x), 6)


def assemble(prep: Prepared, slot_of: np.ndarray, seconds: float) -> Result:
    """Turn the slot index of each trainee into a :class:`Result` with its stats.

    Vectorised: the chosen pairs are found with one comparison over the candidate pairs,
    every column is rounded and converted to Python values in bulk, and the records are
    built with ``map`` (no per-trainee dictionaries or searches).
    """
    instance, arr, e = prep.instance, prep.arr, prep.edges
    n_t = len(arr.t_level)
    # Locked trainees have no candidate pairs and a trainee has at most one pair per slot,
    # so the chosen pairs are exactly the candidate pairs that match the assignment.
    pos = np.flatnonzero(slot_of[e.t] == e.s)
    pos = pos[np.argsort(e.t[pos], kind="stable")]
    picked = e.take(pos)

    locked_t = np.flatnonzero(arr.t_locked >= 0)
    locked_s = arr.t_locked[locked_t]
    l_rank = np.zeros(len(locked_t), dtype=np.int64)
    for i, ti in enumerate(locked_t.tolist()):  # locked pairs are few
        slot_id = instance.slots[int(locked_s[i])].id
        prefs = instance.trainees[ti].preferences
        if slot_id in prefs:
            l_rank[i] = prefs.index(slot_id) + 1
    locked_edges = cost_edges(instance, arr, locked_t, locked_s, l_rank)

    trainees, slots = instance.trainees, instance.slots
    both = (picked, locked_edges)
    rows_t = np.concatenate([x.t for x in both])
    order = np.argsort(rows_t, kind="stable")

    def column(name: str) -> np.ndarray:
        return np.concatenate([getattr(x, name) for x in both])[order]

    t_list = rows_t[order].tolist()
    s_ids = [x.id for x in slots]
    terms = [
        {"preference": p, "employer": m, "skills": k, "distance": d}
        for p, m, k, d in zip(
            np.round(column("preference"), 6).tolist(),
            np.round(column("employer"), 6).tolist(),
            np.round(column("skills"), 6).tolist(),
            np.round(column("distance"), 6).tolist(),
            strict=True,
        )
    ]
    is_locked = np.concatenate([np.zeros(len(picked.t), bool), np.ones(len(locked_t), bool)])
    assignments = tuple(
        map(
            Assignment,
            map(attrgetter("id"), map(trainees.__getitem__, t_list)),
            map(s_ids.__getitem__, column("s").tolist()),
            [r or None for r in column("rank").tolist()],
            np.round(np.concatenate([x.cost for x in both])[order], 6).tolist(),
            terms,
            is_locked[order].tolist(),
        )
    )
    has_candidate = np.zeros(n_t, dtype=bool)
    has_candidate[e.t] = True
    left = np.flatnonzero(slot_of < 0)
    unplaced = tuple(
        map(
            Unplaced,
            map(attrgetter("id"), map(trainees.__getitem__, left.tolist())),
            np.where(has_candidate[left], "outcompeted", "no_eligible_slot").tolist(),
        )
    )
    ranks = picked.rank[picked.rank > 0]
    stats = Stats(
        placed=len(picked.t),
        unplaced=len(unplaced),
        objective=_round(picked.cost.sum()),
        first_choice=int(np.count_nonzero(ranks == 1)),
        top3=int(np.count_nonzero(ranks <= 3)),
        mean_rank=_round(ranks.mean()) if len(ranks) else None,
        worst_rank=int(ranks.max()) if len(ranks) else None,
        blocking_pairs=blocking_pairs(prep, slot_of, picked),
        solve_seconds=round(seconds, 4),
    )
    return Result(assignments=assignments, unplaced=unplaced, stats=stats)
