"""The exact lexicographic solve: most trainees placed, then least total cost.

How exactness is kept
---------------------
Costs are integers. A pair's real cost is quantised once (``q = round(cost * quantum)``,
see :func:`placement.matching.problem.quantum`) and the solvers optimise ``q`` alone.

*Why "placed first" holds.* The OR-Tools backend computes a maximum flow of minimum cost
(``SolveMaxFlowWithMinCost``): no penalty is involved. The SciPy backend gives each trainee a
private "unplaced" column of cost ``P = m * (qmax + 2) + 1`` (``m = min(trainees, slots)``
of the component): an augmenting path adds at most ``m`` arcs, so it always lowers the
penalised cost, and a penalised optimum is a maximum placement. With ``q <= 2**20`` every
figure stays far inside OR-Tools' int64 and SciPy's exact float64 integers.

*Ties.* The first solve returns some optimum; :func:`placement.matching.lottery.break_ties`
then picks, among all placements with the same number placed and the same quantised cost,
the one with the least total of the 32-bit seeded pair draws (a second min-cost flow on the
arcs of zero reduced cost under the optimal dual of :mod:`placement.matching.residual`).
Both backends reach the same set of optima, so they return the same placement.

Determinism: components are solved independently, in a canonical order (ids hashed with the
instance ``seed``), and the lottery draws come from the ids, so the result does not depend on
the order of the file, on the backend, or on whether a component is solved alone
(:func:`components`, :func:`merge_results`).

Before solving, an exact reduction (:func:`reduce_exact`) drops every pair dearer than the
trainee's cheapest pair into a slot that can take all its candidates, and fixes trainees whose
cheapest pair goes there; both keep the optimum (proof in its docstring).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from .assembly import assemble_mode
from .instance import Instance
from .lottery import break_ties
from .prepared import Prepared, component_labels, prepare_mode, remember_solve
from .residual import potentials, slot_graph
from .result import Result
from .stable import deferred_acceptance

METHODS = ("auto", "mcf", "scipy")
# Below this many matrix entries the dense SciPy solver beats the sparse one.
_DENSE_ENTRIES = 250_000
# "auto" uses SciPy for components up to this many trainees (measured: both backends are
# equal there, and below it SciPy's dense solver has the smaller constant overhead).
_AUTO_SCIPY_TRAINEES = 24
# OR-Tools networks with at least this many trainees are split by a maximum flow first
# (see `_split_by_max_flow`); below it the extra max flow does not pay.
_SPLIT_TRAINEES = 2000


def reduce_exact(
    t: np.ndarray, s: np.ndarray, cost: np.ndarray, free: np.ndarray, s_key: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact reduction: drop pairs no optimum uses and fix trainees every optimum places.

    Let ``deg(s)`` count the live pairs of slot ``s`` and call ``s`` *roomy* when its free
    seats cover them (``free(s) >= deg(s)``): no assignment can fill it without using all
    its candidates. Let ``u`` be a trainee's cheapest roomy slot (lowest integer cost ``C``,
    canonical slot order on a tie).

    1. *Every pair of the trainee dearer than* ``(t, u)`` *is unused by every optimum.* Take
       an optimum X that gives ``t`` a dearer slot or none. ``t`` is not at ``u``, so at most
       ``deg(u) - 1 < free(u)`` trainees are at ``u``: moving ``t`` there is feasible, places
       at least as many and (when the number placed is equal) costs strictly less, which
       contradicts the optimality of X. Dropping those pairs therefore keeps every optimum
       and creates none (the feasible set only shrinks), so the optimum is unchanged.
    2. *If the trainee's cheapest live pair is* ``(t, u)`` *itself, some optimum gives it*
       ``u``: by 1 every optimum places ``t`` at a pair of cost at most ``C(t, u)``, which is
       the minimum, so moving it to ``u`` (feasible as above) costs nothing. Fix it, take the
       seat from ``free(u)`` and remove its pairs. (When the cheapest pair is unique, which
       the seeded lottery in ``C`` makes the rule, every optimum gives it ``u``.)

    Both steps lower degrees, which makes more slots roomy; repeat to a fixed point. Step 2
    alone is the classic "first choice in an undersubscribed slot"; step 1 is what shrinks
    the giant component: a trainee's choices below their best roomy slot are dead weight.

    Parameters
    ----------
    t, s, cost : ndarray
        Solver pairs (trainee index, slot index, integer cost ``C``).
    free : ndarray
        Free seats per slot.
    s_key : ndarray
        Canonical position of each slot (tie order).

    Returns
    -------
    fixed : ndarray of bool, per pair
        Pairs fixed into the solution.
    alive : ndarray of bool, per pair
        Pairs left for the solver.
    """
    n_e = len(t)
    fixed = np.zeros(n_e, dtype=bool)
    alive = np.ones(n_e, dtype=bool)
    if n_e == 0:
        return fixed, alive
    n_slots = len(free)
    # Group the pairs by trainee (segments); nothing below depends on the order inside one.
    order = np.arange(n_e) if bool(np.all(t[1:] >= t[:-1])) else np.argsort(t, kind="stable")
    ot, os_, oc, okey = t[order], s[order], cost[order], s_key[s[order]]
    starts = np.flatnonzero(np.r_[True, ot[1:] != ot[:-1]])
    seg = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n_e]))
    big = np.iinfo(np.int64).max
    live = np.ones(n_e, dtype=bool)
    free = free.astype(np.int64).copy()
    deg = np.bincount(os_, minlength=n_slots)
    roomy = free >= deg
    e_idx = np.arange(n_e)  # the live pairs of trainees whose situation may have changed
    while True:
        if len(e_idx) == 0:
            break
        es, ec, eseg = os_[e_idx], oc[e_idx], seg[e_idx]
        sub_starts = np.flatnonzero(np.r_[True, eseg[1:] != eseg[:-1]])
        sub_seg = np.repeat(np.arange(len(sub_starts)), np.diff(np.r_[sub_starts, len(e_idx)]))
        is_roomy = roomy[es]
        bound = np.minimum.reduceat(np.where(is_roomy, ec, big), sub_starts)
        cheapest = np.minimum.reduceat(ec, sub_starts)
        has = bound < big
        # Step 2: a cheapest live pair goes to a roomy slot (canonical slot order on a tie).
        fix = has & (cheapest == bound)
        tied = is_roomy & fix[sub_seg] & (ec == bound[sub_seg])
        first_key = np.minimum.reduceat(np.where(tied, okey[e_idx], big), sub_starts)
        chosen = e_idx[tied & (okey[e_idx] == first_key[sub_seg])]
        # Step 1: pairs dearer than the cheapest roomy pair; and every pair of a fixed trainee.
        dead = e_idx[(has[sub_seg] & (ec > bound[sub_seg])) | fix[sub_seg]]
        if len(dead) == 0:
            break
        fixed[order[chosen]] = True
        free -= np.bincount(os_[chosen], minlength=n_slots)
        live[dead] = False
        deg -= np.bincount(os_[dead], minlength=n_slots)
        # Roomy slots only ever gain (degrees fall; a fix takes a seat and its own pair), and
        # a trainee's bounds change only when one of its live slots turns roomy.
        now_roomy = free >= deg
        todo = np.zeros(len(starts), dtype=bool)
        todo[seg[live & (now_roomy & ~roomy)[os_]]] = True
        roomy = now_roomy
        e_idx = np.flatnonzero(todo[seg] & live)
        if len(e_idx) == 0:
            break
    alive[order] = live
    return fixed, alive


