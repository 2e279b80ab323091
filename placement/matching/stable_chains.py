"""Exact stable-mode counterfactuals for the cases the sufficient rules of
:mod:`placement.matching.counterfactuals_stable` leave open: where trainee ``t`` lands in
the trainee-optimal stable matching after changing their own profile, computed from the
run's matching ``mu`` by two chains instead of a re-solve.

Notation: ``P`` the round, ``P - t`` without ``t``, ``P'`` with ``t``'s new eligible set
(nobody else's pairs change, nor any slot's priorities or seats). ``DA(Q)`` is the
trainee-optimal stable matching of ``Q``. An *applicant* of slot ``v`` under a matching
``m`` is a trainee who may take ``v`` and ranks it above ``m(w)`` (or is unplaced).

1. Vacancy chain, towards ``nu = DA(P - t)``. Start from ``m = mu - t``; the seat ``t``
   held is vacant. While there is a vacancy ``v``: ``v`` takes its best applicant ``w``
   (by its priorities); stop if there is none or ``w`` was unplaced, else ``w``'s old seat
   is the vacancy. Trainees only move up, so it ends.

   *Stable at the end.* Invariant: every slot but the vacancy has no applicant, or is
   full and prefers each member to each applicant. It holds for ``mu - t`` (``mu`` is
   stable in ``P``). A move keeps it: applicant sets only shrink (trainees only move
   up), and the vacancy keeps its best applicant. At the end no slot has a vacancy and an
   applicant, so ``m`` has no blocking pair in ``P - t``.

   *Never above nu.* Invariant ``m(w) <= nu(w)`` (in ``w``'s order) for every ``w``. It
   holds for ``mu`` (removing a trainee weakly helps every other in the trainee-optimal
   matching: Gale and Sotomayor 1985). If the best applicant ``w`` of ``v`` ranked ``v``
   above ``nu(w)``, ``v`` would be full in ``nu`` of trainees it prefers to ``w``; one of
   them ``u`` is not in ``m(v)`` (a seat is vacant), and ``m(u) <= nu(u) = v`` with
   ``m(u) != v`` makes ``u`` an applicant that ``v`` prefers to ``w``: absurd.

   So the chain ends at a stable matching of ``P - t`` between ``mu - t`` and ``nu``.
   That it ends at ``nu`` itself (the vacancy-chain result for a departing worker, Blum,
   Roth and Rothblum 1997) is not re-proven here: it is what
   ``tests/unit/test_matching_stable_chains.py`` checks against full re-solves for every
   fixable choice of every trainee of hundreds of random rounds.
2. Rejection chain: ``DA(P')`` is ``DA(P - t)`` followed by ``t``'s proposals down the new
   list, each displaced trainee going on down their own list (McVitie and Wilson 1971:
   deferred acceptance ends at the same matching in any proposal order, so ``t`` may
   propose last, after everyone else has settled at ``DA(P - t)``).

Work is bounded deterministically: a trainee's cases may look at ``BUDGET`` list entries
in all (slots' applicant lists scanned, proposals with the members compared); past it the
trainee gets no claim rather than a guess. The seeded rounds of the benchmarks need at
most a few hundred per trainee (``docs/matching.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .counterfactuals import _scenarios_of, _what_if
from .lottery import priorities
from .problem import Arrays, _employer_ranks, failed_rule, pair_distance_km

_NONE = -1
# List entries one trainee's open cases may look at, all their choices together.
BUDGET = 20_000


class Chains:
    """The run's matching with its candidate lists by slot (best priority first) and by
    trainee (best rank first), for asking what ``t``'s new eligible set changes."""

    def __init__(
        self,
        arr: Arrays,
        edges: tuple[np.ndarray, np.ndarray, np.ndarray],
        slot_of: np.ndarray,
        budget: int,
    ) -> None:
        et, es, er = edges
        movable = arr.t_locked < 0
        keep = (er > 0) & movable[et] & (arr.s_free[es] > 0)
        et, es, er = et[keep], es[keep], er[keep]
        prio = priorities(arr, et, _employer_ranks(arr, et, es))
        self.free = arr.s_free.tolist()
        self.budget = budget
        self.work = 0
        self._vacated: dict[int, tuple[Any, Any, Any, Any]] = {}
        by_slot = np.lexsort((prio, es))
        self.slot_t = et[by_slot].tolist()
        self.slot_p = prio[by_slot].tolist()
        self.slot_r = er[by_slot].tolist()
        n_s, n_t = len(arr.s_cap), len(arr.t_level)
        self.slot_start = np.searchsorted(es[by_slot], np.arange(n_s + 1)).tolist()
        by_t = np.lexsort((er, et))
        self.t_s = es[by_t].tolist()
        self.t_p = prio[by_t].tolist()
        self.t_start = np.searchsorted(et[by_t], np.arange(n_t + 1)).tolist()
        self.slot_of = np.where(movable, slot_of, _NONE).tolist()
        rank_of = np.full(n_t, np.iinfo(np.int64).max, dtype=np.int64)
        held = es == np.asarray(slot_of)[et]
        rank_of[et[held]] = er[held]
        self.rank_of = rank_of.tolist()
        pos_of = np.full(n_t, -1, dtype=np.int64)  # the held entry on the trainee's list
        held_t = held[by_t]
        pos_of[et[by_t][held_t]] = np.flatnonzero(held_t)
        self.pos_of = pos_of.tolist()
        members: dict[int, list[tuple[int, int]]] = {}
        for ti, si, p in zip(
            et[held].tolist(), es[held].tolist(), prio[held].tolist(), strict=True
        ):
            members.setdefault(si, []).append((p, ti))
        for held_here in members.values():
            held_here.sort(reverse=True)
        self.members = members

    def outcome(self, t: int, new_list: list[tuple[int, int, int]]) -> int | None:
        """The slot ``t`` gets in ``DA(P')`` when their candidate list becomes ``new_list``
        ((rank, slot, priority), best rank first): a slot index, -1 for none, or None when
        the budget ran out."""
        work = self.work
        # trainee -> slot (index, -1) where it differs from mu; their rank of it and its
        # entry on their list; the slots' members that came and went.
        at: dict[int, int] = {}
        rank: dict[int, int] = {}
        pos: dict[int, int] = {}
        added: dict[int, dict[int, int]] = {}  # slot -> trainee -> priority
        gone: dict[int, set[int]] = {}
        # The vacancy chain depends on t alone: kept for their next choice.
        known = self._vacated.get(t)
        if known is not None:
            at, pos = dict(known[0]), dict(known[1])
            added = {v: dict(m) for v, m in known[2].items()}
            gone = {v: set(m) for v, m in known[3].items()}

        def slot(w: int) -> int:
            return at.get(w, self.slot_of[w])

        def leave(w: int, v: int) -> None:
            if w in added.get(v, {}):
                del added[v][w]
            else:
                gone.setdefault(v, set()).add(w)

        def join(w: int, v: int, p: int) -> None:
            added.setdefault(v, {})[w] = p

        def count(v: int) -> int:
            return len(self.members.get(v, ())) - len(gone.get(v, ())) + len(added.get(v, {}))

        def worst(v: int) -> tuple[int, int]:
            out = (-1, -1)
            out_gone = gone.get(v, set())
            for p, w in self.members.get(v, ()):  # worst first
                if w not in out_gone:
                    out = (p, w)
                    break
            for w, p in added.get(v, {}).items():
                if p > out[0]:
                    out = (p, w)
            return out

        # 1. Vacancy chain: t leaves.
        v = self.slot_of[t] if known is None else _NONE
        at[t] = _NONE
        if v >= 0:
            leave(t, v)
        while v >= 0:
            best = -1
            lo, hi = self.slot_start[v], self.slot_start[v + 1]
            for i in range(lo, hi):
                work += 1
                w = self.slot_t[i]
                if w == t or slot(w) == v:
                    continue
                if self.slot_r[i] < rank.get(w, self.rank_of[w]):
                    best = i
                    break
            self.work = work
            if work > self.budget:
                return None
            if best < 0:
                break
            w = self.slot_t[best]
            old = slot(w)
            if old >= 0:
                leave(w, old)
            join(w, v, self.slot_p[best])
            at[w] = v
            rank[w] = self.slot_r[best]
            pos[w] = self._position(w, v)
            v = old
        if known is None:
            self._vacated[t] = (
                dict(at),
                dict(pos),
                {v: dict(m) for v, m in added.items()},
                {v: set(m) for v, m in gone.items()},
            )
        # 2. Rejection chain: t proposes down the new list, the displaced go on down theirs.
        proposer, i, own = t, 0, True
        while True:
            if own:
                if i >= len(new_list):
                    return _NONE
                _, v, p = new_list[i]
            else:
                end = self.t_start[proposer + 1]
                if i >= end:
                    at[proposer] = _NONE
                    if proposer == t:
                        return _NONE
                    return at.get(t, _NONE)
                v, p = self.t_s[i], self.t_p[i]
            work += 1 + len(self.members.get(v, ())) + len(added.get(v, {}))
            self.work = work
            if work > self.budget:
                return None
            if count(v) < self.free[v]:
                join(proposer, v, p)
                at[proposer] = v
                return at.get(t, _NONE)
            wp, w = worst(v)
            if p < wp:
                leave(w, v)
                at[w] = _NONE
                join(proposer, v, p)
                at[proposer] = v
                if proposer != t:
                    pos[proposer] = i
                # w goes on from the entry after v on its own list.
                proposer = w
                own = w == t
                if own:
                    i = next(k for k, e in enumerate(new_list) if e[1] == v) + 1
                else:
                    i = pos.get(w, self.pos_of[w]) + 1
                continue
            i += 1

    def _position(self, w: int, v: int) -> int:
        lo, hi = self.t_start[w], self.t_start[w + 1]
        for k in range(lo, hi):
            if self.t_s[k] == v:
                return k
        raise AssertionError("a trainee moved to a slot not on their list")


