"""Counterfactuals of the stable mode (see :mod:`placement.matching.counterfactuals` for
the kinds and the proof that a choice with a free seat qualifies).

A *full* choice ``x`` qualifies too, by counting. Let ``mu`` be the run's matching (the
trainee-optimal stable matching of the round ``P``), and ``P'`` the round after the
trainee ``t``'s profile change, which makes ``x`` eligible (and perhaps other pairs of
``t``; nobody else's pairs change, nor any slot's priorities). Call a trainee ``w != t``
*better* when ``x`` prefers ``w`` to ``t`` (its employer's ranking, then the lottery).
In any stable matching ``mu'`` of ``P'``, a better trainee ``w`` at ``x`` is

- one of ``mu(x)``, or
- a trainee who ranks ``x`` *below* ``mu(w)`` (a *threat*: the change may push them
  down to ``x``).

For if ``w`` ranked ``x`` above ``mu(w)``, or is unplaced in ``mu`` with ``x`` eligible, the
deferred acceptance of ``P`` offered ``w`` to ``x`` and ``x`` refused: ``x`` was full then and
ends full of trainees it prefers to ``w``; and when fewer than ``free(x)`` of ``mu(x)``
are better than ``t``, some member of ``mu(x)`` is worse than ``t``, hence than ``w``...
so ``w`` is not better than ``t``. Therefore, when

    free(x) - #(better in mu(x)) - #(better threats) > 0,

``x`` is never full of better trainees in ``mu'``: were ``t`` placed below ``x`` (or not
at all), ``(t, x)`` would block ``mu'``. So every stable matching of ``P'``, the
trainee-optimal one included, places ``t`` at ``x`` or at a choice ranked higher, whatever
else the change makes eligible. (A reordering of the list never qualifies: the mode is
strategy-proof, and these counts do not depend on the order.)

The trainees neither rule covers are settled exactly by :mod:`.stable_chains` (the
trainee-optimal matching after the change, from ``mu`` by a vacancy chain and a rejection
chain), each fixable choice in rank order, under a deterministic work budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .counterfactuals import (
    _describe,
    _first_per_trainee,
    _scenarios_of,
    _what_if,
    only_fixable,
)
from .lottery import priorities
from .problem import Arrays, _employer_ranks, failed_rule, pair_distance_km
from .stable_chains import exact_choices


def _counts_below(keys: np.ndarray, slot: np.ndarray, prio: np.ndarray, base: int) -> np.ndarray:
    """How many of the sorted ``keys`` (``slot * base + priority``) are at ``slot`` with a
    priority better (lower) than ``prio``."""
    return np.searchsorted(keys, slot * base + prio) - np.searchsorted(keys, slot * base)


def _slack(
    arr: Arrays,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    slot_of: np.ndarray,
    orank: np.ndarray,
    t: np.ndarray,
    x: np.ndarray,
) -> np.ndarray:
    """``free(x) - #(better in mu(x)) - #(better threats)`` for each pair (module docstring)."""
    n_t = len(arr.t_level)
    base = 2 * n_t + 3  # priorities are below 2 * n_t + 2
    movable = (slot_of >= 0) & (arr.t_locked < 0)
    members = np.flatnonzero(movable)
    at = slot_of[members]
    member_keys = np.sort(at * base + priorities(arr, members, _employer_ranks(arr, members, at)))
    et, es, er = edges
    threat = movable[et] & (slot_of[et] != es) & (er > orank[et])
    wt, ws = et[threat], es[threat]
    threat_keys = np.sort(ws * base + priorities(arr, wt, _employer_ranks(arr, wt, ws)))
    mine = priorities(arr, t, _employer_ranks(arr, t, x))
    better = _counts_below(member_keys, x, mine, base) + _counts_below(threat_keys, x, mine, base)
    return arr.s_free[x] - better


