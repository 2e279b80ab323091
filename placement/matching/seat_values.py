"""Seat values: exactly how the optimum would change with one more seat at each slot.

Let ``f`` be an optimal placement (most placed, then least quantised cost ``q``) and give
slot ``x`` one more seat, i.e. one more unit of capacity on its arc to the sink ``T``.

- If the residual graph of ``f`` has a path from the source ``S`` to ``x``, the new optimum
  places one more trainee (it cannot place two: the cut grows by one), and its cost grows by
  the length ``d(S, x)`` of the shortest such path. Proof: the difference between the new
  optimum and ``f`` is one ``S``-``T`` path plus cycles; every path must use the new seat
  (``f`` was a maximum flow), and every cycle that does not has a non-negative cost (``f``
  was optimal), so the change is at least ``d(S, x)``, which augmenting along the
  shortest path attains.
- Otherwise the number placed cannot grow, and the change is the cheapest cycle through the
  new seat, ``min(0, d(T, x))``: a chain of moves that empties one seat somewhere (the path
  from ``T``) and ends at ``x``; zero when no such chain saves anything.

Both distances for every slot come from one pass: Dijkstra from ``S`` and from ``T`` on the
folded residual graph (:mod:`placement.matching.residual`) with costs made non-negative by
the optimal potentials, so no slot is re-solved. ``cost_change`` is in units of the
objective: the change of the quantised optimum divided by the quantum (exact whenever the
costs are multiples of ``1 / quantum``, as rank and employer terms always are).

*Who moves* (:func:`seat_chains`): exactly the re-solve's choice. The lottery
(:mod:`placement.matching.lottery`) does not pick just any optimum: of the placements with
the most placed and then the least ``q`` it takes the one of least total pair draw, i.e.
the lexicographic optimum of (placed, ``q``, draw), unique unless two sums of 32-bit draws
tie exactly. Costs ordered lexicographically, ``(q, draw)``, form a totally ordered
additive group, and everything min-cost flow theory needs holds for them as for numbers:
a flow is optimal for its value exactly when its residual graph has no negative cycle,
and the difference of two flows splits into paths and cycles of the residual graph. Let
``f`` be the lottery's placement (so no residual cycle is negative in ``(q, draw)``) and
add the seat as a new arc ``x -> T`` of capacity 1. The new lexicographic optimum ``g``
minus ``f`` is one ``S``-``T`` path (if the maximum grows) plus cycles; at most one of them
uses the new arc, the others are residual cycles of ``f``, not negative, so ``g`` costs at
least ``f`` plus the lexicographically shortest ``S -> x`` path (gain) or plus
``min(0, shortest T -> x path)`` (a saving, the cycle closed by the new arc), and applying
that path to ``f`` attains it: ``f`` plus the chain *is* ``g``, the re-solve's placement
with the same seed, trainee for trainee. The shortest path for ``(q, draw)``: the
shortest paths for ``q`` are exactly the paths of arcs tight for the Dijkstra distances
above (integers, compared exactly), and among them the least total draw is a shortest
path on the tight arcs with the draws as costs (:func:`_least_draw_tree`). The tight
arcs' cycles all cost 0 in ``q`` (along a tight arc the distance grows by the arc's
non-negative reduced cost), so their draws are not negative, and the draw sums are held
exactly in int64 (never folded into ``q`` in float64). A simple path of the folded graph
moves each trainee at most once (:mod:`placement.matching.residual`), so it is a chain of
moves. For a slot whose seat places nobody and saves no ``q`` there is no chain, even if
a re-solve's lottery would shuffle trainees among equal optima.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

import numpy as np

from .instance import Id, Instance
from .memory import gc_paused
from .prepared import Prepared, prepare_mode, recall_solve
from .problem import quantum
from .residual import SlotGraph, distances, potentials, slot_graph, slot_graph_pairs
from .result import Result, SeatValue


def seat_changes(
    prep: Prepared, slot_of: np.ndarray, pot: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per slot: the number placed gained (0 or 1) and the change in quantised cost.

    Parameters
    ----------
    prep : Prepared
    slot_of : ndarray
        An optimal placement (:func:`placement.matching.solver.assign`).
    pot : ndarray, optional
        Optimal potentials (from the solve); computed here when not given.
    """
    e, arr = prep.edges, prep.arr
    n_s = len(arr.s_free)
    graph = slot_graph(e.t, e.s, e.q, slot_of, arr.s_free)
    if pot is None:
        pot = potentials(graph)
    d = distances(graph, pot, [graph.source, graph.sink])
    from_source, from_sink = d[0, :n_s], d[1, :n_s]
    gain = np.isfinite(from_source)
    cycle = np.where(np.isfinite(from_sink), np.minimum(from_sink, 0.0), 0.0)
    change = np.where(gain, np.where(gain, from_source, 0.0), cycle)
    return gain.astype(np.int64), np.rint(change).astype(np.int64)


