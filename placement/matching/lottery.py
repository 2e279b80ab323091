"""The seeded lottery: trainee order, pair draws, and the tie-break among optimal placements.

*Trainee order.* Every trainee's id is hashed with the instance ``seed``
(:func:`placement.matching.problem.id_hashes`); sorting by the hash is the lottery order,
first = best. It depends on the ids and the seed only, never on the order of the file.
The stable mode uses it for slot priorities, and blocking pairs are counted with it in
both modes.

*Pair draws.* Each (trainee, slot) pair draws 32 bits from the hashes of both ids
(``Edges.lottery``, :func:`placement.matching.problem.cost_edges`).

*Tie-break* (:func:`break_ties`). The optimal mode first solves the real objective alone
(most placed, then least quantised cost). Among all placements that reach that optimum
exactly, it then takes the one with the least total of pair draws: a second min-cost flow
restricted to the arcs of zero reduced cost under an optimal dual (the potentials of
:mod:`placement.matching.residual`). Every optimal placement is feasible there and
nothing else is (complementary slackness), so the lottery never changes the number placed
or the cost, and it has its full 32 bits per pair whatever the size of the round. Only
the strongly connected components of the zero-reduced-cost residual graph can change (an
arc between two components has the same flow in every optimum), so the second solve is
small. Its optimum is unique unless two sums of 32-bit draws tie exactly (odds of the
order of 2**-32 per alternative), so the two backends, which find the same set of optima,
return the same placement.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .problem import Arrays
from .residual import trainee_potentials


def trainee_order(arr: Arrays) -> np.ndarray:
    """Trainee indices in lottery order, first = best (by seeded id hash)."""
    return np.argsort(arr.t_key, kind="stable")


def priorities(arr: Arrays, t: np.ndarray, emp_rank: np.ndarray) -> np.ndarray:
    """A slot's priority of each pair's trainee, lower = preferred (one value per pair).

    The employer's ranking first (rank 1 best), then everyone it did not rank in lottery
    order. Strict within a slot.
    """
    n_t = len(arr.t_key)
    return np.where(emp_rank > 0, emp_rank, n_t + 1 + arr.t_key[t]).astype(np.int64)


def break_ties(
    t: np.ndarray,
    s: np.ndarray,
    q: np.ndarray,
    draw: np.ndarray,
    slot_of: np.ndarray,
    free: np.ndarray,
    pot: np.ndarray,
) -> np.ndarray:
    """Among the placements optimal like ``slot_of``, the one with the least total draw.

    Parameters
    ----------
    t, s, q, draw : ndarray
        The solver pairs (slots with a free seat), their quantised costs and draws.
    slot_of : ndarray
        An optimal placement (slot index per trainee, -1 if none; locked kept).
    free : ndarray
        Free seats per slot.
    pot : ndarray
        Optimal potentials of the slots, ``S`` and ``T`` (:func:`residual.potentials`).

    Returns
    -------
    ndarray
        The new slot index per trainee.
    """
    from ortools.graph.python import min_cost_flow

    n_t, n_s = len(slot_of), len(free)
    if len(t) == 0:
        return slot_of
    p_t = trainee_potentials(t, s, q, slot_of, pot, n_s)
    p_src, p_snk = pot[n_s], pot[n_s + 1]
    # Nodes: S = 0, trainee i = 1 + i, slot j = 1 + n_t + j, T = 1 + n_t + n_s.
    sink = 1 + n_t + n_s
    trainees = np.unique(t)
    slots = np.flatnonzero(free > 0)
    pair_flow = (slot_of[t] == s).astype(np.int64)
    occupied = np.bincount(s[pair_flow > 0], minlength=n_s)
    tails = np.concatenate([np.zeros(len(trainees), np.int64), 1 + t, 1 + n_t + slots])
    heads = np.concatenate([1 + trainees, 1 + n_t + s, np.full(len(slots), sink)])
    caps = np.concatenate([np.ones(len(trainees) + len(t), np.int64), free[slots]])
    costs = np.concatenate([np.zeros(len(trainees), np.int64), draw,
                            np.zeros(len(slots), np.int64)])  # fmt: skip
    flows = np.concatenate([(slot_of[trainees] >= 0).astype(np.int64), pair_flow,
                            occupied[slots]])  # fmt: skip
    reduced = np.concatenate([p_src - p_t[trainees], q + p_t[t] - pot[s], pot[slots] - p_snk])
    free_arc = np.flatnonzero(reduced == 0)
    fwd = free_arc[flows[free_arc] < caps[free_arc]]
    bwd = free_arc[flows[free_arc] > 0]
    n_nodes = sink + 1
    residual = csr_matrix(
        (np.ones(len(fwd) + len(bwd), dtype=np.int8),
         (np.concatenate([tails[fwd], heads[bwd]]), np.concatenate([heads[fwd], tails[bwd]]))),
        shape=(n_nodes, n_nodes),
    )  # fmt: skip
    _, label = connected_components(residual, directed=True, connection="strong")
    inside = free_arc[label[tails[free_arc]] == label[heads[free_arc]]]
    if len(inside) == 0:
        return slot_of
    # Canonical arc order (by node numbers): the solve does not depend on the file order.
    inside = inside[np.lexsort((heads[inside], tails[inside]))]
    nodes, local = np.unique(np.concatenate([tails[inside], heads[inside]]), return_inverse=True)
    lt, lh = local[: len(inside)], local[len(inside) :]
    f_in = flows[inside]
    supply = np.bincount(lt, weights=f_in, minlength=len(nodes)) - np.bincount(
        lh, weights=f_in, minlength=len(nodes)
    )
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        lt.astype(np.int32), lh.astype(np.int32), caps[inside], costs[inside]
    )
    flow.set_nodes_supplies(np.arange(len(nodes), dtype=np.int32), supply.astype(np.int64))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"OR-Tools min-cost flow failed: {status}")
    flows[inside] = np.asarray(flow.flows(np.asarray(arcs)), dtype=np.int64)
    out = slot_of.copy()
    out[trainees] = -1
    chosen = flows[len(trainees) : len(trainees) + len(t)] > 0
    out[t[chosen]] = s[chosen]
    return out
