"""Candidate (trainee, slot) pairs of an instance: eligibility and costs, on edge arrays.

The records are read into arrays by :mod:`placement.matching.arrays` (re-exported here, so
``from .problem import Arrays, build_arrays, id_hashes`` keeps working). Everything per pair
is computed on edge arrays with numpy; the only Python-level work is translating the ids of
the preference lists to positions with one dictionary look-up each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, repeat
from operator import attrgetter

import numpy as np

from .arrays import Arrays, _mix, build_arrays, canonical_key, id_hashes, norm_skill
from .geo import EARTH_RADIUS_KM
from .instance import PREFERENCE_POSITIONS, Instance

__all__ = [
    "AVAILABILITY", "DBS", "DISTANCE", "EXCLUDED", "LEVEL", "LOTTERY_BITS", "OK", "Q_BUDGET",
    "RULES", "Arrays", "Edges", "_mix", "build_arrays", "candidate_edges", "canonical_key",
    "cost_edges", "eligible", "failed_rule", "id_hashes", "missing_skill_fraction", "norm_skill",
    "pair_distance_km", "quantum", "ranked_pairs",
]  # fmt: skip

# Eligibility rules, in the order they are checked and reported.
OK, LEVEL, AVAILABILITY, DBS, DISTANCE, EXCLUDED = range(6)
RULES = ("ok", "level", "availability", "dbs", "distance", "excluded")

# Largest quantised cost of one pair (see `quantum`).
Q_BUDGET = 2**20
# Bits of each pair's seeded lottery draw (see placement.matching.lottery).
LOTTERY_BITS = 32
# Trainees per block when every eligible pair is a candidate (allow_unranked).
_BLOCK = 2048


@dataclass(frozen=True)
class Edges:
    """Candidate (trainee, slot) pairs with their cost terms (weighted) and integer cost."""

    t: np.ndarray  # int64 trainee index
    s: np.ndarray  # int64 slot index
    rank: np.ndarray  # trainee's rank of the slot, 0 when unranked
    emp_rank: np.ndarray  # employer's rank of the trainee, 0 when unranked
    preference: np.ndarray  # weighted terms, float64
    employer: np.ndarray
    skills: np.ndarray
    distance: np.ndarray
    q: np.ndarray  # int64 quantised cost, round(cost * quantum)
    lottery: np.ndarray  # int64: 32-bit seeded draw of the pair (the tie-break lottery)

    @property
    def cost(self) -> np.ndarray:
        return self.preference + self.employer + self.skills + self.distance

    def take(self, mask: np.ndarray) -> Edges:
        return Edges(*(getattr(self, f)[mask] for f in _EDGE_FIELDS))


_EDGE_FIELDS = (
    "t", "s", "rank", "emp_rank", "preference", "employer", "skills", "distance", "q", "lottery",
)  # fmt: skip


def pair_distance_km(arr: Arrays, t: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Great-circle distance of each pair; 0 for remote slots (their site does not matter).

    The haversine of the central angle is a quarter of the squared chord between the two
    unit vectors, so ``2 R asin(chord / 2)`` is the haversine formula with one
    transcendental per pair instead of five (the unit vectors are computed per record).
    """
    tx, sx = arr.t_xyz, arr.s_xyz
    d = tx[0][t] - sx[0][s]
    chord2 = d * d
    d = tx[1][t] - sx[1][s]
    chord2 += d * d
    d = tx[2][t] - sx[2][s]
    chord2 += d * d
    with np.errstate(invalid="ignore"):  # remote slots may have no site (NaN)
        km = (2.0 * EARTH_RADIUS_KM) * np.arcsin(np.sqrt(np.clip(chord2 * 0.25, 0.0, 1.0)))
    return np.where(arr.s_remote[s], 0.0, km)


def failed_rule(arr: Arrays, t: np.ndarray, s: np.ndarray, km: np.ndarray) -> np.ndarray:
    """The first hard rule each pair breaks (``OK`` when eligible), vectorised.

    Order: level, availability (the whole slot period), DBS, distance (unless remote),
    coordinator exclusion.
    """
    n_s = len(arr.s_cap)
    rule = np.full(len(t), OK, dtype=np.int8)
    excluded = _member(t * n_s + s, arr.excluded_keys)
    far = ~arr.s_remote[s] & ~(km <= arr.t_travel[t])
    no_dbs = arr.s_dbs[s] & ~arr.t_dbs[t]
    unavailable = (arr.t_from[t] > arr.s_start[s]) | (arr.t_to[t] < arr.s_end[s])
    low = arr.t_level[t] < arr.s_level[s]
    # Assign in reverse order so that the first failing rule wins.
    rule[excluded] = EXCLUDED
    rule[far] = DISTANCE
    rule[no_dbs] = DBS
    rule[unavailable] = AVAILABILITY
    rule[low] = LEVEL
    return rule