def _solve_mcf(n: int, k: int, lt: np.ndarray, ls: np.ndarray, cost: np.ndarray,
               cap: np.ndarray) -> np.ndarray:  # fmt: skip
    """Min-cost maximum flow with OR-Tools; returns the chosen edges (bool).

    Network: source 0 -> trainee ``1..n`` (capacity 1) -> slot ``n+1..n+k`` (capacity 1,
    the pair's cost) -> sink ``n+k+1`` (the slot's free seats). Large networks are split
    first (:func:`_split_by_max_flow`).
    """
    sink = n + k + 1
    tails = np.concatenate([np.zeros(n, np.int32), (lt + 1).astype(np.int32),
                            np.arange(n + 1, n + k + 1, dtype=np.int32)])  # fmt: skip
    heads = np.concatenate([np.arange(1, n + 1, dtype=np.int32), (ls + n + 1).astype(np.int32),
                            np.full(k, sink, np.int32)])  # fmt: skip
    caps = np.concatenate([np.ones(n + len(lt), np.int64), cap.astype(np.int64)])
    costs = np.concatenate([np.zeros(n, np.int64), cost.astype(np.int64), np.zeros(k, np.int64)])
    if n >= _SPLIT_TRAINEES:
        flows = _split_by_max_flow(tails, heads, caps, costs, sink)
    else:
        flows = _min_cost_max_flow(tails, heads, caps, costs, sink)
    return flows[n : n + len(lt)] > 0