def seat_values(
    prep: Prepared, slot_of: np.ndarray, pot: np.ndarray | None = None
) -> tuple[SeatValue, ...]:
    """:class:`SeatValue` of every slot, in instance order (see the module docstring)."""
    gain, change = seat_changes(prep, slot_of, pot)
    scale = quantum(prep.instance)
    costs = (np.round(change / scale, 6) + 0.0).tolist()
    ids = [s.id for s in prep.instance.slots]
    return tuple(map(SeatValue, ids, gain.tolist(), costs))


@dataclass(frozen=True)
class SeatChains:
    """The moves one more seat at a slot sets off, one row per move (index arrays).

    ``slot`` is the slot given the seat, ``step`` the order of the move in its chain (0
    first), ``trainee`` who moves, from slot ``source`` to slot ``target`` (-1: from
    unplaced, or to unplaced). For a slot that places one more, step 0 is the newly
    placed trainee (``source`` -1); the last move ends at ``slot``.
    """

    slot: np.ndarray
    step: np.ndarray
    trainee: np.ndarray
    source: np.ndarray
    target: np.ndarray


def seat_chains(prep: Prepared, slot_of: np.ndarray, pot: np.ndarray | None = None) -> SeatChains:
    """The chain of moves behind every slot's seat value that helps (see the module).

    Slots with ``placed_gain`` 1 get the chain from ``S``; slots with ``placed_gain`` 0 and
    a negative ``cost_change`` the chain (cycle) from ``T``; other slots none. ``slot_of``
    must be the lottery's placement (:func:`placement.matching.solver.optimise`), the one
    that is optimal for (placed, ``q``, draw) in that order.

    Raises
    ------
    ValueError
        If ``slot_of`` is not that placement (a cycle lowers the draw at equal cost).
    """
    e, arr = prep.edges, prep.arr
    n_s = len(arr.s_free)
    src, snk = n_s, n_s + 1
    graph = slot_graph(e.t, e.s, e.q, slot_of, arr.s_free)
    if pot is None:
        pot = potentials(graph)
    d = distances(graph, pot, [src, snk])
    gain = np.flatnonzero(np.isfinite(d[0, :n_s]))
    saves = np.isfinite(d[1, :n_s]) & (np.rint(d[1, :n_s]) < 0)
    saves[gain] = False
    cycle = np.flatnonzero(saves)
    # The pair draws of the same moves, arc for arc (slot_graph builds the arcs in the
    # same order for any costs): move t from s to s' draws lottery(t, s') - lottery(t, s).
    draw = slot_graph(e.t, e.s, e.lottery, slot_of, arr.s_free).weight.astype(np.int64)
    pairs = slot_graph_pairs(graph, e.t, e.s, slot_of)
    rows: list[tuple[np.ndarray, ...]] = []
    for targets, root, dist in ((gain, src, d[0]), (cycle, snk, d[1])):
        if not len(targets):
            continue
        tree = _least_draw_tree(graph, dist, draw, root)
        cur, slot, depth = targets, targets, 0
        while len(cur):
            arc = tree[cur]
            rows.append((slot, np.full(len(cur), depth), arc))
            depth += 1
            prev = graph.tail[arc]
            live = prev != root
            cur, slot = prev[live], slot[live]
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return SeatChains(empty, empty, empty, empty, empty)
    slot = np.concatenate([r[0] for r in rows])
    back = np.concatenate([r[1] for r in rows])  # steps counted back from the slot
    arc = np.concatenate([r[2] for r in rows])
    real = graph.tail[arc] != snk  # T -> s only says that s gives up a seat: nobody moves
    slot, back, arc = slot[real], back[real], arc[real]
    # Number the steps from the start of each chain: chain length minus 1 minus back.
    length = np.zeros(n_s, dtype=np.int64)
    np.maximum.at(length, slot, back + 1)
    step = length[slot] - 1 - back
    order = np.lexsort((step, slot))
    tail, head = graph.tail[arc[order]], graph.head[arc[order]]
    return SeatChains(
        slot=slot[order],
        step=step[order],
        trainee=e.t[pairs[arc[order]]],
        source=np.where(tail == src, -1, tail),
        target=np.where(head == src, -1, head),
    )


