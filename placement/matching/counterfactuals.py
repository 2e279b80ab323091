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
*The rule.* A what-if is claimed exactly when re-solving the changed round the way a run
does (same seed, so the same pair draws, the new pairs' included) would place the trainee
at a slot they ranked above their outcome (any ranked slot when unplaced), and the claim
names that slot. No re-solve is needed:

*What a re-solve returns.* A run returns the lexicographic optimum of (most placed, least
quantised cost ``q``, least total pair draw) (:mod:`placement.matching.lottery`); it is
unique unless two sums of 32-bit draws tie exactly (odds of the order of ``2**-32`` per
alternative, the caveat the lottery itself carries). So "the re-solve places them at X"
equals "every lexicographic optimum does", and costs below are pairs ``(q, draw)``
compared lexicographically; ``d`` is the shortest distance in those pairs in the run's
residual graph folded onto the slots (:mod:`placement.matching.residual`).

*Proof of the formulas.* Let ``f`` be the run's placement, a lexicographic optimum of the
old round, so its residual graph has no cycle of negative ``(q, draw)``. Any placement
``f'`` of the changed round differs from ``f`` by residual paths and cycles; exactly one
goes through the trainee (who holds at most one seat before and after), and the others
use arcs of the old round only: each such cycle costs ``>= 0``, and no such path from the
source ``S`` to the sink ``T`` exists (``f`` places the most). So the best ``f'`` with the
trainee at ``x`` is ``f`` plus one path or cycle through the trainee, with the trainee's
new pair costs ``q'`` and draws ``r'`` (``q0``, ``r0``: their pair in ``f``):

- placed at ``s0``: at the same number placed, ``(q'(x) - q0, r'(x) - r0) + d(x, s0)``
  above ``f`` (``x = s0``: ``(q'(s0) - q0, 0)``); unplaced, ``(-q0, -r0) + d(S, s0)``;
- placed, when some new pair ``y`` has ``d(y, T)`` finite and ``d(S, s0)`` finite: the
  augmenting path ``S ~> s0 -> y ~> T`` places one more trainee, so every optimum is of
  this kind, the least being ``(q'(y), r'(y)) + d(y, T)`` plus a part common to all ``y``
  (the two halves share no node: a shared node would make ``S ~> T`` a path of the old
  round; for the same reason the path to ``T`` avoids ``S`` and ``s0``);
- unplaced: staying out is ``(0, 0)``; at ``x``, ``(q'(x), r'(x)) + d(x, S)``; and if
  some ``x`` has ``d(x, T)`` finite (avoiding ``S``), one more is placed and the least
  ``(q'(x), r'(x)) + d(x, T)`` wins.

The paths ending at ``s0`` (or ``S``) never use the trainee's own arcs, which leave ``s0``
(or ``S``), so the run's graph gives the right ``d``. A move up the list lowers the
choice's cost and raises only those of the choices it passes, all above the outcome: an
optimum with the trainee at one of those costs more than before, hence more than ``f``,
so the re-solve places them at the choice or leaves them where they were; the smallest
move is the largest rank ``m`` at which the choice wins (the costs fall as ``m`` does).

*Computing it.* The ``q`` parts settle almost every what-if: the least option is unique
in ``q`` (claimed if it is a better choice), or no better choice is among the least. Only
the rest, options tied on ``q`` with a better choice among them, need the draws:
:mod:`placement.matching.lexicographic` finds their distances exactly (``(q, draw)`` in
Python integers) under a work budget; a query past the budget, or an exact tie of the
draws, claims nothing. The ``q`` distances of every placed trainee come from
:mod:`placement.matching.counterfactual_paths`: bounds through ``S`` and ``T`` settle
most, exact searches the rest (under a work budget). Within the budgets, and for the
changes below, a claim is made exactly when a re-solve would place the trainee higher.

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
from .lexicographic import LexPaths, Option, arc_draws
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
    stats: dict[str, int] | None = None,
) -> dict[int, dict[str, Any]]:
    """Exact counterfactuals of the optimal mode (see the module docstring): first a move
    up the list or a fix of an eligibility rule, then, for trainees still without one,
    having the skills a choice asks for. ``pot``: the solve's optimal potentials, if known;
    ``stats``, if given, receives the lexicographic searches' queries, drops and work."""
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
    lex = LexPaths(graph, arc_draws(graph, e.t, e.s, e.lottery, slot_of), pot)
    scale = quantum(instance)
    old_q = np.zeros(len(arr.t_level), dtype=np.int64)
    old_d = np.zeros(len(arr.t_level), dtype=np.int64)
    placed_e = np.flatnonzero(slot_of[e.t] == e.s)
    old_q[e.t[placed_e]] = e.q[placed_e]
    old_d[e.t[placed_e]] = e.lottery[placed_e]
    held = (old_q, old_d, orank)
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
            found = _evaluate(prep, (g, lex), scale, pairs, slot_of, held, scen, kinds[pick])
            for ti, cf in found.items():
                if cf["rank"] < orank[ti]:  # above their outcome
                    out[ti] = cf
                    claimed[ti] = True

    rounds(cand, np.where(rule == 0, RANK, fix).astype(np.int64), ROUNDS)
    if instance.weights["skills"] > 0 and arr.t_bits is not None:
        tried[:] = False
        lacks = np.flatnonzero((rule == 0) & movable & (missing_skill_fraction(arr, t, s) > 0))
        rounds(lacks, np.full(len(t), SKILLS, dtype=np.int64), ROUNDS)
    if stats is not None:
        stats.update(lex_queries=lex.queries, lex_dropped=lex.dropped, lex_work=lex.spent)
    return out


def _evaluate(
    prep: Prepared,
    paths: tuple[ResidualDistances, LexPaths],
    scale: float,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    slot_of: np.ndarray,
    held: tuple[np.ndarray, np.ndarray, np.ndarray],
    scen: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    kind: np.ndarray,
) -> dict[int, dict[str, Any]]:
    instance, arr = prep.instance, prep.arr
    g, lex = paths
    old_q, old_d, orank = held
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
    # One costing for both: the changed pairs (q', and their draws: the same seeded hash a
    # re-solve would use) and the scenarios' own pairs, whose terms other than the
    # preference stay when the choice moves up (rank what-ifs only change the list, so the
    # changed arrays cost them as the original ones do).
    n_new = len(pt)
    both = cost_edges(instance, what_if, np.concatenate([pt, scen_t]),
                      np.concatenate([ps, scen_s]), np.concatenate([pr, scen_rank]),
                      np.concatenate([pkm, scen_km]))  # fmt: skip
    qn, dn = both.q[:n_new], both.lottery[:n_new]
    dx = both.lottery[n_new:]
    # The choice's cost at every rank m, summed in cost_edges' order (the same q exactly).
    w_pref = instance.weights["preference"]
    ranks = np.arange(int(scen_rank.max()) + 1 if len(scen_rank) else 1)[None, :]
    q_m = np.rint(((w_pref * ranks.astype(np.float64) ** 2 + both.employer[n_new:, None])
                   + both.skills[n_new:, None] + both.distance[n_new:, None]) * scale)  # fmt: skip

    s0 = slot_of[scen_t]
    placed = s0 >= 0
    out: dict[int, dict[str, Any]] = {}
    seg = np.argsort(sc, kind="stable")
    better = (pr[seg] > 0) & (pr[seg] < orank[pt[seg]])
    unplaced = ~placed
    for j, slot, r, m in _unplaced_rank_moves(g, lex, scen, kind, q_m, dx, unplaced, arr.s_free):
        out[j] = {"kind": "rank", "slot": slot, "rank": r, "move_to": m}
    fixes = _unplaced_profile_fixes(g, lex, (sc[seg], ps[seg], qn[seg], dn[seg], better), kind,
                                    unplaced)  # fmt: skip
    for j, k in fixes:
        ti = int(scen_t[j])
        pos = seg[k]
        out[ti] = _describe(int(kind[j]), int(ps[pos]), int(pr[pos]), j, ti, int(scen_s[j]),
                            what_if, need_km)  # fmt: skip
    moves = PlacedMoves(g, lex, (old_q[scen_t], old_d[scen_t], s0), np.where(placed, kind, -1),
                        (scen_s, scen_rank, dx), arr.s_free)  # fmt: skip
    moves.rank_costs(q_m)
    moves.pairs(sc[seg], ps[seg], qn[seg].astype(np.float64), dn[seg], better)
    for j, m in moves.rank_claims():
        out[int(scen_t[j])] = {"kind": "rank", "slot": int(scen_s[j]), "rank": int(scen_rank[j]),
                               "move_to": m}  # fmt: skip
    for j, k in moves.profile_claims():
        ti, pos = int(scen_t[j]), seg[k]
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
    lex: LexPaths,
    scen: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    kind: np.ndarray,
    q_m: np.ndarray,
    dx: np.ndarray,
    unplaced: np.ndarray,
    free: np.ndarray,
) -> list[tuple[int, int, int, int]]:
    """Rank what-ifs of unplaced trainees, all at once: (trainee, slot, rank, move_to) for
    the smallest move up of the choice that places them there: the largest ``m`` with
    ``q_m + d(x, S) < 0``, or ``== 0`` and the draws deciding for the choice."""
    scen_t, scen_s, scen_rank, _ = scen
    js = np.flatnonzero(unplaced & (kind == RANK) & (free[scen_s] > 0))
    base = g.to_source[scen_s[js]]
    r = scen_rank[js]
    m = np.arange(q_m.shape[1])[None, :]
    ok = (m >= 1) & (m < r[:, None]) & np.isfinite(base)[:, None]
    with np.errstate(invalid="ignore"):
        gain = q_m[js] + base[:, None]
    best = np.where(ok & (gain < 0), m, 0).max(axis=1) if len(js) else np.zeros(0, np.int64)
    tie = np.where(ok & (gain == 0), m, 0).max(axis=1) if len(js) else np.zeros(0, np.int64)
    src = g.source
    for i in np.flatnonzero(tie > best).tolist():
        j, mt = int(js[i]), int(tie[i])
        opts: list[Option] = [("stay", None, 0, 0, 0.0),
                              ("x", int(scen_s[j]), int(q_m[j, mt]), int(dx[j]), 0.0)]  # fmt: skip
        if lex.least(src, opts) == "x":
            best[i] = mt
    hit = best > 0
    return list(zip(scen_t[js][hit].tolist(), scen_s[js][hit].tolist(), r[hit].tolist(),
                    best[hit].tolist(), strict=True))  # fmt: skip


def _unplaced_profile_fixes(
    g: ResidualDistances,
    lex: LexPaths,
    sorted_pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    kind: np.ndarray,
    unplaced: np.ndarray,
) -> list[tuple[int, int]]:
    """Profile what-ifs of unplaced trainees, all at once: (scenario, position in the
    sorted pairs) of the least option when it is a better choice (module docstring);
    ``sorted_pairs``: (scenario, slot, q', draw, better) per pair, sorted by scenario."""
    sc, xs, xq, xd, better = sorted_pairs
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
    ties = np.add.reduceat(at_low.astype(np.int64), starts) + (stay == low)
    good = np.logical_or.reduceat(at_low & better[mine], starts)
    ok = np.isfinite(low) & (low <= stay) & good
    first = np.full(len(starts), len(j), dtype=np.int64)
    hit_pos = np.flatnonzero(at_low & better[mine])
    np.minimum.at(first, group[hit_pos], hit_pos)  # the first better position at the minimum
    out = [(int(j[starts[i]]), int(mine[first[i]])) for i in np.flatnonzero(ok & (ties == 1))]
    ends = np.r_[starts[1:], len(j)]
    for i in np.flatnonzero(ok & (ties > 1)).tolist():
        top = float(low[i])
        ks = (int(starts[i]) + np.flatnonzero(at_low[starts[i] : ends[i]])).tolist()
        opts: list[Option] = [(k, int(x[k]), int(q[k]), int(xd[mine[k]]), top) for k in ks]
        if stay[i] == low[i]:
            opts.append(("stay", None, 0, 0, 0.0))
        target = g.sink if more[i] else g.source
        won = lex.least(target, opts, avoid_source=bool(more[i]))
        if isinstance(won, int) and better[mine[won]]:
            out.append((int(j[starts[i]]), int(mine[won])))
    return out