def _min_cost_max_flow(tails: np.ndarray, heads: np.ndarray, caps: np.ndarray,
                       costs: np.ndarray, sink: int) -> np.ndarray:  # fmt: skip
    """``SolveMaxFlowWithMinCost`` from node 0 to ``sink``; the flow of every arc."""
    from ortools.graph.python import min_cost_flow

    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supply = int(min(caps[tails == 0].sum(), caps[heads == sink].sum()))
    flow.set_node_supply(0, supply)
    flow.set_node_supply(sink, -supply)
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"OR-Tools min-cost flow failed: {status}")
    return np.asarray(flow.flows(np.asarray(arcs)), dtype=np.int64)


def _split_by_max_flow(tails: np.ndarray, heads: np.ndarray, caps: np.ndarray,
                       costs: np.ndarray, sink: int) -> np.ndarray:  # fmt: skip
    """Min-cost maximum flow through one maximum flow and its residual components.

    Take any maximum flow ``f`` (OR-Tools ``SimpleMaxFlow``, no costs) and the strongly
    connected components of its residual graph. *Every maximum flow equals* ``f`` *on the
    arcs that join two different components*: the difference of two maximum flows (of the
    same value) is a circulation in the residual graph of ``f``, a sum of cycles, and a cycle
    never leaves a strongly connected component. So the minimum-cost maximum flow keeps
    ``f`` on those arcs (a pair there is in every optimum or in none) and is, inside the
    components, a minimum-cost flow with the node supplies that ``f`` induces on the
    internal arcs; any such flow is a maximum flow, and all of them are feasible because
    ``f`` is one. Typically a third of the pairs are settled this way, and the rest is
    solved by one ``SimpleMinCostFlow.Solve`` over all components at once (they share no
    node). Exact: the same optimum value, and the same assignment whenever it is unique.
    """
    from ortools.graph.python import max_flow, min_cost_flow

    solver = max_flow.SimpleMaxFlow()
    solver.add_arcs_with_capacity(tails, heads, caps)
    if solver.solve(0, sink) != solver.OPTIMAL:
        raise RuntimeError("OR-Tools max flow failed")
    flows = np.asarray(solver.flows(np.arange(len(tails))), dtype=np.int64)
    fwd = np.flatnonzero(flows < caps)
    bwd = np.flatnonzero(flows > 0)
    n_nodes = sink + 1
    residual = csr_matrix(
        (np.ones(len(fwd) + len(bwd), dtype=np.int8),
         (np.concatenate([tails[fwd], heads[bwd]]), np.concatenate([heads[fwd], tails[bwd]]))),
        shape=(n_nodes, n_nodes),
    )  # fmt: skip
    _, label = connected_components(residual, directed=True, connection="strong")
    inside = np.flatnonzero(label[tails] == label[heads])
    if len(inside) == 0:
        return flows
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
    return flows


