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
"""

from __future__ import annotations

import numpy as np

from .prepared import Prepared
from .problem import quantum
from .residual import distances, potentials, slot_graph
from .result import SeatValue


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
