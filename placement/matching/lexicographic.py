"""Lexicographic shortest paths (quantised cost, lottery draw) in the folded residual graph.

The optimal mode returns the lexicographic optimum of (most placed, least quantised cost
``q``, least total pair draw) (:mod:`placement.matching.lottery`). A what-if whose best
placements tie on ``q`` is decided by the draws, so its analysis needs distances in the
pair ``(q, draw)``, compared lexicographically. They are found here, exactly.

*Arc weights.* Each arc of the folded graph (:mod:`placement.matching.residual`) is one
pair's move; its draw is the pair's draw (``enter``), minus it (``leave``), or the new
pair's draw minus the held pair's (``move``); arcs of ``T`` draw 0. Of parallel arcs the
lexicographically least is kept.

*Distances to a target* ``t``. The lexicographic distance from ``u`` is ``(dq(u), dd(u))``:
``dq`` the shortest ``q`` distance, ``dd`` the least draw over the paths of length
``dq``. First ``dq(., t)`` for every node, by Dijkstra on the reduced costs of the optimal
potentials (as :mod:`placement.matching.counterfactual_paths`). A path from ``u`` has
length ``dq(u)`` exactly when every arc ``(a, b)`` on it is *tight*,
``q(a, b) + dq(b) == dq(a)``; so ``dd`` is the shortest draw distance to ``t`` in the
graph of tight arcs, found by Bellman-Ford (draws may be negative). That graph has no
cycle of negative draw: a cycle of tight arcs costs 0 in ``q``, so a negative one applied
to the run's placement would give an optimum of the same ``q`` with a smaller total draw,
which the lottery's choice excludes (and a shortest walk is then a simple path, a valid
chain of moves). If Bellman-Ford does not settle, the placement was not the lottery's and
nothing is decided. ``q`` distances are integers in float64 and ``dd`` sums of 32-bit
draws along at most ``n`` arcs: both exact below ``2**53``.

Each target's distances are kept for later queries. The searches count the nodes and arcs
they touch against a work budget (deterministic, like the chain searches): a query past
the budget is *dropped* and decides nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .residual import SlotGraph, slot_graph_pairs

# Work (nodes reached times the mean arcs per node, plus the arcs Bellman-Ford relaxes) the
# lexicographic searches of one explanation run may spend.
LEX_BUDGET = 20_000_000
# Targets whose distances are kept for later queries (two float64 rows each).
_KEEP = 64

# An option of a decision: (label, source node or None, q, draw, the largest total q that
# could still win: an option above it is left out).
Option = tuple[Hashable, int | None, int, int, float]


def arc_draws(
    graph: SlotGraph, t: np.ndarray, s: np.ndarray, draw: np.ndarray, slot_of: np.ndarray
) -> np.ndarray:
    """The draw of every arc of ``graph = slot_graph(t, s, q, slot_of, free)`` (module
    docstring): the pair behind a move, enter or leave arc, relative to the held pair."""
    pair = slot_graph_pairs(graph, t, s, slot_of)
    at = slot_of[t]
    holds = at == s
    held = np.zeros(len(slot_of), dtype=np.int64)
    held[t[holds]] = draw[holds]
    n_move = int(((at >= 0) & ~holds).sum())
    n_enter = int((at < 0).sum())
    n_leave = int(holds.sum())
    out = np.zeros(len(graph.tail), dtype=np.int64)
    mv = pair[:n_move]
    out[:n_move] = draw[mv] - held[t[mv]]
    out[n_move : n_move + n_enter] = draw[pair[n_move : n_move + n_enter]]
    lv = pair[n_move + n_enter : n_move + n_enter + n_leave]
    out[n_move + n_enter : n_move + n_enter + n_leave] = -draw[lv]
    return out


class LexPaths:
    """Lexicographic distances to a target in the folded residual graph (module docstring),
    built on first use."""

    def __init__(
        self, graph: SlotGraph, draw: np.ndarray, pot: np.ndarray, budget: int = LEX_BUDGET
    ) -> None:
        self.graph, self.draw, self.pot = graph, draw, pot
        self.budget, self.spent = budget, 0
        self.dropped = 0  # queries past the budget
        self.queries = 0
        self._ready: bool | None = None
        self._kept: dict[tuple[int, bool], tuple[float, np.ndarray, np.ndarray]] = {}

    def _build(self) -> bool:
        if self._ready is not None:
            return self._ready
        g, pot = self.graph, self.pot
        n = g.n_s + 2
        key = g.tail * n + g.head
        order = np.lexsort((self.draw, g.weight, key))
        key = key[order]
        first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, dtype=bool)
        keep = order[first]
        self._u, self._v = g.tail[keep], g.head[keep]
        self._wq, self._wd = g.weight[keep], self.draw[keep].astype(np.float64)
        reduced = self._wq + pot[self._u] - pot[self._v]
        if len(reduced) and float(reduced.min()) < 0:
            self._ready = False
            return False
        self._n, self._reduced = n, reduced
        self._reverse: dict[bool, csr_matrix] = {}
        self._per_node = max(1, len(keep) // n)
        self._ready = True
        return True

    def _distances(self, target: int, avoid: bool, cap: float) -> tuple[np.ndarray, np.ndarray]:
        """``(dq, dd)`` to ``target`` of every node within reduced ``q`` distance ``cap``
        (``inf`` beyond; module docstring). Raises ValueError on a negative draw cycle."""
        kept = self._kept.get((target, avoid))
        if kept is not None and kept[0] >= cap:
            return kept[1], kept[2]
        if avoid not in self._reverse:
            m = np.ones(len(self._u), dtype=bool)
            if avoid:
                m = (self._u != self.graph.source) & (self._v != self.graph.source)
            shape = (self._n, self._n)
            self._reverse[avoid] = csr_matrix((self._reduced[m], (self._v[m], self._u[m])), shape)
        red = np.atleast_2d(dijkstra(self._reverse[avoid], directed=True, indices=[target],
                                     limit=cap))[0]  # fmt: skip
        reached = np.isfinite(red)
        self.spent += int(reached.sum()) * self._per_node + self._n // 8
        dq = red - self.pot + self.pot[target]
        u, v = self._u, self._v
        ok = reached[u] & reached[v]
        if avoid:
            ok &= (u != self.graph.source) & (v != self.graph.source)
        ok[ok] = self._wq[ok] + dq[v[ok]] == dq[u[ok]]
        tu, tv, tw = u[ok], v[ok], self._wd[ok]
        by_head = np.argsort(tv, kind="stable")
        tu, tv, tw = tu[by_head], tv[by_head], tw[by_head]
        ptr = np.zeros(self._n + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(np.bincount(tv, minlength=self._n))
        dd = np.full(self._n, np.inf)
        dd[target] = 0.0
        active = np.array([target])
        for _ in range(self._n + 1):
            counts = ptr[active + 1] - ptr[active]
            total = int(counts.sum())
            self.spent += total + len(active)
            if total == 0:
                break
            offsets = np.cumsum(counts) - counts
            arcs = np.repeat(ptr[active] - offsets, counts) + np.arange(total)
            cand = dd[tv[arcs]] + tw[arcs]
            tails = tu[arcs]
            lower = cand < dd[tails]
            if not lower.any():
                break
            np.minimum.at(dd, tails[lower], cand[lower])
            active = np.unique(tails[lower])
        else:
            raise ValueError("a cycle of negative draw: not the lottery's placement")
        if len(self._kept) < _KEEP or (target, avoid) in self._kept:
            self._kept[(target, avoid)] = (cap, dq, dd)
        return dq, dd

    def least(
        self, target: int, options: Sequence[Option], *, avoid_source: bool = False
    ) -> Hashable | None:
        """The label of the lexicographically least option, or None (an exact tie, the
        budget spent, or a placement the lottery did not give).

        An option with a source node ``u`` is worth ``(q, draw) + D(u, target)`` (``D``
        avoiding ``S`` if asked), one without is worth ``(q, draw)``. An option whose
        ``q`` part exceeds its last field is left out (the caller knows it cannot win).
        """
        self.queries += 1
        if not self._build():
            return None
        if self.spent >= self.budget:
            self.dropped += 1
            return None
        p = self.pot
        # Reduced distance from u within the option's cap: D <= cap - q, plus p(u) - p(target).
        cap = max((o[4] - o[2] + p[o[1]] - p[target] for o in options if o[1] is not None),
                  default=0.0)  # fmt: skip
        try:
            dq, dd = self._distances(target, avoid_source, max(float(cap), 0.0))
        except ValueError:
            self._ready = False
            return None
        values: list[tuple[tuple[int, int], Hashable]] = []
        for label, u, q, d, q_cap in options:
            if u is None:
                values.append(((q, d), label))
            elif np.isfinite(dq[u]) and q + dq[u] <= q_cap and np.isfinite(dd[u]):
                values.append(((q + int(dq[u]), d + int(dd[u])), label))
        if not values:
            return None
        values.sort(key=lambda v: v[0])
        if len(values) > 1 and values[0][0] == values[1][0]:
            return None
        return values[0][1]