def _solve_scipy(n: int, k: int, lt: np.ndarray, ls: np.ndarray, cost: np.ndarray,
                 cap: np.ndarray) -> np.ndarray:  # fmt: skip
    """Assignment with one column per usable seat and a private "unplaced" column each.

    A slot gets ``min(free seats, candidates)`` columns. Dense ``linear_sum_assignment``
    for small problems, sparse ``min_weight_full_bipartite_matching`` otherwise. Weights
    are shifted by 1 because the sparse solver treats a stored 0 as a missing edge.
    """
    deg = np.bincount(ls, minlength=k)
    seats = np.minimum(cap, deg)
    seat_start = np.concatenate([[0], np.cumsum(seats)[:-1]])
    n_seats = int(seats.sum())
    m = min(n, k)
    weight = cost.astype(np.float64) + 1.0
    penalty = m * (float(cost.max()) + 2.0) + 1.0 if len(cost) else 1.0
    reps = seats[ls]
    rows = np.repeat(lt, reps)
    offset = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    cols = np.repeat(seat_start[ls], reps) + offset
    data = np.repeat(weight, reps)
    n_cols = n_seats + n
    rows = np.concatenate([rows, np.arange(n)])
    cols = np.concatenate([cols, n_seats + np.arange(n)])
    data = np.concatenate([data, np.full(n, penalty)])
    if n * n_cols <= _DENSE_ENTRIES:
        dense = np.full((n, n_cols), np.inf)
        dense[rows, cols] = data
        row_ind, col_ind = linear_sum_assignment(dense)
    else:
        matrix = csr_matrix((data, (rows, cols)), shape=(n, n_cols))
        row_ind, col_ind = min_weight_full_bipartite_matching(matrix)
    seat_slot = np.repeat(np.arange(k), seats)
    placed = col_ind < n_seats
    chosen_keys = row_ind[placed].astype(np.int64) * k + seat_slot[col_ind[placed]]
    return np.isin(lt.astype(np.int64) * k + ls, chosen_keys)


def _backend(method: str, n: int) -> str:
    if method == "auto":
        return "scipy" if n <= _AUTO_SCIPY_TRAINEES else "mcf"
    return method


def integer_costs(prep: Prepared, labels: np.ndarray | None = None, n_comp: int = 0) -> np.ndarray:
    """The integer cost ``q`` of every solver edge (the arguments are kept for callers)."""
    return prep.edges.q[prep.solver]


def assign(
    prep: Prepared,
    method: str = "auto",
    *,
    reduce: bool = True,
    lottery: bool = True,
    timings: dict[str, float] | None = None,
) -> np.ndarray:
    """The slot index given to each trainee by the optimum (-1 if none; locked kept).

    Parameters
    ----------
    prep : Prepared
    method : {"auto", "mcf", "scipy"}
    reduce : bool
        Apply the exact reduction first (tests switch it off to check it).
    lottery : bool
        Break ties with the seeded lottery (:func:`placement.matching.lottery.break_ties`);
        tests switch it off to check the first solve alone.
    timings : dict, optional
        If given, receives the CPU seconds of ``"reduce"`` (components, reduction,
        grouping), ``"flow"`` (the first solves), ``"potentials"`` (the optimal dual) and
        ``"lottery"`` (the tie-break solve), for the benchmarks.
    """
    return optimise(prep, method, reduce=reduce, lottery=lottery, timings=timings)[0]