def exact_choices(
    arr: Arrays,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    slot_of: np.ndarray,
    orank: np.ndarray,
    choice: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    fix: np.ndarray,
    open_: np.ndarray,
    budget: int = BUDGET,
) -> tuple[np.ndarray, dict[int, tuple[int, int]]]:
    """Of the fixable choices ``open_`` (indices into ``choice``), each trainee's best one
    whose change places them above their outcome, tried in rank order by the two chains;
    and where each such trainee would land (slot, rank). A trainee whose cases exceed
    ``budget`` list entries gets no claim."""
    t, s, rank, km, _ = choice
    n_t = len(arr.t_level)
    chains = Chains(arr, edges, slot_of, budget)
    order = open_[np.lexsort((rank[open_], t[open_]))]
    queue: dict[int, list[int]] = {}
    for j in order.tolist():
        queue.setdefault(int(t[j]), []).append(j)
    spent: dict[int, int] = {}
    picked: list[int] = []
    lands: dict[int, tuple[int, int]] = {}
    while queue:
        batch = np.array([q[0] for q in queue.values()], dtype=np.int64)
        for ti in list(queue):
            queue[ti].pop(0)
        bt = t[batch]
        what_if, _ = _what_if(arr, fix[batch].astype(np.int64), bt, s[batch], km[batch])
        sc, pt, ps, pr = _scenarios_of(pairs, bt, n_t)
        ok = (failed_rule(what_if, pt, ps, pair_distance_km(what_if, pt, ps)) == 0) & (
            arr.s_free[ps] > 0
        )
        sc, pt, ps, pr = sc[ok], pt[ok], ps[ok], pr[ok]
        prio = priorities(arr, pt, _employer_ranks(arr, pt, ps))
        by = np.lexsort((pr, sc))
        lists: dict[int, list[tuple[int, int, int]]] = {}
        for c, r, v, p in zip(
            sc[by].tolist(), pr[by].tolist(), ps[by].tolist(), prio[by].tolist(), strict=True
        ):
            lists.setdefault(c, []).append((r, v, p))
        for c, (j, ti) in enumerate(zip(batch.tolist(), bt.tolist(), strict=True)):
            new_list = lists.get(c, [])
            chains.work = spent.get(ti, 0)
            got = chains.outcome(ti, new_list)
            spent[ti] = chains.work
            if got is None:
                queue.pop(ti, None)  # over budget: no claim
                continue
            r = next((e[0] for e in new_list if e[1] == got), None)
            if got >= 0 and r is not None and r < orank[ti]:
                picked.append(j)
                lands[ti] = (got, r)
                queue.pop(ti, None)
        queue = {ti: q for ti, q in queue.items() if q}
    return np.array(sorted(picked), dtype=np.int64), lands
