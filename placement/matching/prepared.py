"""An instance as arrays with its candidate pairs, and the connected components of the
graph of pairs the solver may use: what the solver, the assembly of results and the
diagnostics share."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .instance import Instance
from .problem import Arrays, Edges, build_arrays, candidate_edges


@dataclass(frozen=True)
class Prepared:
    """Arrays, candidate edges and solver edges of an instance (internal)."""

    instance: Instance
    arr: Arrays
    edges: Edges  # every candidate pair of an unlocked trainee
    solver: np.ndarray  # indices of the candidate edges into slots with a free seat


def prepare(instance: Instance) -> Prepared:
    """Build arrays and candidate edges; vectorised apart from reading the records."""
    arr = build_arrays(instance)
    edges = candidate_edges(instance, arr)
    solver = np.flatnonzero(arr.s_free[edges.s] > 0)
    return Prepared(instance, arr, edges, solver)


def prepare_mode(instance: Instance) -> Prepared:
    """:func:`prepare` for the instance's mode: the stable mode uses ranked pairs only."""
    if instance.mode == "stable":
        return prepare(replace(instance, allow_unranked=False))
    return prepare(instance)


# What the last solve of each live instance built: (arrays, edges, solver, potentials).
# Kept without the instance itself, so that the entry goes when the instance does.
_SOLVED: dict[int, tuple[Arrays, Edges, np.ndarray, np.ndarray | None]] = {}


def remember_solve(instance: Instance, prep: Prepared, pot: np.ndarray | None) -> None:
    """Keep the arrays and optimal potentials of ``solve(instance)`` for as long as
    ``instance`` lives, so that explaining its result does not build them again."""
    key = id(instance)
    if key not in _SOLVED:
        weakref.finalize(instance, _SOLVED.pop, key, None)
    _SOLVED[key] = (prep.arr, prep.edges, prep.solver, pot)


def recall_solve(instance: Instance) -> tuple[Prepared, np.ndarray | None] | None:
    """What :func:`remember_solve` kept for this very instance object, or None."""
    kept = _SOLVED.get(id(instance))
    if kept is None:
        return None
    arr, edges, solver, pot = kept
    return Prepared(instance, arr, edges, solver), pot


def component_labels(prep: Prepared) -> tuple[int, np.ndarray, np.ndarray]:
    """Connected components of the solver graph: (count, trainee labels, slot labels).

    Trainees and slots without a solver edge get the label -1.
    """
    n_t, n_s = len(prep.arr.t_level), len(prep.arr.s_cap)
    et, es = prep.edges.t[prep.solver], prep.edges.s[prep.solver]
    graph = csr_matrix(
        (np.ones(len(et), dtype=np.int8), (et, n_t + es)), shape=(n_t + n_s, n_t + n_s)
    )
    _, labels = connected_components(graph, directed=False)
    touched = np.zeros(n_t + n_s, dtype=bool)
    touched[et] = True
    touched[n_t + es] = True
    # Renumber the touched components 0..k-1 by their first member (stable, order-free
    # enough: labels only group, they never decide an assignment).
    uniq, first = np.unique(labels[touched], return_index=True)
    remap = np.full(labels.max() + 1 if len(labels) else 0, -1, dtype=np.int64)
    remap[uniq[np.argsort(first)]] = np.arange(len(uniq))
    out = np.where(touched, remap[labels], -1)
    return len(uniq), out[:n_t], out[n_t:]