def optimise(
    prep: Prepared,
    method: str = "auto",
    *,
    reduce: bool = True,
    lottery: bool = True,
    timings: dict[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`assign` and the optimal potentials of its residual graph (None if unused)."""
    out = _first_solve(prep, method, reduce=reduce, timings=timings)
    if not lottery or len(prep.solver) == 0:
        return out, None
    clock = time.process_time()
    e, arr = prep.edges, prep.arr
    pot = potentials(slot_graph(e.t, e.s, e.q, out, arr.s_free))
    if timings is not None:
        timings["potentials"] = time.process_time() - clock
        clock = time.process_time()
    idx = prep.solver
    out = break_ties(e.t[idx], e.s[idx], e.q[idx], e.lottery[idx], out, arr.s_free, pot)
    if timings is not None:
        timings["lottery"] = time.process_time() - clock
    return out, pot


def _first_solve(
    prep: Prepared,
    method: str,
    *,
    reduce: bool,
    timings: dict[str, float] | None,
) -> np.ndarray:
    clock = time.process_time()
    if timings is not None:
        timings.update(reduce=0.0, flow=0.0, potentials=0.0, lottery=0.0)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    arr, e, idx = prep.arr, prep.edges, prep.solver
    out = arr.t_locked.copy()
    n_comp, t_lab, _ = component_labels(prep)
    if len(idx) == 0:
        return out
    cost = integer_costs(prep, t_lab, n_comp)
    t, s = e.t[idx], e.s[idx]
    if reduce:
        fixed, alive = reduce_exact(t, s, cost, arr.s_free, arr.s_key)
    else:
        fixed, alive = np.zeros(len(t), dtype=bool), np.ones(len(t), dtype=bool)
    out[t[fixed]] = s[fixed]
    free = arr.s_free - np.bincount(s[fixed], minlength=len(arr.s_free))

    rest = np.flatnonzero(alive)
    order = rest[_canonical_order(t_lab[t[rest]], arr.t_key[t[rest]], arr.s_key[s[rest]])]
    bounds = np.flatnonzero(np.diff(t_lab[t[order]])) + 1
    if timings is not None:
        timings["reduce"] = time.process_time() - clock
        clock = time.process_time()
    for group in np.split(order, bounds) if len(order) else []:
        gt, gs, gc = t[group], s[group], cost[group]
        # Local numbering in canonical order (the pairs are sorted by trainee key).
        new_t = np.r_[True, gt[1:] != gt[:-1]]
        lt = np.cumsum(new_t) - 1
        n = int(lt[-1]) + 1
        us, ls = np.unique(arr.s_key[gs], return_inverse=True)
        k = len(us)
        slot_of = np.empty(k, dtype=np.int64)
        slot_of[ls] = gs
        if n == 1:
            # One trainee: the cheapest pair (canonical slot order on a tie) is optimal.
            chosen = np.zeros(len(group), dtype=bool)
            chosen[np.lexsort((ls, gc))[0]] = True
        elif _backend(method, n) == "mcf":
            chosen = _solve_mcf(n, k, lt, ls, gc, free[slot_of])
        else:
            chosen = _solve_scipy(n, k, lt, ls, gc, free[slot_of])
        out[gt[chosen]] = gs[chosen]
    if timings is not None:
        timings["flow"] = time.process_time() - clock
    return out


def _canonical_order(lab: np.ndarray, t_key: np.ndarray, s_key: np.ndarray) -> np.ndarray:
    """Argsort by (component, trainee key, slot key); one int64 key when it fits."""
    if len(lab) == 0:
        return np.zeros(0, dtype=np.int64)
    n_t = int(t_key.max()) + 1
    n_s = int(s_key.max()) + 1
    n_l = int(lab.max()) + 1
    if n_l * n_t * n_s < 2**62:
        return np.argsort((lab * n_t + t_key) * n_s + s_key, kind="stable")
    return np.lexsort((s_key, t_key, lab))


def solve(instance: Instance, *, method: str = "auto") -> Result:
    """Solve ``instance`` exactly: most trainees placed, then least total cost.

    Parameters
    ----------
    instance : Instance
        A validated instance (:func:`load_instance`).
    method : {"auto", "mcf", "scipy"}
        ``"mcf"``: OR-Tools ``SimpleMinCostFlow`` with native capacities (maximum flow of
        minimum cost). ``"scipy"``: SciPy assignment (dense ``linear_sum_assignment`` or
        sparse ``min_weight_full_bipartite_matching``) with one column per usable seat.
        ``"auto"``: SciPy for tiny components, OR-Tools otherwise. All give the same
        assignment: the seeded lottery breaks ties among the same set of optima.
        Ignored in the stable mode.

    Returns
    -------
    Result
        Every trainee once; locked pairs included with ``locked=True``. In the stable
        mode (``instance.mode == "stable"``) the trainee-optimal stable matching
        (:mod:`placement.matching.stable`) with its ``lottery``; in the optimal mode with
        ``seat_values`` when ``instance.seat_values`` asks.
    """
    start = time.perf_counter()
    prep = prepare_mode(instance)
    pot = None
    if instance.mode == "stable":
        slot_of = deferred_acceptance(prep.arr, prep.edges)
    else:
        slot_of, pot = optimise(prep, method)
    remember_solve(instance, prep, pot)  # explanations of this result reuse them
    return assemble_mode(prep, slot_of, time.perf_counter() - start, pot=pot)
