"""Structured explanations of every trainee's outcome, with exact counterfactuals.

For each trainee, every slot they ranked above their outcome gets one reason:

- ``ineligible``: the first hard rule the pair breaks (``level``, ``availability``,
  ``dbs``, ``distance``, ``excluded``) with the numbers behind it;
- ``full``: every seat went to trainees the match (or an earlier approval) placed there;
- ``costlier`` (optimal mode): the slot had room, but the round as a whole did better
  (more placed, or a lower total cost) with the trainee where they are;
- ``lower_priority`` (stable mode): the slot filled with trainees it prefers, by the
  employer's ranking (``"by": "employer"``) or by the lottery (``"by": "lottery"``).

Counterfactuals (optimal mode only; None wherever this module cannot prove one)
-------------------------------------------------------------------------------
A *what-if* changes only the trainee's own pairs: moving one choice up their list (its
preference term falls; the choices it passes become dearer), or a profile change that makes
an ineligible choice eligible (travelling further, a DBS check, wider availability), which
may add and re-cost several of their pairs at once. Let ``f`` be the run's optimum and
``d`` shortest distances in its residual graph folded onto the slots
(:mod:`placement.matching.residual`). Any other placement differs from ``f`` by residual
cycles; exactly one passes through the trainee, and the others do not touch the trainee's
pairs, so they cost ``>= 0``. Hence, with the trainee's new pair costs ``q'``:

- placed at ``s0`` (cost ``q0``): the best placement with the trainee at ``x`` costs
  ``q'(x) - q0 + d(x, s0)`` more than ``f`` (``x = s0``: ``q'(s0) - q0``); unplacing them
  costs ``-q0 + d(S, s0)`` (infinite when nobody can take the seat: one fewer placed);
- unplaced: at ``x``, ``q'(x) + d(x, S)`` at the same number placed; and if some ``x`` has
  a path to the sink ``T`` that avoids ``S``, one more trainee is placed, so every optimum
  uses such an ``x``, the cheapest being ``q'(x) + d(x, T)``.

The paths ending at ``s0`` (or ``S``) never use the trainee's own arcs, which leave ``s0``
(or ``S``), so ``d`` of the run's graph is the right one. The claim "you would have been
placed at X" is made only when X is the unique strict minimum and ranked above the
outcome: then every optimum of the changed round places them at X, whatever the lottery.
A placed trainee whose change could also raise the number placed gets no claim (the two
paths involved need not be disjoint). Distances to each distinct ``s0`` cost one Dijkstra;
those that the potentials' lower bound ``d(x, s0) >= p(s0) - p(x)`` already rules out are
skipped, and beyond a work budget the rest get no counterfactual.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.sparse.csgraph import dijkstra

from .instance import Id, Instance
from .lottery import priorities
from .prepared import Prepared, prepare_mode
from .problem import (
    RULES,
    Arrays,
    _employer_ranks,
    build_arrays,
    cost_edges,
    failed_rule,
    pair_distance_km,
    quantum,
    ranked_pairs,
)
from .residual import SlotGraph, potentials, slot_graph
from .result import Result

_BIG = np.iinfo(np.int64).max
# Arc relaxations the counterfactual Dijkstras may spend in one call.
WORK_BUDGET = 30_000_000


@lru_cache(maxsize=4096)
def _iso(ordinal: int) -> str:
    return date.fromordinal(int(ordinal)).isoformat()


def _slot_of(arr: Arrays, result: Result) -> np.ndarray:
    out = arr.t_locked.copy()
    for a in result.assignments:
        ti, si = arr.t_index.get(a.trainee_id), arr.s_index.get(a.slot_id)
        if ti is not None and si is not None:
            out[ti] = si
    return out


def explain_all(instance: Instance, result: Result) -> dict[Id, dict[str, Any]]:
    """Why every trainee got their outcome (see the module docstring).

    Parameters
    ----------
    instance : Instance
    result : Result
        The result of ``solve(instance)`` (either mode).

    Returns
    -------
    dict
        Trainee id -> ``{"outcome": "placed" | "unplaced", "slot_id", "rank", "choices":
        [{"slot_id", "rank", "outcome", ...numbers}], "counterfactual": dict | None}``, for
        every trainee who ranked something above their outcome or is unplaced (a trainee
        placed at their first choice has nothing to explain and is left out).
        ``counterfactual`` is ``{"kind": "rank", "slot_id", "rank", "move_to"}``,
        ``{"kind": "distance", "slot_id", "rank", "max_travel_km"}``, ``{"kind": "dbs", ...}``
        or ``{"kind": "availability", ..., "available_from", "available_to"}``, where
        ``slot_id``/``rank`` is where they would have been placed.
    """
    stable = instance.mode == "stable"
    # The stable mode needs no candidate pairs here (no counterfactuals): arrays only.
    prep = None if stable else prepare_mode(instance)
    arr = build_arrays(instance) if prep is None else prep.arr
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
    occupied = np.bincount(slot_of[slot_of >= 0], minlength=len(arr.s_cap))
    full = occupied[s] >= arr.s_cap[s]
    by_employer = np.zeros(len(t), dtype=bool)
    if stable:
        movable = np.flatnonzero((slot_of >= 0) & (arr.t_locked < 0))
        occ_s = slot_of[movable]
        worst = np.full(len(arr.s_cap), -1, dtype=np.int64)
        np.maximum.at(worst, occ_s, priorities(arr, movable, _employer_ranks(arr, movable, occ_s)))
        mine = priorities(arr, t, _employer_ranks(arr, t, s))
        by_employer = (worst[s] >= 0) & ((worst[s] <= n_t) | (mine <= n_t))

    counterfactuals: dict[int, dict[str, Any]] = {}
    if prep is not None:
        counterfactuals = _counterfactuals(prep, pairs, slot_of, t, s, rank, km, rule)

    trainees, slots = instance.trainees, instance.slots
    out: dict[Id, dict[str, Any]] = {}
    tl, sl, rl, kl, rul = t.tolist(), s.tolist(), rank.tolist(), km.tolist(), rule.tolist()
    fl, bl = full.tolist(), by_employer.tolist()
    room = (arr.s_free > 0).tolist()
    slot_ids = [x.id for x in slots]
    entry: dict[str, Any]
    for i in range(len(tl)):
        ti, si = tl[i], sl[i]
        if rul[i]:
            entry = _numbers(arr, RULES[rul[i]], ti, si, kl[i])
            entry["slot_id"], entry["rank"] = slot_ids[si], rl[i]
            entry["outcome"], entry["rule"] = "ineligible", RULES[rul[i]]
        elif stable and room[si]:
            entry = {"slot_id": slot_ids[si], "rank": rl[i], "outcome": "lower_priority",
                     "by": "employer" if bl[i] else "lottery"}  # fmt: skip
        else:
            entry = {"slot_id": slot_ids[si], "rank": rl[i],
                     "outcome": "full" if fl[i] else "costlier"}  # fmt: skip
        tid = trainees[ti].id
        body = out.get(tid)
        if body is None:
            body = out[tid] = _outcome(instance, slot_of, orank, ti)
        body["choices"].append(entry)
    for ti in np.flatnonzero(slot_of < 0).tolist():
        if trainees[ti].id not in out:
            out[trainees[ti].id] = _outcome(instance, slot_of, orank, ti)
    for ti, cf in counterfactuals.items():
        tid = trainees[ti].id
        body = out.get(tid)
        if body is not None and (body["rank"] is None or cf["rank"] < body["rank"]):
            body["counterfactual"] = cf
    return out


def _outcome(instance: Instance, slot_of: np.ndarray, orank: np.ndarray, ti: int) -> dict[str, Any]:
    si = int(slot_of[ti])
    r = int(orank[ti])
    return {
        "outcome": "placed" if si >= 0 else "unplaced",
        "slot_id": instance.slots[si].id if si >= 0 else None,
        "rank": r if si >= 0 and r != _BIG else None,
        "choices": [],
        "counterfactual": None,
    }


def _numbers(arr: Arrays, rule: str, ti: int, si: int, km: float) -> dict[str, Any]:
    if rule == "level":
        return {"needed": int(arr.s_level[si]), "have": int(arr.t_level[ti])}
    if rule == "availability":
        return {
            "available_from": _iso(arr.t_from[ti]),
            "available_to": _iso(arr.t_to[ti]),
            "starts_on": _iso(arr.s_start[si]),
            "ends_on": _iso(arr.s_end[si]),
        }
    if rule == "distance":
        return {"km": round(km, 1), "max_travel_km": float(arr.t_travel[ti])}
    return {}


# --- counterfactuals -----------------------------------------------------------------------


def _only_fixable(arr: Arrays, t: np.ndarray, s: np.ndarray, km: np.ndarray) -> np.ndarray:
    """The single rule each pair breaks that the trainee could change, or OK (0) if it
    breaks none of those, several rules, or a rule they cannot change (level, exclusion)."""
    far = ~arr.s_remote[s] & ~(km <= arr.t_travel[t])
    no_dbs = arr.s_dbs[s] & ~arr.t_dbs[t]
    unavailable = (arr.t_from[t] > arr.s_start[s]) | (arr.t_to[t] < arr.s_end[s])
    n_s = len(arr.s_cap)
    excluded = np.isin(t * n_s + s, arr.excluded_keys)
    low = arr.t_level[t] < arr.s_level[s]
    count = far.astype(int) + no_dbs + unavailable + excluded + low
    out = np.zeros(len(t), dtype=np.int8)
    one = (count == 1) & ~excluded & ~low
    out[one & far] = RULES.index("distance")
    out[one & no_dbs] = RULES.index("dbs")
    out[one & unavailable] = RULES.index("availability")
    return out


def _to_targets(
    graph: SlotGraph, pot: np.ndarray, targets: list[int], drop: int = -1
) -> np.ndarray:
    """Shortest distances from every node to each target: rows = targets."""
    keep = np.ones(len(graph.tail), dtype=bool)
    if drop >= 0:
        keep = (graph.tail != drop) & (graph.head != drop)
    tail, head = graph.tail[keep], graph.head[keep]
    reduced = graph.weight[keep] + pot[tail] - pot[head]
    reverse = SlotGraph(graph.n_s, head, tail, reduced)
    d = np.atleast_2d(dijkstra(reverse.matrix(), directed=True, indices=targets))
    return d - pot[None, :] + pot[np.asarray(targets)][:, None]


def _counterfactuals(
    prep: Prepared,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    slot_of: np.ndarray,
    t: np.ndarray,
    s: np.ndarray,
    rank: np.ndarray,
    km: np.ndarray,
    rule: np.ndarray,
) -> dict[int, dict[str, Any]]:
    instance, arr, e = prep.instance, prep.arr, prep.edges
    if len(t) == 0 or len(e.t) == 0:
        return {}
    fix = _only_fixable(arr, t, s, km)
    if instance.allow_unranked:
        fix[:] = 0  # a profile change would add unranked pairs too: not computed
    usable = (rule == 0) | (fix > 0)
    movable = arr.t_locked[t] < 0
    cand = np.flatnonzero(usable & movable)
    if len(cand) == 0:
        return {}
    # One scenario per trainee: their best-ranked choice with a what-if.
    order = cand[np.lexsort((rank[cand], t[cand]))]
    first = np.r_[True, t[order][1:] != t[order][:-1]]
    pick = order[first]

    n_s = len(arr.s_free)
    graph = slot_graph(e.t, e.s, e.q, slot_of, arr.s_free)
    try:
        pot = potentials(graph)
    except ValueError:
        return {}
    src, snk = graph.source, graph.sink
    to_source = _to_targets(graph, pot, [src])[0]
    to_sink = _to_targets(graph, pot, [snk], drop=src)[0]
    to_sink_any = _to_targets(graph, pot, [snk])[0]
    from_source = np.atleast_2d(dijkstra(
        graph.matrix(graph.weight + pot[graph.tail] - pot[graph.head]), directed=True,
        indices=[src]))[0] - pot[src] + pot  # fmt: skip

    # Each scenario's new pairs of the trainee: (scenario, slot, rank, q').
    scen_t = t[pick]
    scen_kind = np.where(rule[pick] == 0, 0, fix[pick])
    scen_s, scen_rank = s[pick], rank[pick]
    pt, ps, pr = pairs
    want = np.zeros(len(arr.t_level), dtype=np.int64) - 1
    want[scen_t] = np.arange(len(scen_t))
    mine = want[pt] >= 0
    pt, ps, pr = pt[mine], ps[mine], pr[mine]
    sc = want[pt]
    # Profile what-ifs: change the arrays for those trainees, then re-check and re-cost.
    t_travel, t_dbs = arr.t_travel.copy(), arr.t_dbs.copy()
    t_from, t_to = arr.t_from.copy(), arr.t_to.copy()
    need_km: dict[int, int] = {}
    for j in np.flatnonzero(scen_kind > 0).tolist():
        ti, si = int(scen_t[j]), int(scen_s[j])
        what = RULES[int(scen_kind[j])]
        if what == "distance":
            d = float(pair_distance_km(arr, np.array([ti]), np.array([si]))[0])
            t_travel[ti] = float(math.ceil(d))
            need_km[j] = math.ceil(d)
        elif what == "dbs":
            t_dbs[ti] = True
        else:
            t_from[ti] = min(t_from[ti], arr.s_start[si])
            t_to[ti] = max(t_to[ti], arr.s_end[si])
    what_if = replace(arr, t_travel=t_travel, t_dbs=t_dbs, t_from=t_from, t_to=t_to)
    ok = failed_rule(what_if, pt, ps, pair_distance_km(what_if, pt, ps)) == 0
    ok &= arr.s_free[ps] > 0
    pt, ps, pr, sc = pt[ok], ps[ok], pr[ok], sc[ok]
    qn = cost_edges(instance, what_if, pt, ps, pr).q
    old_q = np.full(len(arr.t_level), 0, dtype=np.int64)
    placed_e = np.flatnonzero(slot_of[e.t] == e.s)
    old_q[e.t[placed_e]] = e.q[placed_e]

    # Rank what-ifs: the smallest move up that makes the chosen slot strictly better.
    scale = quantum(instance)
    w_pref = instance.weights["preference"]
    terms = cost_edges(instance, arr, scen_t, scen_s, scen_rank)
    rest = terms.employer + terms.skills + terms.distance

    # Potential lower bounds decide which scenarios need an exact distance.
    s0 = slot_of[scen_t]
    placed = s0 >= 0
    lower = np.full(len(pt), np.inf)
    own = placed[sc]
    lower[own] = qn[own] - old_q[pt[own]] + pot[s0[sc[own]]] - pot[ps[own]]
    best_rank_q = np.rint((w_pref * 1.0 + rest) * scale)
    rank_lower = np.where(
        placed, best_rank_q - old_q[scen_t] + pot[np.maximum(s0, 0)] - pot[scen_s], -np.inf
    )
    hopeful = np.zeros(len(scen_t), dtype=bool)
    np.logical_or.at(hopeful, sc[own & (lower < 0)], True)
    hopeful |= (scen_kind == 0) & (rank_lower < 0)
    targets = sorted(set(s0[placed & hopeful].tolist()))
    arcs = max(len(graph.tail), 1)
    budget = max(1, WORK_BUDGET // (arcs * max(1, int(math.log2(n_s + 2)))))
    targets = targets[:budget]
    dist_to: dict[int, np.ndarray] = {}
    if targets:
        rows = _to_targets(graph, pot, targets)
        dist_to = {x: rows[i] for i, x in enumerate(targets)}

    out: dict[int, dict[str, Any]] = {}
    seg = np.argsort(sc, kind="stable")
    bounds = np.searchsorted(sc[seg], np.arange(len(scen_t) + 1))
    for j in range(len(scen_t)):
        ti, si, r = int(scen_t[j]), int(scen_s[j]), int(scen_rank[j])
        here = int(s0[j])
        if here >= 0 and here not in dist_to:
            continue
        if scen_kind[j] == 0:
            if arr.s_free[si] <= 0:
                continue
            # Moving slot si up to rank m (m < r): only its preference term changes.
            base = to_source[si] if here < 0 else dist_to[here][si] - old_q[ti]
            if not np.isfinite(base):
                continue
            best = None
            for m in range(r - 1, 0, -1):
                qm = float(np.rint((w_pref * m * m + rest[j]) * scale))
                if qm + base < 0:
                    best = m
                    break
            if best is not None:
                out[ti] = {
                    "kind": "rank",
                    "slot_id": instance.slots[si].id,
                    "rank": r,
                    "move_to": best,
                }
            continue
        idx = seg[bounds[j] : bounds[j + 1]]
        if len(idx) == 0:
            continue
        xs, xq, xr = ps[idx], qn[idx].astype(np.float64), pr[idx]
        if here < 0:
            up = to_sink[xs]
            if np.isfinite(up).any():
                val = np.where(np.isfinite(up), xq + up, np.inf)
                stay = np.inf
            else:
                val = xq + to_source[xs]
                stay = 0.0
        else:
            if np.isfinite(from_source[here]) and bool(
                np.isfinite(to_sink_any[xs[xs != here]]).any()
            ):
                continue  # the change could also place one more: not proven
            row = dist_to[here]
            val = np.where(xs == here, xq - old_q[ti], xq - old_q[ti] + row[xs])
            stay = float(-old_q[ti] + from_source[here])  # unplacing them
        k = int(np.argmin(val))
        v = val[k]
        if not np.isfinite(v) or v >= stay or np.count_nonzero(val == v) > 1:
            continue
        if here >= 0 and xs[k] == here:
            continue
        cf: dict[str, Any] = {
            "kind": RULES[int(scen_kind[j])],
            "slot_id": instance.slots[int(xs[k])].id,
            "rank": int(xr[k]),
        }
        if cf["kind"] == "distance":
            cf["max_travel_km"] = need_km[j]
        elif cf["kind"] == "availability":
            cf["available_from"] = _iso(t_from[ti])
            cf["available_to"] = _iso(t_to[ti])
        out[ti] = cf
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
    out: dict[Id, list[dict[str, Any]]] = {}
    for i in np.flatnonzero(rule != 0).tolist():
        ti, si = int(t[i]), int(s[i])
        entry: dict[str, Any] = {
            "slot_id": instance.slots[si].id,
            "rank": int(rank[i]),
            "outcome": "ineligible",
            "rule": RULES[int(rule[i])],
        }
        entry.update(_numbers(arr, entry["rule"], ti, si, float(km[i])))
        out.setdefault(instance.trainees[ti].id, []).append(entry)
    return out