def _least_draw_tree(graph: SlotGraph, dist: np.ndarray, draw: np.ndarray, root: int) -> np.ndarray:
    """The arc into each node on its lexicographically shortest path from ``root``: least
    quantised cost (``dist``, the distances from ``root``), then least total draw; -1 for
    the root and the nodes it does not reach (see the module docstring for why this is
    well defined and exact).

    The shortest paths by ``q`` are exactly the paths of *tight* arcs (``dist[u] + q ==
    dist[v]``, integers, so exact). Among them, the least draw: Bellman-Ford from ``root``
    in vectorised rounds over the tight arcs (draws may be negative; the tight graph has
    no cycle of negative draw when the placement is the lottery's), each round relaxing the
    arcs out of the nodes lowered in the round before, all from the distances at the start
    of the round; a node keeps the arc that lowered it last (of equal candidates the first
    arc). Such a predecessor graph has no cycle without a negative cycle, so it is a tree
    of least-draw paths. Draw sums stay below ``2**32`` times the path length: int64.
    """
    n = graph.n_s + 2
    tail, head = graph.tail, graph.head
    du = dist[tail]
    tight = np.flatnonzero(np.isfinite(du) & (du + graph.weight == dist[head]) & (head != root))
    tail, head, w = tail[tight], head[tight], draw[tight]
    order = np.argsort(tail, kind="stable")
    tail, head, w, tight = tail[order], head[order], w[order], tight[order]
    ptr = np.zeros(n + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(tail, minlength=n))
    best = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    best[root] = 0
    pred = np.full(n, -1, dtype=np.int64)
    active = np.array([root], dtype=np.int64)
    for _ in range(n + 1):
        counts = ptr[active + 1] - ptr[active]
        total = int(counts.sum())
        if total == 0:
            return pred
        offsets = np.cumsum(counts) - counts
        arcs = np.repeat(ptr[active] - offsets, counts) + np.arange(total)
        cand = best[tail[arcs]] + w[arcs]
        heads = head[arcs]
        lower = cand < best[heads]
        if not lower.any():
            return pred
        arcs, cand, heads = arcs[lower], cand[lower], heads[lower]
        pick = np.lexsort((arcs, cand, heads))
        pick = pick[np.r_[True, heads[pick][1:] != heads[pick][:-1]]]
        active = heads[pick]
        best[active] = cand[pick]
        pred[active] = tight[arcs[pick]]
    raise ValueError("a cycle lowers the draw: the placement is not the lottery's")


class SeatMove(NamedTuple):
    """One move of the chain one more seat at ``slot_id`` sets off (ids, not indices);
    ``from_slot_id`` None: the trainee was unplaced; ``to_slot_id`` None: they lose their
    place (only in a chain that saves cost)."""

    slot_id: Id
    step: int
    trainee_id: Id
    from_slot_id: Id | None
    to_slot_id: Id | None


def seat_moves(
    prep: Prepared, slot_of: np.ndarray, pot: np.ndarray | None = None
) -> list[SeatMove]:
    """:func:`seat_chains` with the instance's ids, in slot then step order."""
    c = seat_chains(prep, slot_of, pot)
    inst = prep.instance
    slot_ids = [x.id for x in inst.slots]
    s_ids: list[Id | None] = [*slot_ids, None]  # index -1: none
    t_ids = [x.id for x in inst.trainees]
    # 100,000 small records would start the cyclic collector again and again over the
    # whole heap (the instance's records): they hold no cycles, so pause it.
    with gc_paused():
        return list(
            map(
                SeatMove,
                map(slot_ids.__getitem__, c.slot.tolist()),
                c.step.tolist(),
                map(t_ids.__getitem__, c.trainee.tolist()),
                map(s_ids.__getitem__, c.source.tolist()),
                map(s_ids.__getitem__, c.target.tolist()),
            )
        )


def result_seat_moves(instance: Instance, result: Result) -> list[SeatMove]:
    """:func:`seat_moves` of an optimal ``result`` of ``solve(instance)``: with the arrays
    and potentials the solve kept (:func:`placement.matching.prepared.recall_solve`) when
    it was this very instance, else built again. Empty for a stable result."""
    if result.mode == "stable" or instance.mode == "stable":
        return []
    known = recall_solve(instance)
    prep, pot = known if known is not None else (prepare_mode(instance), None)
    arr = prep.arr
    slot_of = arr.t_locked.copy()
    rows = result.assignments
    ti = np.fromiter(map(arr.t_index.__getitem__, map(attrgetter("trainee_id"), rows)),
                     np.int64, len(rows))  # fmt: skip
    si = np.fromiter(map(arr.s_index.__getitem__, map(attrgetter("slot_id"), rows)),
                     np.int64, len(rows))  # fmt: skip
    slot_of[ti] = si
    return seat_moves(prep, slot_of, pot)