def stable_counterfactuals(
    arr: Arrays,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    slot_of: np.ndarray,
    orank: np.ndarray,
    choice: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> dict[int, dict[str, Any]]:
    """Profile changes that provably place the trainee at a choice or higher: a choice
    with a free seat when the change makes nothing below it eligible (the rural hospitals
    argument), or any choice whose count leaves room (module docstring). ``pairs``: every
    ranked pair; ``edges``: the candidate pairs (t, s, rank) of the run; ``orank``: each
    trainee's rank of their outcome (a large number when none); ``choice``: (t, s, rank,
    km, rule) of the choices above each outcome. The claim's ``rank`` is that of the
    choice ("or higher" is part of the claim), or, from the exact chains, of where the
    change would place them when that is below the choice. The trainees no rule covers
    get the exact answer (`stable_chains.exact_choices`)."""
    t, s, rank, km, _ = choice
    if len(t) == 0:
        return {}
    fix = only_fixable(arr, t, s, km)
    movable = arr.t_locked[t] < 0
    fixable = np.flatnonzero((fix > 0) & movable)
    if len(fixable) == 0:
        return {}
    occupied = np.bincount(slot_of[(slot_of >= 0) & (arr.t_locked < 0)], minlength=len(arr.s_cap))
    room = occupied < arr.s_free
    counted = fixable[_slack(arr, edges, slot_of, orank, t[fixable], s[fixable]) > 0]
    good = np.zeros(len(t), dtype=bool)
    good[counted] = True
    good[_free_seat_choices(arr, pairs, t, s, rank, km, fix, fixable[room[s[fixable]]])] = True
    cand = np.flatnonzero(good)
    out: dict[int, dict[str, Any]] = {}
    if len(cand):
        pick = _first_per_trainee(t, rank, cand)
        _claim(out, arr, pick, t, s, rank, km, fix)
    # The open cases: trainees no rule covers, each choice tried in turn (exact).
    open_ = fixable[~np.isin(t[fixable], t[cand])]
    if len(open_):
        pick, lands = exact_choices(arr, pairs, edges, slot_of, orank, choice, fix, open_)
        if len(pick):
            _claim(out, arr, pick, t, s, rank, km, fix, lands)
    return out


def _claim(
    out: dict[int, dict[str, Any]],
    arr: Arrays,
    pick: np.ndarray,
    t: np.ndarray,
    s: np.ndarray,
    rank: np.ndarray,
    km: np.ndarray,
    fix: np.ndarray,
    lands: dict[int, tuple[int, int]] | None = None,
) -> None:
    """Claims for the choices ``pick`` (one per trainee): placed there or higher, or, with
    ``lands`` (trainee -> (slot, rank) they would get), there when that is lower."""
    scen_t, scen_s, scen_rank, kind = t[pick], s[pick], rank[pick], fix[pick].astype(np.int64)
    what_if, need_km = _what_if(arr, kind, scen_t, scen_s, km[pick])
    rows = zip(scen_t.tolist(), scen_s.tolist(), scen_rank.tolist(), kind.tolist(), strict=True)
    for j, (ti, si, r, k) in enumerate(rows):
        slot, at_rank = si, r
        if lands is not None and lands[ti][1] > r:
            slot, at_rank = lands[ti]
        cf = _describe(k, slot, at_rank, j, ti, si, what_if, need_km)
        cf["or_higher"] = True
        out[ti] = cf


def _free_seat_choices(
    arr: Arrays,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    t: np.ndarray,
    s: np.ndarray,
    rank: np.ndarray,
    km: np.ndarray,
    fix: np.ndarray,
    cand: np.ndarray,
) -> np.ndarray:
    """Of the choices ``cand`` with a free seat, each trainee's best one whose change makes
    no pair below it eligible (the rural hospitals argument)."""
    if len(cand) == 0:
        return cand
    pick = _first_per_trainee(t, rank, cand)
    scen_t, scen_s, scen_rank, kind = t[pick], s[pick], rank[pick], fix[pick].astype(np.int64)
    what_if, _ = _what_if(arr, kind, scen_t, scen_s, km[pick])
    sc, pt, ps, pr = _scenarios_of(pairs, scen_t, len(arr.t_level))
    before = failed_rule(arr, pt, ps, pair_distance_km(arr, pt, ps)) == 0
    after = failed_rule(what_if, pt, ps, pair_distance_km(what_if, pt, ps)) == 0
    spoilt = np.zeros(len(scen_t), dtype=bool)
    spoilt[sc[after & ~before & (pr > scen_rank[sc])]] = True
    reached = np.zeros(len(scen_t), dtype=bool)
    reached[sc[after & (ps == scen_s[sc])]] = True
    return pick[reached & ~spoilt]
