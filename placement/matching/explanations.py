"""Structured explanations of every trainee's outcome, with exact counterfactuals.

For each trainee, every slot they ranked above their outcome gets one reason:

- ``ineligible``: the first hard rule the pair breaks (``level``, ``availability``,
  ``dbs``, ``distance``, ``excluded``) with the numbers behind it;
- ``full``: every seat went to trainees the match (or an earlier approval) placed there;
- ``costlier`` (optimal mode): the slot had room, but the round as a whole did better
  (more placed, or a lower total cost) with the trainee where they are;
- ``lower_priority`` (stable mode): the slot filled with trainees it prefers, by the
  employer's ranking (``"by": "employer"``) or by the lottery (``"by": "lottery"``).

Each trainee may also get a counterfactual: the smallest change to their own list or
profile that provably places them higher (:mod:`placement.matching.counterfactuals`).

All of it is computed in bulk from the run's own solve: when ``result`` came from
``solve(instance)`` on this very instance object, its arrays, candidate pairs and optimal
potentials are reused (:func:`placement.matching.prepared.recall_solve`); otherwise they
are built again (never solved again).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from itertools import pairwise, repeat
from operator import attrgetter
from typing import Any

import numpy as np

from .counterfactuals import optimal_counterfactuals
from .counterfactuals_stable import stable_counterfactuals
from .instance import Id, Instance
from .lottery import priorities
from .memory import gc_paused
from .prepared import prepare_mode, recall_solve
from .problem import (
    RULES,
    Arrays,
    _employer_ranks,
    build_arrays,
    failed_rule,
    norm_skill,
    pair_distance_km,
    ranked_pairs,
)
from .result import Result

_BIG = np.iinfo(np.int64).max


def _iso_all(ordinals: np.ndarray) -> list[str]:
    """ISO dates of proleptic ordinals, converting each distinct date once."""
    if len(ordinals) == 0:
        return []
    uniq, inv = np.unique(ordinals, return_inverse=True)
    text = [date.fromordinal(int(o)).isoformat() for o in uniq.tolist()]
    return list(map(text.__getitem__, inv.tolist()))


def _slot_of(arr: Arrays, result: Result) -> np.ndarray:
    out = arr.t_locked.copy()
    rows = result.assignments
    if not rows:
        return out
    ti = np.fromiter(
        map(arr.t_index.get, map(attrgetter("trainee_id"), rows), repeat(-1)), np.int64, len(rows)
    )
    si = np.fromiter(
        map(arr.s_index.get, map(attrgetter("slot_id"), rows), repeat(-1)), np.int64, len(rows)
    )
    ok = (ti >= 0) & (si >= 0)
    out[ti[ok]] = si[ok]
    return out


def explain_all(
    instance: Instance,
    result: Result,
    *,
    slot_id: Callable[[Id], Any] | None = None,
    stats: dict[str, int] | None = None,
) -> dict[Id, dict[str, Any]]:
    """Why every trainee got their outcome (see the module docstring).

    Parameters
    ----------
    instance : Instance
    result : Result
        The result of ``solve(instance)`` (either mode).
    slot_id : callable, optional
        Applied to every slot id in the answer (say ``int``, for database ids), once per
        slot rather than once per mention.
    stats : dict, optional
        Optimal mode: receives ``lex_queries``, ``lex_dropped`` and ``lex_work``: the
        what-ifs tied on cost that went to the draws, those past the work budget, and the
        arcs scanned (:mod:`placement.matching.lexicographic`), for the benchmarks.

    Returns
    -------
    dict
        Trainee id -> ``{"outcome": "placed" | "unplaced", "slot_id", "rank", "choices":
        [{"slot_id", "rank", "outcome", ...numbers}], "counterfactual": dict | None}``, for
        every trainee who ranked something above their outcome or is unplaced (a trainee
        placed at their first choice has nothing to explain and is left out).
        ``counterfactual`` is ``{"kind", "slot_id", "rank", ...}`` where ``slot_id`` /
        ``rank`` is where they would have been placed: ``kind`` ``"rank"`` (with
        ``move_to``), ``"distance"`` (``max_travel_km``), ``"dbs"``, ``"availability"``
        (``available_from``, ``available_to``) or ``"skills"`` (``skills``: the skills to
        have); ``"or_higher": true`` (stable mode) when they would be placed there or at a
        choice they ranked higher.
    """
    # Hundreds of thousands of small dicts would start the cyclic collector again and again
    # over the whole heap (the instance's records): they hold no cycles, so pause it.
    with gc_paused():
        ids = list(map(attrgetter("id"), instance.slots))
        ids = ids if slot_id is None else list(map(slot_id, ids))
        return _explain_all(instance, result, ids, stats)


def _explain_all(
    instance: Instance, result: Result, slot_ids: list[Any], stats: dict[str, int] | None
) -> dict[Id, dict[str, Any]]:
    stable = instance.mode == "stable"
    known = recall_solve(instance)
    prep, pot = known if known is not None else (prepare_mode(instance), None)
    arr = prep.arr
    n_t = len(arr.t_level)
    slot_of = _slot_of(arr, result)
    pairs = ranked_pairs(instance, arr)
    t, s, rank = pairs
    # The trainee's rank of their outcome (locked pairs included); unranked or none: never.
    held = slot_of[t] == s
    orank = np.full(n_t, _BIG, dtype=np.int64)
    orank[t[held]] = rank[held]
    above = rank < orank[t]
    t, s, rank = t[above], s[above], rank[above]
    km = pair_distance_km(arr, t, s)
    rule = failed_rule(arr, t, s, km)
    choice = (t, s, rank, km, rule)
    if stable:
        edges = (prep.edges.t, prep.edges.s, prep.edges.rank)
        cfs = stable_counterfactuals(arr, pairs, edges, slot_of, orank, choice)
    else:
        cfs = optimal_counterfactuals(prep, pot, pairs, slot_of, orank, choice, stats)
    entries = _choices(slot_ids, arr, slot_of, choice, stable)
    return _bodies(instance, slot_ids, slot_of, orank, t, entries, cfs)


def _choices(
    slot_ids: list[Any],
    arr: Arrays,
    slot_of: np.ndarray,
    choice: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    stable: bool,
) -> list[dict[str, Any]]:
    """One reason per choice, built column-wise."""
    t, s, rank, km, rule = choice
    n = len(t)
    sid = list(map(slot_ids.__getitem__, s.tolist()))
    rl = rank.tolist()
    entries: list[dict[str, Any]] = [{}] * n  # every position is set below
    occupied = np.bincount(slot_of[slot_of >= 0], minlength=len(arr.s_cap))
    eligible = rule == 0
    if stable:
        n_t = len(arr.t_level)
        movable = np.flatnonzero((slot_of >= 0) & (arr.t_locked < 0))
        occ_s = slot_of[movable]
        worst = np.full(len(arr.s_cap), -1, dtype=np.int64)
        np.maximum.at(worst, occ_s, priorities(arr, movable, _employer_ranks(arr, movable, occ_s)))
        mine = priorities(arr, t, _employer_ranks(arr, t, s))
        by_employer = (worst[s] >= 0) & ((worst[s] <= n_t) | (mine <= n_t))
        lower = eligible & (arr.s_free[s] > 0)
        for i, by in zip(np.flatnonzero(lower).tolist(),
                         np.where(by_employer[lower], "employer", "lottery").tolist(),
                         strict=True):  # fmt: skip
            entries[i] = {"slot_id": sid[i], "rank": rl[i], "outcome": "lower_priority", "by": by}
        eligible &= ~lower
    outcome = np.where(occupied[s] >= arr.s_cap[s], "full", "costlier")
    for i, o in zip(np.flatnonzero(eligible).tolist(), outcome[eligible].tolist(), strict=True):
        entries[i] = {"slot_id": sid[i], "rank": rl[i], "outcome": o}
    for code, name in enumerate(RULES):
        idx = np.flatnonzero(rule == code) if code else np.zeros(0, np.int64)
        if len(idx) == 0:
            continue
        it, js, il = t[idx], s[idx], idx.tolist()
        ids, ranks = list(map(sid.__getitem__, il)), list(map(rl.__getitem__, il))
        made: list[dict[str, Any]]
        if name == "level":
            made = [{"slot_id": i, "rank": r, "outcome": "ineligible", "rule": name,
                     "needed": a, "have": b}
                    for i, r, a, b in zip(ids, ranks, arr.s_level[js].tolist(),
                                          arr.t_level[it].tolist(), strict=True)]  # fmt: skip
        elif name == "availability":
            made = [{"slot_id": i, "rank": r, "outcome": "ineligible", "rule": name,
                     "available_from": a, "available_to": b, "starts_on": c, "ends_on": d}
                    for i, r, a, b, c, d in zip(
                        ids, ranks, _iso_all(arr.t_from[it]), _iso_all(arr.t_to[it]),
                        _iso_all(arr.s_start[js]), _iso_all(arr.s_end[js]), strict=True)
                    ]  # fmt: skip
        elif name == "distance":
            made = [{"slot_id": i, "rank": r, "outcome": "ineligible", "rule": name,
                     "km": a, "max_travel_km": b}
                    for i, r, a, b in zip(ids, ranks, np.round(km[idx], 1).tolist(),
                                          arr.t_travel[it].astype(np.float64).tolist(),
                                          strict=True)]  # fmt: skip
        else:
            made = [{"slot_id": i, "rank": r, "outcome": "ineligible", "rule": name}
                    for i, r in zip(ids, ranks, strict=True)]  # fmt: skip
        list(map(entries.__setitem__, il, made))
    return entries


def _bodies(
    instance: Instance,
    slot_ids: list[Any],
    slot_of: np.ndarray,
    orank: np.ndarray,
    t: np.ndarray,
    entries: list[dict[str, Any]],
    cfs: dict[int, dict[str, Any]],
) -> dict[Id, dict[str, Any]]:
    """One body per trainee with choices above their outcome or no placement."""
    trainees = instance.trainees
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]]) if len(t) else np.zeros(0, np.int64)
    who = t[starts]
    unplaced = np.flatnonzero(slot_of < 0)
    has = np.zeros(len(slot_of), dtype=bool)
    has[who] = True
    alone = unplaced[~has[unplaced]]
    people = np.concatenate([who, alone])
    cuts = np.r_[starts, len(t)].tolist()
    groups = [entries[a:b] for a, b in pairwise(cuts)]
    groups += [[] for _ in range(len(alone))]
    at = slot_of[people]
    r = orank[people]
    slot_col = [slot_ids[x] if x >= 0 else None for x in at.tolist()]
    rank_col = [None if (x < 0 or y == _BIG) else y for x, y in zip(at.tolist(), r.tolist(),
                                                                    strict=True)]  # fmt: skip
    ids = list(map(attrgetter("id"), map(trainees.__getitem__, people.tolist())))
    out: dict[Id, dict[str, Any]] = {
        tid: {"outcome": "placed" if sl is not None else "unplaced", "slot_id": sl,
              "rank": rk, "choices": ch, "counterfactual": None}
        for tid, sl, rk, ch in zip(ids, slot_col, rank_col, groups, strict=True)
    }  # fmt: skip
    for ti, cf in cfs.items():
        body = out.get(trainees[ti].id)
        if body is None or not (body["rank"] is None or cf["rank"] < body["rank"]):
            continue
        body["counterfactual"] = _counterfactual(instance, slot_ids, ti, cf)
    return out


def _counterfactual(
    instance: Instance, slot_ids: list[Any], ti: int, cf: dict[str, Any]
) -> dict[str, Any]:
    """A claim of :mod:`placement.matching.counterfactuals` with ids, dates and skills."""
    out = {k: v for k, v in cf.items() if k not in ("slot", "skills_of")}
    out["slot_id"] = slot_ids[cf["slot"]]
    if cf["kind"] == "availability":
        out["available_from"] = date.fromordinal(cf["available_from"]).isoformat()
        out["available_to"] = date.fromordinal(cf["available_to"]).isoformat()
    elif cf["kind"] == "skills":
        have = {norm_skill(x) for x in instance.trainees[ti].skills}
        needed: list[str] = []
        for raw in instance.slots[cf["skills_of"]].required_skills:
            if norm_skill(raw) not in have and raw not in needed:
                have.add(norm_skill(raw))
                needed.append(raw)
        out["skills"] = needed
    return out


def ineligible_choices(instance: Instance) -> dict[Id, list[dict[str, Any]]]:
    """Per trainee, each ranked slot a hard rule forbids, with the rule and its numbers.

    The same rules as the solve (:func:`placement.matching.problem.failed_rule`), for a
    page or an API answer that warns as soon as a trainee ranks a slot they cannot get.

    Returns
    -------
    dict
        Trainee id -> ``[{"slot_id", "rank", "outcome": "ineligible", "rule", ...}]``.
    """
    arr = build_arrays(instance)
    t, s, rank = ranked_pairs(instance, arr)
    km = pair_distance_km(arr, t, s)
    rule = failed_rule(arr, t, s, km)
    bad = rule != 0
    choice = (t[bad], s[bad], rank[bad], km[bad], rule[bad])
    slot_ids = list(map(attrgetter("id"), instance.slots))
    entries = _choices(slot_ids, arr, arr.t_locked, choice, stable=False)
    out: dict[Id, list[dict[str, Any]]] = {}
    for ti, entry in zip(choice[0].tolist(), entries, strict=True):
        out.setdefault(instance.trainees[ti].id, []).append(entry)
    return out
