"""The residual graph of an optimal placement, folded onto the slots, and its potentials.

The flow network of the optimal mode is source ``S`` -> trainee (capacity 1) -> slot (the
pair's quantised cost ``q``) -> sink ``T`` (the slot's free seats). Given a placement ``f``
(which slot each movable trainee holds, or none), a path in its residual graph alternates
slots and trainees; folding out the trainees leaves a graph on the slots plus ``S`` and
``T`` whose arcs are the elementary moves:

- ``s -> s'`` *move*: an occupant ``t`` of ``s`` moves to its candidate ``s'``, cost
  ``q(t, s') - q(t, s)`` (the cheapest such occupant when several can);
- ``S -> s'`` *enter*: an unplaced trainee takes a seat at ``s'``, cost ``q(t, s')``;
- ``s -> S`` *leave*: an occupant of ``s`` is unplaced, cost ``-q(t, s)``;
- ``T -> s`` when ``s`` has an occupant, ``s -> T`` when it has a free seat (cost 0).

A simple path or cycle of this graph visits each slot at most once, hence moves each
trainee at most once, so it is a residual path or cycle of the network, and conversely;
costs are equal. The graph has a few arcs per candidate pair at most (duplicates keep the
cheapest), and the slots are far fewer than the trainees, so shortest paths are cheap.

*Potentials.* When ``f`` is optimal (most placed, then least ``q``), the residual graph has
no negative cycle, so the distances ``p`` from a virtual root joined to every node with
cost 0 (Bellman-Ford, once) are well defined and every arc has a reduced cost
``w + p(u) - p(v) >= 0``. A trainee's potential follows: ``p(s) - q(t, s)`` when it holds
``s``, ``p(S)`` when unplaced. ``p`` is an optimal dual of the min-cost flow of the optimal
value: a placement is optimal exactly when it uses no arc of positive reduced cost and
every arc of negative reduced cost (complementary slackness), whichever optimum ``f``
gave ``p``. All costs are integers held exactly in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


@dataclass(frozen=True)
class SlotGraph:
    """The folded residual graph: nodes are the slots ``0..n_s-1``, ``S = n_s``, ``T = n_s + 1``."""

    n_s: int
    tail: np.ndarray
    head: np.ndarray
    weight: np.ndarray  # float64, integer values (quantised cost units)

    @property
    def source(self) -> int:
        return self.n_s

    @property
    def sink(self) -> int:
        return self.n_s + 1

    def matrix(self, weight: np.ndarray | None = None) -> csr_matrix:
        """Sparse matrix of the arcs; of parallel arcs the cheapest (SciPy would add them)."""
        n = self.n_s + 2
        w = self.weight if weight is None else weight
        key = self.tail * n + self.head
        order = np.argsort(key, kind="stable")
        key = key[order]
        if len(key) == 0:
            return csr_matrix((n, n))
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        cheapest = np.minimum.reduceat(w[order], starts)
        return csr_matrix((cheapest, (key[starts] // n, key[starts] % n)), shape=(n, n))


def slot_graph(
    t: np.ndarray,
    s: np.ndarray,
    q: np.ndarray,
    slot_of: np.ndarray,
    free: np.ndarray,
) -> SlotGraph:
    """Fold the residual graph of the placement ``slot_of`` (see the module docstring).

    Parameters
    ----------
    t, s, q : ndarray
        Candidate pairs of the movable trainees and their quantised costs.
    slot_of : ndarray
        Slot index held by each trainee (-1 if none); locked trainees have no pairs here.
    free : ndarray
        Free seats per slot (capacity minus locked pairs).
    """
    n_s = len(free)
    src, snk = n_s, n_s + 1
    at = slot_of[t]
    holds = at == s
    q_held = np.zeros(len(slot_of), dtype=np.int64)
    q_held[t[holds]] = q[holds]
    occupied = np.bincount(s[holds], minlength=n_s)
    move = (at >= 0) & ~holds
    enter = at < 0
    slots = np.arange(n_s, dtype=np.int64)
    with_occupant = np.flatnonzero(occupied > 0)
    with_room = np.flatnonzero(occupied < free)
    tail = np.concatenate([at[move], np.full(int(enter.sum()), src), s[holds],
                           np.full(len(with_occupant), snk), with_room])  # fmt: skip
    head = np.concatenate([s[move], s[enter], np.full(int(holds.sum()), src),
                           slots[with_occupant], np.full(len(with_room), snk)])  # fmt: skip
    weight = np.concatenate([q[move] - q_held[t[move]], q[enter], -q[holds],
                             np.zeros(len(with_occupant) + len(with_room), np.int64)])  # fmt: skip
    return SlotGraph(n_s, tail, head, weight.astype(np.float64))


def potentials(graph: SlotGraph) -> np.ndarray:
    """Distances from a virtual root joined to every node: optimal duals (see module).

    Bellman-Ford in vectorised rounds that relax only the arcs leaving nodes whose distance
    fell in the round before (SciPy's ``bellman_ford`` always runs all ``n`` rounds).

    Raises
    ------
    ValueError
        If the graph has a negative cycle (the placement was not optimal).
    """
    n = graph.n_s + 2
    dist = np.zeros(n)
    if len(graph.weight) == 0 or float(graph.weight.min()) >= 0:
        return dist
    # Group the arcs by tail (a radix sort when the node numbers fit in 16 bits).
    small = graph.tail.astype(np.uint16) if n <= 2**16 else graph.tail
    order = np.argsort(small, kind="stable")
    tail, head, weight = graph.tail[order], graph.head[order], graph.weight[order]
    ptr = np.zeros(n + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(tail, minlength=n))
    # From the root every node starts at 0; only nodes with a negative arc can lower another.
    mark = np.zeros(n, dtype=bool)
    mark[tail[weight < 0]] = True
    active = np.flatnonzero(mark)
    for _ in range(n + 1):
        counts = ptr[active + 1] - ptr[active]
        total = int(counts.sum())
        if total == 0:
            return dist
        offsets = np.cumsum(counts) - counts
        arcs = np.repeat(ptr[active] - offsets, counts) + np.arange(total)
        cand = dist[tail[arcs]] + weight[arcs]
        heads = head[arcs]
        lower = cand < dist[heads]
        if not lower.any():
            return dist
        heads, cand = heads[lower], cand[lower]
        np.minimum.at(dist, heads, cand)
        mark[:] = False
        mark[heads] = True
        active = np.flatnonzero(mark)
    raise ValueError("negative cycle: the placement is not optimal")


def distances(graph: SlotGraph, pot: np.ndarray, sources: list[int]) -> np.ndarray:
    """Shortest-path distances from ``sources`` (Dijkstra on reduced costs ``>= 0``)."""
    reduced = graph.weight + pot[graph.tail] - pot[graph.head]
    if len(reduced) and float(reduced.min()) < 0:
        raise ValueError("potentials are not feasible for this graph")
    d = dijkstra(graph.matrix(reduced), directed=True, indices=sources)
    d = np.atleast_2d(d)
    return d - pot[np.asarray(sources)][:, None] + pot[None, :]


def trainee_potentials(
    t: np.ndarray, s: np.ndarray, q: np.ndarray, slot_of: np.ndarray, pot: np.ndarray, n_s: int
) -> np.ndarray:
    """Potential of every trainee: ``p(s) - q(t, s)`` when it holds ``s``, else ``p(S)``."""
    p_t = np.full(len(slot_of), pot[n_s])
    holds = slot_of[t] == s
    p_t[t[holds]] = pot[s[holds]] - q[holds]
    return p_t


def slot_graph_pairs(
    graph: SlotGraph, t: np.ndarray, s: np.ndarray, slot_of: np.ndarray
) -> np.ndarray:
    """The candidate pair behind each arc of ``graph = slot_graph(t, s, q, slot_of, free)``.

    A *move* arc ``s -> s'`` and an *enter* arc ``S -> s'`` are the pair ``(t, s')`` of the
    trainee who moves or enters; a *leave* arc ``s -> S`` is the pair ``(t, s)`` the
    trainee gives up; arcs to and from ``T`` have no pair (-1). :func:`slot_graph` builds
    its arcs in this order: moves, enters, leaves, then the arcs of ``T``.
    """
    at = slot_of[t]
    holds = at == s
    pos = np.arange(len(t), dtype=np.int64)
    pairs = np.concatenate([pos[(at >= 0) & ~holds], pos[at < 0], pos[holds]])
    return np.concatenate([pairs, np.full(len(graph.tail) - len(pairs), -1, dtype=np.int64)])
