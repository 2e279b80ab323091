"""The stable mode: trainee-proposing deferred acceptance with slot capacities.

Candidates are the pairs every hard rule allows that the trainee ranked (a trainee's
preferences are their ranked list only; ``allow_unranked`` and the weights play no part).
Locked pairs stay and take their seats. Each slot orders trainees by
:func:`placement.matching.lottery.priorities`: the employer's ranking first, then everyone
else in the seeded lottery order. Priorities are strict, so the result is *the*
trainee-optimal stable matching (Gale and Shapley 1962; Roth 1984 for capacities): no
trainee and slot would both rather have each other, and no stable matching gives any
trainee a slot they rank higher. Anyone holding the lottery can recompute it.

Vectorised rounds (McVitie and Wilson: the order of proposals does not change the
outcome): every trainee without a held offer proposes to the next slot on their list; each
slot that received proposals keeps the best of its held and new proposers up to its free
seats and rejects the rest. Before proposing, a trainee skips every slot that is full with
trainees it prefers to them (its worst held priority only improves, so that slot would
reject them anyway); this is what keeps the number of rounds small.
"""

from __future__ import annotations

import numpy as np

from .lottery import priorities
from .problem import Arrays, Edges

_NONE = np.iinfo(np.int64).max


def deferred_acceptance(arr: Arrays, edges: Edges) -> np.ndarray:
    """The trainee-optimal stable placement: slot index per trainee (-1 if none).

    Parameters
    ----------
    arr : Arrays
    edges : Edges
        The ranked candidate pairs of the unlocked trainees (``rank > 0``).

    Returns
    -------
    ndarray
        Slot index of each trainee; locked trainees keep their slot.
    """
    out = arr.t_locked.copy()
    free = arr.s_free
    keep = np.flatnonzero((edges.rank > 0) & (free[edges.s] > 0))
    if len(keep) == 0:
        return out
    t, s = edges.t[keep], edges.s[keep]
    order = np.lexsort((edges.rank[keep], t))
    t, s = t[order], s[order]
    prio = priorities(arr, t, edges.emp_rank[keep][order])
    n_t, n_s = len(out), len(free)
    span = int(prio.max()) + 1

    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    ends = np.r_[starts[1:], len(t)]
    who = t[starts]
    nxt = np.full(n_t, 0, dtype=np.int64)  # next edge to propose (for trainees with edges)
    end = np.zeros(n_t, dtype=np.int64)
    nxt[who] = starts
    end[who] = ends
    cutoff = np.full(n_s, _NONE, dtype=np.int64)  # worst held priority of a full slot
    held = np.zeros(0, dtype=np.int64)  # edge indices currently held
    proposers = who
    while len(proposers):
        # Skip slots that are full with better trainees.
        while True:
            cur = nxt[proposers]
            hopeless = cutoff[s[cur]] < prio[cur]
            if not hopeless.any():
                break
            nxt[proposers[hopeless]] += 1
            proposers = proposers[nxt[proposers] < end[proposers]]
            if len(proposers) == 0:
                break
        if len(proposers) == 0:
            break
        new = nxt[proposers]
        touched = np.zeros(n_s, dtype=bool)
        touched[s[new]] = True
        at_touched = touched[s[held]]
        pool = np.concatenate([held[at_touched], new])
        key = s[pool] * span + prio[pool]
        pool = pool[np.argsort(key, kind="stable")]
        ps = s[pool]
        first = np.r_[True, ps[1:] != ps[:-1]]
        group_start = np.flatnonzero(first)
        pos = np.arange(len(pool)) - np.repeat(group_start, np.diff(np.r_[group_start, len(pool)]))
        accepted = pos < free[ps]
        held = np.concatenate([held[~at_touched], pool[accepted]])
        # A slot that is now full: its cutoff is its worst held priority.
        last = np.flatnonzero(accepted & (pos == free[ps] - 1))
        cutoff[ps[last]] = prio[pool[last]]
        rejected = t[pool[~accepted]]
        nxt[rejected] += 1
        proposers = rejected[nxt[rejected] < end[rejected]]
    out[t[held]] = s[held]
    return out