def eligible(arr: Arrays, t: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the eligible pairs (``failed_rule == OK``) and their distances.

    The same rules as :func:`failed_rule`, checked cheapest first so that the distance is
    only computed for pairs that pass level, availability and DBS.
    """
    ok = arr.t_level[t] >= arr.s_level[s]
    ok &= arr.t_from[t] <= arr.s_start[s]
    ok &= arr.t_to[t] >= arr.s_end[s]
    ok &= arr.t_dbs[t] | ~arr.s_dbs[s]
    idx = np.flatnonzero(ok)
    t, s = t[idx], s[idx]
    km = pair_distance_km(arr, t, s)
    ok = (km <= arr.t_travel[t]) | arr.s_remote[s]
    if len(arr.excluded_keys):
        check = np.flatnonzero(arr.t_has_excluded[t])
        n_s = len(arr.s_cap)
        ok[check] &= ~_member(t[check] * n_s + s[check], arr.excluded_keys)
    return idx[ok], km[ok]


def _member(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """``np.isin`` for a small sorted right-hand side (binary search, no sort of ``keys``)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def ranked_pairs(instance: Instance, arr: Arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (trainee, slot, rank) of the preference lists; absent slots are skipped."""
    s_index = arr.s_index
    prefs = list(map(attrgetter("preferences"), instance.trainees))
    counts = np.fromiter(map(len, prefs), np.int64, len(prefs))
    total = int(counts.sum())
    known = getattr(instance, PREFERENCE_POSITIONS, None)  # set by the validator
    if known is not None and len(known) == total:
        s = known.copy()  # the edges own their arrays
    else:
        try:
            s = np.fromiter(map(s_index.__getitem__, chain.from_iterable(prefs)), np.int64, total)
        except KeyError:  # a sub-instance: some ranked slots belong to other components
            flat = chain.from_iterable(prefs)
            s = np.fromiter(map(s_index.get, flat, repeat(-1)), np.int64, total)
    t = np.repeat(np.arange(len(prefs), dtype=np.int64), counts)
    rank = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    if total and int(s.min()) < 0:
        keep = s >= 0
        return t[keep], s[keep], rank[keep]
    return t, s, rank


def _employer_ranks(arr: Arrays, t: np.ndarray, s: np.ndarray) -> np.ndarray:
    out = np.zeros(len(t), dtype=np.int64)
    if len(arr.emp_keys) == 0:
        return out
    idx = np.flatnonzero(arr.s_ranks[s])
    keys = s[idx] * len(arr.t_level) + t[idx]
    pos = np.minimum(np.searchsorted(arr.emp_keys, keys), len(arr.emp_keys) - 1)
    hit = arr.emp_keys[pos] == keys
    out[idx[hit]] = arr.emp_rank[pos[hit]]
    return out


def missing_skill_fraction(arr: Arrays, t: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Fraction of each slot's required skills that the trainee lacks (0 if none required)."""
    n_req = arr.s_n_req[s]
    if not n_req.any():
        return np.zeros(len(t), dtype=np.float64)
    if arr.t_bits is not None and arr.s_bits is not None:
        missing = np.zeros(len(t), dtype=np.int64)
        for w in range(arr.t_bits.shape[0]):
            missing += np.bitwise_count(arr.s_bits[w][s] & ~arr.t_bits[w][t])
        lacking = missing.astype(np.float64)
    else:
        total = int(n_req.sum())
        edge = np.repeat(np.arange(len(t)), n_req)
        offset = np.arange(total) - np.repeat(np.cumsum(n_req) - n_req, n_req)
        skill = arr.s_req_idx[np.repeat(arr.s_req_ptr[s], n_req) + offset]
        has = _member(t[edge] * arr.n_skills + skill, arr.t_skill_keys)
        lacking = n_req - np.bincount(edge, weights=has, minlength=len(t))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_req > 0, lacking / n_req, 0.0)


def quantum(instance: Instance) -> float:
    """Integer units per unit of cost.

    The largest power of ten (at most 10**6) that keeps the dearest possible pair within
    ``Q_BUDGET`` units, so decimal weights (0.25, 0.1) and rank costs stay exact. It depends
    on the weights, ``max_preferences`` and the longest employer ranking only, never on the
    number of records, so a component solved alone is costed exactly as inside the round.
    """
    w = instance.weights
    unranked = (instance.max_preferences + 1) ** 2
    # An employer may rank more trainees than max_preferences: its r*r can pass `unranked`.
    longest = max((len(s.rankings) for s in instance.slots), default=0)
    dearest = (
        w["preference"] * unranked
        + w["employer"] * max(unranked, longest**2)
        + w["skills"]
        + w["distance"]
    )
    if dearest <= 0:
        return 1.0
    for k in range(6, -1, -1):
        if dearest * 10**k <= Q_BUDGET:
            return float(10**k)
    return Q_BUDGET / dearest


def cost_edges(
    instance: Instance,
    arr: Arrays,
    t: np.ndarray,
    s: np.ndarray,
    rank: np.ndarray,
    km: np.ndarray | None = None,
) -> Edges:
    """Cost terms of candidate pairs exactly as DESIGN.md defines them, weighted."""
    w = instance.weights
    unranked = float((instance.max_preferences + 1) ** 2)
    emp = _employer_ranks(arr, t, s)
    pref_raw = np.where(rank > 0, rank.astype(np.float64) ** 2, unranked)
    emp_raw = np.where(emp > 0, emp.astype(np.float64) ** 2, unranked)
    if km is None:
        km = pair_distance_km(arr, t, s)
    dist_raw = np.where(arr.s_remote[s], 0.0, km / arr.t_travel[t])
    skills_raw = missing_skill_fraction(arr, t, s)
    preference = w["preference"] * pref_raw
    employer = w["employer"] * emp_raw
    skills = w["skills"] * skills_raw
    distance = w["distance"] * dist_raw
    q = np.rint((preference + employer + skills + distance) * quantum(instance)).astype(np.int64)
    lottery = (_mix(arr.t_hash[t] ^ _mix(arr.s_hash)[s]) >> np.uint64(64 - LOTTERY_BITS)).astype(
        np.int64
    )
    return Edges(t, s, rank, emp, preference, employer, skills, distance, q, lottery)


def _unranked_blocks(instance: Instance, arr: Arrays) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every (trainee, slot) pair, a block of trainees at a time (bounded memory)."""
    n_s = len(arr.s_cap)
    free_trainees = np.flatnonzero(arr.t_locked < 0)
    for start in range(0, len(free_trainees), _BLOCK):
        block = free_trainees[start : start + _BLOCK]
        yield np.repeat(block, n_s), np.tile(np.arange(n_s, dtype=np.int64), len(block))


def candidate_edges(instance: Instance, arr: Arrays) -> Edges:
    """Candidate pairs of the trainees who are not locked, with their costs.

    Ranked pairs only, unless ``allow_unranked``: then every eligible pair, computed a block
    of trainees at a time so the trainee x slot matrix is never held in memory.
    """
    t, s, rank = ranked_pairs(instance, arr)
    if bool((arr.t_locked >= 0).any()):
        free = np.flatnonzero(arr.t_locked[t] < 0)
        t, s, rank = t[free], s[free], rank[free]
    ok, km = eligible(arr, t, s)
    t, s, rank = t[ok], s[ok], rank[ok]
    if instance.allow_unranked:
        n_s = len(arr.s_cap)
        ranked_keys = np.sort(t * n_s + s)
        parts_t, parts_s, parts_km = [t], [s], [km]
        for bt, bs in _unranked_blocks(instance, arr):
            keep, bkm = eligible(arr, bt, bs)
            bt, bs = bt[keep], bs[keep]
            new = ~_member(bt * n_s + bs, ranked_keys)
            parts_t.append(bt[new])
            parts_s.append(bs[new])
            parts_km.append(bkm[new])
        t = np.concatenate(parts_t)
        s = np.concatenate(parts_s)
        km = np.concatenate(parts_km)
        rank = np.concatenate([rank, np.zeros(len(t) - len(rank), dtype=np.int64)])
    return cost_edges(instance, arr, t, s, rank, km)
