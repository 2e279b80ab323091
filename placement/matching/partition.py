"""Split an instance into independent parts (for solving on several workers) and merge
their results; the merge equals ``solve(instance)`` apart from ``solve_seconds``."""

from __future__ import annotations

import numpy as np

from .assembly import assemble_mode
from .instance import Instance, Pair
from .prepared import component_labels, prepare, prepare_mode
from .result import Result


def components(instance: Instance) -> list[Instance]:
    """Split ``instance`` into independent sub-instances, for solving in parallel.

    One sub-instance per connected component of the candidate graph (pairs into slots with
    a free seat), with the locked pairs of its slots, and a last one (if needed) with every
    trainee and slot outside them. Preference and ranking lists are kept whole, so ranks and
    costs are unchanged; :func:`merge_results` puts the solved parts back together, equal to
    ``solve(instance)`` apart from ``solve_seconds``.

    Parameters
    ----------
    instance : Instance

    Returns
    -------
    list of Instance
    """
    prep = prepare(instance)
    arr = prep.arr
    n_comp, t_lab, s_lab = component_labels(prep)
    locked_t = np.flatnonzero(arr.t_locked >= 0)
    t_lab = t_lab.copy()
    t_lab[locked_t] = s_lab[arr.t_locked[locked_t]]
    t_groups = _group(t_lab, n_comp + 1)
    s_groups = _group(s_lab, n_comp + 1)
    parts = []
    for c in range(n_comp + 1):
        ts, ss = t_groups[c], s_groups[c]
        if len(ts) == 0 and len(ss) == 0:
            continue
        t_ids = {instance.trainees[i].id for i in ts}
        s_ids = {instance.slots[i].id for i in ss}
        parts.append(
            Instance(
                trainees=tuple(instance.trainees[i] for i in ts),
                slots=tuple(instance.slots[i] for i in ss),
                locked=tuple(p for p in instance.locked if p.slot_id in s_ids),
                excluded=tuple(
                    Pair(p.trainee_id, p.slot_id)
                    for p in instance.excluded
                    if p.trainee_id in t_ids and p.slot_id in s_ids
                ),
                weights=dict(instance.weights),
                max_preferences=instance.max_preferences,
                allow_unranked=instance.allow_unranked,
                seed=instance.seed,
                mode=instance.mode,
                seat_values=instance.seat_values,
            )
        )
    return parts


def _group(labels: np.ndarray, n: int) -> list[np.ndarray]:
    """Indices per label 0..n-2, and the unlabelled (-1) ones last."""
    lab = np.where(labels < 0, n - 1, labels)
    order = np.argsort(lab, kind="stable")
    counts = np.bincount(lab, minlength=n)
    return np.split(order, np.cumsum(counts)[:-1])


def merge_results(instance: Instance, results: list[Result]) -> Result:
    """Combine the results of the parts of :func:`components` into one result.

    Parameters
    ----------
    instance : Instance
        The whole instance that was split.
    results : list of Result
        One result per part, in any order.

    Returns
    -------
    Result
        Equal to ``solve(instance)`` except ``solve_seconds``, the sum over the parts, in
        either mode; the seat values (when asked) are computed here on the whole round.
    """
    prep = prepare_mode(instance)
    slot_of = np.full(len(prep.arr.t_level), -1, dtype=np.int64)
    for result in results:
        for a in result.assignments:
            slot_of[prep.arr.t_index[a.trainee_id]] = prep.arr.s_index[a.slot_id]
    seconds = sum(r.stats.solve_seconds for r in results)
    return assemble_mode(prep, slot_of, seconds)
