"""Counterfactuals: the smallest change to a trainee's own list or profile that would have
placed them higher, proven from the run's own solve (never by solving again).

A *what-if* changes only the trainee's own pairs. The kinds, and who can make them:

- ``rank`` (optimal mode): moving one choice up their list (its preference term falls; the
  choices it passes become dearer);
- ``distance``, ``dbs``, ``availability``: a profile change that makes an ineligible choice
  eligible (travelling further, a DBS check, wider availability), which may add and
  re-cost several of their pairs at once (with ``allow_unranked``, the unranked slots it
  makes eligible too, at the unranked cost; an unranked slot is never claimed);
- ``skills`` (optimal mode, when skills carry weight): having the skills the choice asks
  for, which re-costs every pair of theirs that asks for those skills.

A trainee cannot change their level for a round, nor a coordinator's exclusion, nor an
employer's ranking: those get no counterfactual (the explanation says so in words).

Optimal mode
------------
Let ``f`` be the run's optimum and ``d`` shortest distances in its residual graph folded
onto the slots (:mod:`placement.matching.residual`). Any other placement differs from
``f`` by residual cycles; exactly one passes through the trainee, and the others do not
touch the trainee's pairs, so they cost ``>= 0``. Hence, with the trainee's new pair
costs ``q'``:

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
paths involved need not be disjoint). The distances ``d(x, s0)`` of every placed trainee
come from :mod:`placement.matching.counterfactual_paths`: bounds through ``S`` and ``T``
settle most, exact searches the rest (under a work budget).

Each trainee tries their choices best-ranked first, one per round, up to ``ROUNDS``
rounds (a move up the list for an eligible choice, the fix for an ineligible one), then
as many rounds of the skills what-if, until one gives a claim.

Stable mode
-----------
(:mod:`placement.matching.counterfactuals_stable`.) Deferred acceptance is
strategy-proof for trainees: no change to the order of their list places them higher, so only
profile changes qualify. Let ``mu`` be the trainee-optimal stable matching and ``x`` a
choice above the trainee's outcome that a profile change makes eligible while every
other pair it makes eligible is ranked above ``x``. If ``x`` has a free seat in ``mu``,
the changed round places them at ``x`` or higher. Proof: if not, they proposed to ``x``
and were refused, so ``x`` is full in the new matching ``mu'``; ``mu'`` places them at a
pair that was already eligible, so ``mu'`` is a matching of the old round, and stable
there (a pair blocking it there would block it in the new round). By the rural hospitals
theorem a slot with a free seat in one stable matching has the same trainees in all of
them, so ``x`` is not full in ``mu'``: a contradiction. A full ``x`` qualifies when a
count leaves room for the trainee (the proof is in
:mod:`placement.matching.counterfactuals_stable`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .counterfactual_paths import PlacedMoves, ResidualDistances
from .prepared import Prepared
from .problem import (
    RULES,
    Arrays,
    cost_edges,
    eligible,
    failed_rule,
    missing_skill_fraction,
    pair_distance_km,
    quantum,
)
from .residual import potentials, slot_graph

RANK = 0
SKILLS = len(RULES)  # a what-if kind beyond the hard rules
# Choices each trainee may try, best-ranked first, until one gives a claim (per kind).
ROUNDS = 3
KINDS = {**{i: r for i, r in enumerate(RULES) if i}, RANK: "rank", SKILLS: "skills"}
_FIXABLE = ("availability", "dbs", "distance")


def only_fixable(arr: Arrays, t: np.ndarray, s: np.ndarray, km: np.ndarray) -> np.ndarray:
    """The single rule each pair breaks that the trainee could change, or 0 if it breaks
    none of those, several rules, or a rule they cannot change (level, exclusion)."""
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


def _what_if(
    arr: Arrays, kind: np.ndarray, scen_t: np.ndarray, scen_s: np.ndarray, scen_km: np.ndarray
) -> tuple[Arrays, dict[int, int]]:
    """The arrays with every scenario's profile change applied (one scenario per trainee,
    so the changes never meet); also the new travel limit of each distance scenario."""
    t_travel, t_dbs = arr.t_travel.copy(), arr.t_dbs.copy()
    t_from, t_to = arr.t_from.copy(), arr.t_to.copy()
    t_bits = None if arr.t_bits is None else arr.t_bits.copy()
    need_km: dict[int, int] = {}
    far = np.flatnonzero(kind == RULES.index("distance"))
    new_km = np.ceil(scen_km[far])
    t_travel[scen_t[far]] = new_km
    need_km = dict(zip(far.tolist(), new_km.astype(np.int64).tolist(), strict=True))
    dbs = kind == RULES.index("dbs")
    t_dbs[scen_t[dbs]] = True
    when = np.flatnonzero(kind == RULES.index("availability"))
    wt, ws = scen_t[when], scen_s[when]
    t_from[wt] = np.minimum(t_from[wt], arr.s_start[ws])
    t_to[wt] = np.maximum(t_to[wt], arr.s_end[ws])
    if t_bits is not None and arr.s_bits is not None:
        sk = kind == SKILLS
        t_bits[:, scen_t[sk]] |= arr.s_bits[:, scen_s[sk]]
    changed = replace(arr, t_travel=t_travel, t_dbs=t_dbs, t_from=t_from, t_to=t_to,
                      t_bits=t_bits)  # fmt: skip
    return changed, need_km


def _scenarios_of(
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray], scen_t: np.ndarray, n_t: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every ranked pair of the scenarios' trainees: (scenario, trainee, slot, rank)."""
    pt, ps, pr = pairs
    want = np.full(n_t, -1, dtype=np.int64)
    want[scen_t] = np.arange(len(scen_t))
    mine = want[pt] >= 0
    return want[pt[mine]], pt[mine], ps[mine], pr[mine]


