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

*Who moves* (:func:`seat_chains`). The same two Dijkstra passes keep their shortest-path
trees. For a slot that places one more, the path from ``S`` is the chain the new seat
sets off: an unplaced trainee enters its first slot, an occupant of that slot moves to the
next, and so on to the slot with the new seat; applying it to ``f`` gives a placement
optimal for the bigger slot (the proof above), so *one optimal re-solve places* that
trainee. For a slot whose seat only saves cost, the path from ``T`` is the chain of moves
(and at most one swap of an unplaced trainee for a placed one, through ``S``). Where
several chains are equally good the answer is one of them, chosen without reference to
file order: the tree Dijkstra finds, and of parallel arcs the cheapest, then the lowest
pair draw of the seeded lottery. It is not necessarily the chain that a re-solve's
tie-break lottery would pick.
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
from .residual import distances, potentials, shortest_path_trees, slot_graph, slot_graph_pairs
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
    a negative ``cost_change`` the chain (cycle) from ``T``; other slots none.
    """
    e, arr = prep.edges, prep.arr
    n_s = len(arr.s_free)
    src, snk = n_s, n_s + 1
    graph = slot_graph(e.t, e.s, e.q, slot_of, arr.s_free)
    if pot is None:
        pot = potentials(graph)
    d, pred = shortest_path_trees(graph, pot, [src, snk])
    gain = np.flatnonzero(np.isfinite(d[0, :n_s]))
    saves = np.isfinite(d[1, :n_s]) & (np.rint(d[1, :n_s]) < 0)
    saves[gain] = False
    cycle = np.flatnonzero(saves)
    # The pair behind every arc of the two trees: of the parallel arcs from the tree's
    # node before to the node, the cheapest, then the lowest lottery draw.
    n = n_s + 2
    on_tree = (pred[0][graph.head] == graph.tail) | (pred[1][graph.head] == graph.tail)
    arcs = np.flatnonzero(on_tree)
    pairs = slot_graph_pairs(graph, e.t, e.s, slot_of)[arcs]
    key = graph.tail[arcs] * n + graph.head[arcs]
    draw = np.append(e.lottery, 0)[pairs]  # arcs of T (pair -1) draw 0
    order = np.lexsort((pairs, draw, graph.weight[arcs], key))
    first = np.r_[True, key[order][1:] != key[order][:-1]] if len(order) else np.zeros(0, bool)
    arc_key, arc_pair = key[order][first], pairs[order][first]
    rows: list[tuple[np.ndarray, ...]] = []
    for targets, tree, root in ((gain, pred[0], src), (cycle, pred[1], snk)):
        cur, slot, depth = targets, targets, 0
        while len(cur):
            prev = tree[cur]
            rows.append((slot, np.full(len(cur), depth), prev, cur))
            depth += 1
            live = prev != root
            cur, slot = prev[live], slot[live]
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return SeatChains(empty, empty, empty, empty, empty)
    slot = np.concatenate([r[0] for r in rows])
    back = np.concatenate([r[1] for r in rows])  # steps counted back from the slot
    tail = np.concatenate([r[2] for r in rows])
    head = np.concatenate([r[3] for r in rows])
    real = tail != snk  # T -> s only says that s gives up a seat: nobody moves
    slot, back, tail, head = slot[real], back[real], tail[real], head[real]
    pair = arc_pair[np.searchsorted(arc_key, tail * n + head)]
    # Number the steps from the start of each chain: chain length minus 1 minus back.
    length = np.zeros(n_s, dtype=np.int64)
    np.maximum.at(length, slot, back + 1)
    step = length[slot] - 1 - back
    order = np.lexsort((step, slot))
    return SeatChains(
        slot=slot[order],
        step=step[order],
        trainee=e.t[pair[order]],
        source=np.where(tail[order] == src, -1, tail[order]),
        target=np.where(head[order] == src, -1, head[order]),
    )


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