def _first_per_trainee(t: np.ndarray, rank: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Of the candidate choices, each trainee's best-ranked one."""
    order = cand[np.lexsort((rank[cand], t[cand]))]
    first = np.r_[True, t[order][1:] != t[order][:-1]] if len(order) else np.zeros(0, bool)
    return order[first]


def _describe(
    kind: int,
    slot: int,
    rank: int,
    j: int,
    ti: int,
    choice: int,
    what_if: Arrays,
    need_km: dict[int, int],
) -> dict[str, Any]:
    """A claim: ``slot`` (index) and its ``rank``; availability dates as ordinals; for
    ``skills``, ``skills_of`` is the choice whose skills the trainee would need."""
    cf: dict[str, Any] = {"kind": KINDS[kind], "slot": slot, "rank": rank}
    if cf["kind"] == "skills":
        cf["skills_of"] = choice
    elif cf["kind"] == "distance":
        cf["max_travel_km"] = need_km[j]
    elif cf["kind"] == "availability":
        cf["available_from"] = int(what_if.t_from[ti])
        cf["available_to"] = int(what_if.t_to[ti])
    return cf


# --- optimal mode --------------------------------------------------------------------------


def optimal_counterfactuals(
    prep: Prepared,
    pot: np.ndarray | None,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    slot_of: np.ndarray,
    orank: np.ndarray,
    choice: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> dict[int, dict[str, Any]]:
    """Exact counterfactuals of the optimal mode (see the module docstring): first a move
    up the list or a fix of an eligibility rule, then, for trainees still without one,
    having the skills a choice asks for. ``pot``: the solve's optimal potentials, if known."""
    instance, arr, e = prep.instance, prep.arr, prep.edges
    t, s, rank, km, rule = choice
    if len(t) == 0:
        return {}
    fix = only_fixable(arr, t, s, km)
    movable = arr.t_locked[t] < 0
    cand = np.flatnonzero(((rule == 0) | (fix > 0)) & movable)
    if len(cand) == 0:
        return {}
    graph = slot_graph(e.t, e.s, e.q, slot_of, arr.s_free)
    if pot is None or (
        len(graph.weight) and float((graph.weight + pot[graph.tail] - pot[graph.head]).min()) < 0
    ):
        try:
            pot = potentials(graph)
        except ValueError:
            return {}
    g = ResidualDistances(graph, pot)
    scale = quantum(instance)
    old_q = np.zeros(len(arr.t_level), dtype=np.int64)
    placed_e = np.flatnonzero(slot_of[e.t] == e.s)
    old_q[e.t[placed_e]] = e.q[placed_e]
    out: dict[int, dict[str, Any]] = {}
    tried = np.zeros(len(t), dtype=bool)
    claimed = np.zeros(len(arr.t_level), dtype=bool)

    def rounds(cand: np.ndarray, kinds: np.ndarray, n: int) -> None:
        """Up to ``n`` rounds: each trainee still without a claim tries their best-ranked
        choice of ``cand`` not tried yet (one scenario per trainee per round)."""
        for _ in range(n):
            left = cand[~tried[cand] & ~claimed[t[cand]]]
            if len(left) == 0:
                return
            pick = _first_per_trainee(t, rank, left)
            tried[pick] = True
            scen = (t[pick], s[pick], rank[pick], km[pick])
            found = _evaluate(prep, g, scale, pairs, slot_of, old_q, scen, kinds[pick])
            for ti, cf in found.items():
                if cf["rank"] < orank[ti]:  # above their outcome
                    out[ti] = cf
                    claimed[ti] = True

    rounds(cand, np.where(rule == 0, RANK, fix).astype(np.int64), ROUNDS)
    if instance.weights["skills"] > 0 and arr.t_bits is not None:
        tried[:] = False
        lacks = np.flatnonzero((rule == 0) & movable & (missing_skill_fraction(arr, t, s) > 0))
        rounds(lacks, np.full(len(t), SKILLS, dtype=np.int64), ROUNDS)
    return out


def _evaluate(
    prep: Prepared,
    g: ResidualDistances,
    scale: float,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    slot_of: np.ndarray,
    old_q: np.ndarray,
    scen: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    kind: np.ndarray,
) -> dict[int, dict[str, Any]]:
    instance, arr = prep.instance, prep.arr
    scen_t, scen_s, scen_rank, scen_km = scen
    what_if, need_km = _what_if(arr, kind, scen_t, scen_s, scen_km)
    # Each scenario's pairs after its change: eligible, with a free seat, re-costed.
    sc, pt, ps, pr = _scenarios_of(pairs, scen_t, len(arr.t_level))
    pkm = pair_distance_km(arr, pt, ps)  # a profile change never moves anyone
    ok = failed_rule(what_if, pt, ps, pkm) == 0
    ok &= arr.s_free[ps] > 0
    pt, ps, pr, sc, pkm = pt[ok], ps[ok], pr[ok], sc[ok], pkm[ok]
    if instance.allow_unranked:
        # A profile change may make unranked slots candidates too (at the unranked cost).
        extra = _unranked_after(what_if, scen_t, np.flatnonzero(kind != RANK), pt, ps)
        sc, pt, ps = (np.concatenate([a, b]) for a, b in zip((sc, pt, ps), extra, strict=True))
        pr = np.concatenate([pr, np.zeros(len(extra[0]), dtype=np.int64)])
        pkm = pair_distance_km(arr, pt, ps)
    # One costing for both: the changed pairs (q') and the scenarios' own pairs, whose
    # terms other than the preference stay when the choice moves up (rank what-ifs only
    # change the list, so the changed arrays cost them as the original ones do).
    n_new = len(pt)
    both = cost_edges(instance, what_if, np.concatenate([pt, scen_t]),
                      np.concatenate([ps, scen_s]), np.concatenate([pr, scen_rank]),
                      np.concatenate([pkm, scen_km]))  # fmt: skip
    qn = both.q[:n_new]
    rest = (both.employer + both.skills + both.distance)[n_new:]

    w_pref = instance.weights["preference"]
    s0 = slot_of[scen_t]
    placed = s0 >= 0
    out: dict[int, dict[str, Any]] = {}
    seg = np.argsort(sc, kind="stable")
    unplaced = ~placed
    for j, slot, r, m in _unplaced_rank_moves(
        g, scen, kind, rest, w_pref, scale, unplaced, arr.s_free
    ):
        out[j] = {"kind": "rank", "slot": slot, "rank": r, "move_to": m}
    for j, k in _unplaced_profile_fixes(g, sc[seg], ps[seg], qn[seg], kind, unplaced):
        ti = int(scen_t[j])
        pos = seg[k]
        if pr[pos] == 0:
            continue  # an unranked slot is not higher on their list
        out[ti] = _describe(int(kind[j]), int(ps[pos]), int(pr[pos]), j, ti, int(scen_s[j]),
                            what_if, need_km)  # fmt: skip
    moves = PlacedMoves(g, old_q[scen_t], s0, np.where(placed, kind, -1), scen_s, scen_rank,
                        arr.s_free)  # fmt: skip
    moves.rank_costs(np.rint((w_pref * np.arange(int(scen_rank.max()) + 1)[None, :] ** 2
                              + rest[:, None]) * scale))  # fmt: skip
    moves.pairs(sc[seg], ps[seg], qn[seg].astype(np.float64))
    for j, m in moves.rank_claims():
        out[int(scen_t[j])] = {"kind": "rank", "slot": int(scen_s[j]), "rank": int(scen_rank[j]),
                               "move_to": m}  # fmt: skip
    for j, k in moves.profile_claims():
        ti, pos = int(scen_t[j]), seg[k]
        if pr[pos] == 0:
            continue
        out[ti] = _describe(int(kind[j]), int(ps[pos]), int(pr[pos]), j, ti, int(scen_s[j]),
                            what_if, need_km)  # fmt: skip
    return out


def _unranked_after(
    what_if: Arrays, scen_t: np.ndarray, js: np.ndarray, pt: np.ndarray, ps: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scenario, trainee, slot) of the unranked slots each scenario ``js`` makes (or
    leaves) eligible, with a free seat, a block of scenarios at a time."""
    n_s = len(what_if.s_cap)
    ranked = np.sort(pt * n_s + ps)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    block = max(1, 2**22 // max(n_s, 1))
    for start in range(0, len(js), block):
        bj = js[start : start + block]
        j = np.repeat(bj, n_s)
        t = scen_t[j]
        s = np.tile(np.arange(n_s, dtype=np.int64), len(bj))
        ok, _ = eligible(what_if, t, s)
        j, t, s = j[ok], t[ok], s[ok]
        keep = (what_if.s_free[s] > 0) & ~np.isin(t * n_s + s, ranked)
        parts.append((j[keep], t[keep], s[keep]))
    if not parts:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))  # type: ignore[return-value]


def _unplaced_rank_moves(
    g: ResidualDistances,
    scen: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    kind: np.ndarray,
    rest: np.ndarray,
    w_pref: float,
    scale: float,
    unplaced: np.ndarray,
    free: np.ndarray,
) -> list[tuple[int, int, int, int]]:
    """Rank what-ifs of unplaced trainees, all at once: (trainee, slot, rank, move_to) for
    the smallest move up of the choice that places them there (``q'(x) + d(x, S) < 0``)."""
    scen_t, scen_s, scen_rank, _ = scen
    js = np.flatnonzero(unplaced & (kind == RANK) & (free[scen_s] > 0))
    base = g.to_source[scen_s[js]]
    r = scen_rank[js]
    best = np.zeros(len(js), dtype=np.int64)
    for m in range(1, int(r.max()) if len(r) else 1):
        q_m = np.rint((w_pref * m * m + rest[js]) * scale)
        good = (m < r) & np.isfinite(base) & (q_m + base < 0)
        best = np.where(good, m, best)  # the largest m that works: the smallest move
    hit = best > 0
    return list(zip(scen_t[js][hit].tolist(), scen_s[js][hit].tolist(), r[hit].tolist(),
                    best[hit].tolist(), strict=True))  # fmt: skip


def _unplaced_profile_fixes(
    g: ResidualDistances,
    sc: np.ndarray,
    xs: np.ndarray,
    xq: np.ndarray,
    kind: np.ndarray,
    unplaced: np.ndarray,
) -> list[tuple[int, int]]:
    """Profile what-ifs of unplaced trainees, all at once: (scenario, position in the
    sorted pairs) of the unique strict minimum, when it places them (module docstring)."""
    mine = np.flatnonzero(unplaced[sc] & (kind[sc] != RANK))
    if len(mine) == 0:
        return []
    j, x, q = sc[mine], xs[mine], xq[mine].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, j[1:] != j[:-1]])
    group = np.cumsum(np.r_[True, j[1:] != j[:-1]]) - 1
    up = g.to_sink[x]
    fin = np.isfinite(up)
    more = np.logical_or.reduceat(fin, starts)  # one more placed is possible
    val = np.where(more[group], np.where(fin, q + up, np.inf), q + g.to_source[x])
    stay = np.where(more, np.inf, 0.0)
    low = np.minimum.reduceat(val, starts)
    at_low = val == low[group]
    ties = np.add.reduceat(at_low.astype(np.int64), starts)
    first = np.full(len(starts), len(j), dtype=np.int64)
    hit_pos = np.flatnonzero(at_low)
    np.minimum.at(first, group[hit_pos], hit_pos)  # the first position at the minimum
    ok = np.isfinite(low) & (low < stay) & (ties == 1)
    return list(zip(j[starts][ok].tolist(), mine[first[ok]].tolist(), strict=True))
