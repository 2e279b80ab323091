"""From an :class:`Instance` to arrays: eligibility, candidate edges and their costs.

Ids stay outside the arrays: trainees and slots are numbered by their position in the
instance here, once, and translated back in :mod:`placement.matching.assembly`. Everything
per pair is computed on edge arrays with numpy; the only Python-level work is reading each
record attribute once (``map`` over the records, no per-pair loop) and translating the ids
of the preference and ranking lists to positions with one dictionary look-up each.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

import numpy as np

from .geo import EARTH_RADIUS_KM
from .instance import Id, Instance, Slot, Trainee

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
class Arrays:
    """Per-record attributes of an instance as numpy arrays, in instance order."""

    t_level: np.ndarray
    t_lat: np.ndarray  # radians
    t_lon: np.ndarray
    t_travel: np.ndarray
    t_from: np.ndarray  # proleptic ordinals
    t_to: np.ndarray
    t_dbs: np.ndarray
    t_locked: np.ndarray  # slot index of a locked pair, or -1
    t_hash: np.ndarray  # uint64, seeded hash of the id
    t_key: np.ndarray  # canonical position: order that does not depend on the file
    s_cap: np.ndarray
    s_free: np.ndarray  # capacity minus locked pairs
    s_level: np.ndarray
    s_lat: np.ndarray
    s_lon: np.ndarray
    s_remote: np.ndarray
    s_dbs: np.ndarray
    s_start: np.ndarray
    s_end: np.ndarray
    s_hash: np.ndarray
    s_key: np.ndarray
    t_index: dict[Id, int]
    s_index: dict[Id, int]
    excluded_keys: np.ndarray  # sorted t * n_slots + s
    emp_keys: np.ndarray  # sorted s * n_trainees + t
    emp_rank: np.ndarray  # employer rank aligned with emp_keys
    t_skill_keys: np.ndarray  # sorted t * n_skills + skill (only when bitsets are not used)
    s_req_ptr: np.ndarray  # CSR of each slot's distinct required skills
    s_req_idx: np.ndarray
    n_skills: int
    t_xyz: np.ndarray  # (3, n_t) unit vectors of the homes
    s_xyz: np.ndarray  # (3, n_s) unit vectors of the sites (NaN without a site)
    t_bits: np.ndarray | None  # (words, n_t) uint64 skill bitsets, or None if too many skills
    s_bits: np.ndarray | None  # (words, n_s) required-skill bitsets
    s_n_req: np.ndarray  # distinct required skills per slot
    t_has_excluded: np.ndarray  # bool: the trainee has a coordinator exclusion
    s_ranks: np.ndarray  # bool: the slot's employer ranked someone


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


def canonical_key(value: Id) -> tuple[int, int | str]:
    """Sort key for ids of mixed type: integers before strings, then by value."""
    return (0, value) if isinstance(value, int) else (1, value)


def id_hashes(ids: list[Id], seed: int) -> np.ndarray:
    """Seeded 64-bit FNV-1a hashes of ids, vectorised and the same in every process.

    Integers and strings hash differently (``7`` is not ``"7"``).
    """
    n = len(ids)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    # The bytes hashed per id are b"i" or b"s", then str(id) in UTF-8, zero-padded to the
    # longest; built as one matrix without a per-id bytes object.
    texts = list(map(str, ids))
    joined = "".join(texts)
    if joined.isascii():
        data = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
        lens = np.fromiter(map(len, texts), np.int64, n)
    else:
        encoded = [x.encode() for x in texts]
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        lens = np.fromiter(map(len, encoded), np.int64, n)
    width = int(lens.max()) + 1
    mat = np.zeros((n, width), dtype=np.uint8)
    is_int = np.fromiter(map(isinstance, ids, repeat(int)), np.bool_, n)
    mat[:, 0] = np.where(is_int, ord("i"), ord("s"))
    rows = np.repeat(np.arange(n), lens)
    cols = np.arange(len(data)) - np.repeat(np.cumsum(lens) - lens, lens) + 1
    mat[rows, cols] = data
    raw_lens = lens + 1
    h = np.full(n, 0xCBF29CE484222325 ^ (seed & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    for col in range(width):
        h = (h ^ mat[:, col].astype(np.uint64)) * prime
    h = (h ^ raw_lens.astype(np.uint64)) * prime
    return _mix(h)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads every input bit over the output (wrapping uint64)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _positions(ids: list[Id], hashes: np.ndarray) -> np.ndarray:
    """Canonical position of each record: by id hash, so it ignores the file's order.

    Hash order rather than id order so that any residual tie does not favour low ids.
    """
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    if len(sorted_h) > 1 and bool(np.any(sorted_h[1:] == sorted_h[:-1])):
        # A 64-bit collision: settle it by the ids themselves, still order-independent.
        keys = [canonical_key(i) for i in ids]
        order = np.asarray(sorted(range(len(ids)), key=lambda i: (int(hashes[i]), keys[i])))
    pos = np.empty(len(ids), dtype=np.int64)
    pos[order] = np.arange(len(ids))
    return pos


def norm_skill(skill: str) -> str:
    """Skills are compared trimmed and case-insensitively."""
    return skill.strip().casefold()


def _column(records: Sequence[object], name: str, dtype: type, n: int) -> np.ndarray:
    return np.fromiter(map(attrgetter(name), records), dtype, n)


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(3, n) unit vectors of points given in radians (NaN stays NaN)."""
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)])


def build_arrays(instance: Instance) -> Arrays:
    """Read the records of ``instance`` into numpy arrays (one pass per attribute)."""
    trainees, slots = instance.trainees, instance.slots
    n_t, n_s = len(trainees), len(slots)
    t_ids = [t.id for t in trainees]
    s_ids = [s.id for s in slots]
    t_index = dict(zip(t_ids, range(n_t), strict=True))
    s_index = dict(zip(s_ids, range(n_s), strict=True))

    t_level = _column(trainees, "level", np.int64, n_t)
    t_lat = np.radians(_column(trainees, "latitude", np.float64, n_t))
    t_lon = np.radians(_column(trainees, "longitude", np.float64, n_t))
    t_travel = _column(trainees, "max_travel_km", np.float64, n_t)
    toordinal = date.toordinal
    t_from = np.fromiter(map(toordinal, map(attrgetter("available_from"), trainees)), np.int64, n_t)
    t_to = np.fromiter(map(toordinal, map(attrgetter("available_to"), trainees)), np.int64, n_t)
    t_dbs = _column(trainees, "dbs_cleared", np.bool_, n_t)

    s_cap = _column(slots, "capacity", np.int64, n_s)
    s_level = _column(slots, "min_level", np.int64, n_s)
    s_lat = np.radians(np.array([np.nan if s.latitude is None else s.latitude for s in slots],
                                dtype=np.float64))  # fmt: skip
    s_lon = np.radians(np.array([np.nan if s.longitude is None else s.longitude for s in slots],
                                dtype=np.float64))  # fmt: skip
    s_remote = _column(slots, "remote", np.bool_, n_s)
    s_dbs = _column(slots, "requires_dbs", np.bool_, n_s)
    s_start = np.fromiter(map(toordinal, map(attrgetter("starts_on"), slots)), np.int64, n_s)
    s_end = np.fromiter(map(toordinal, map(attrgetter("ends_on"), slots)), np.int64, n_s)

    t_locked = np.full(n_t, -1, dtype=np.int64)
    s_free = s_cap.copy()
    for pair in instance.locked:
        ti, si = t_index.get(pair.trainee_id), s_index.get(pair.slot_id)
        if ti is not None and si is not None:
            t_locked[ti] = si
            s_free[si] -= 1

    ex = [
        t_index[p.trainee_id] * n_s + s_index[p.slot_id]
        for p in instance.excluded
        if p.trainee_id in t_index and p.slot_id in s_index
    ]
    excluded_keys = np.unique(np.asarray(ex, dtype=np.int64))
    t_has_excluded = np.zeros(n_t, dtype=bool)
    t_has_excluded[excluded_keys // max(n_s, 1)] = True

    rankings = list(map(attrgetter("rankings"), slots))
    r_counts = np.fromiter(map(len, rankings), np.int64, n_s)
    r_total = int(r_counts.sum())
    r_t = np.fromiter(
        map(t_index.get, chain.from_iterable(rankings), repeat(-1)), np.int64, r_total
    )
    r_s = np.repeat(np.arange(n_s, dtype=np.int64), r_counts)
    r_rank = np.arange(r_total, dtype=np.int64) - np.repeat(
        np.cumsum(r_counts) - r_counts, r_counts
    )
    present = r_t >= 0
    emp_keys = r_s[present] * n_t + r_t[present]
    order = np.argsort(emp_keys, kind="stable")
    emp_keys, emp_rank = emp_keys[order], (r_rank[present] + 1)[order]
    s_ranks = np.zeros(n_s, dtype=bool)
    s_ranks[r_s[present]] = True

    skills = _skill_arrays(trainees, slots)

    t_hash = id_hashes(t_ids, instance.seed)
    s_hash = id_hashes(s_ids, instance.seed ^ 0x5EED)
    return Arrays(
        t_level=t_level, t_lat=t_lat, t_lon=t_lon, t_travel=t_travel, t_from=t_from,
        t_to=t_to, t_dbs=t_dbs, t_locked=t_locked, t_hash=t_hash,
        t_key=_positions(t_ids, t_hash),
        s_cap=s_cap, s_free=s_free, s_level=s_level, s_lat=s_lat, s_lon=s_lon,
        s_remote=s_remote, s_dbs=s_dbs, s_start=s_start, s_end=s_end, s_hash=s_hash,
        s_key=_positions(s_ids, s_hash),
        t_index=t_index, s_index=s_index, excluded_keys=excluded_keys, emp_keys=emp_keys,
        emp_rank=emp_rank, **skills,
        t_xyz=_unit_vectors(t_lat, t_lon), s_xyz=_unit_vectors(s_lat, s_lon),
        t_has_excluded=t_has_excluded, s_ranks=s_ranks,
    )  # fmt: skip


# Skill bitsets are used up to this many distinct (normalised) skills; beyond, sorted keys.
_MAX_BITSET_SKILLS = 256


def _skill_arrays(trainees: Sequence[Trainee], slots: Sequence[Slot]) -> dict[str, Any]:
    """Skills as bitsets (a few uint64 words per record), or sorted keys for huge vocabularies."""
    n_t, n_s = len(trainees), len(slots)
    t_lists = list(map(attrgetter("skills"), trainees))
    s_lists = list(map(attrgetter("required_skills"), slots))
    t_counts = np.fromiter(map(len, t_lists), np.int64, n_t)
    s_counts = np.fromiter(map(len, s_lists), np.int64, n_s)
    t_flat = list(chain.from_iterable(t_lists))
    s_flat = list(chain.from_iterable(s_lists))
    vocab: dict[str, int] = {}
    raw_ids: dict[str, int] = {}  # raw spelling -> id: normalise each spelling once
    for raw in sorted(set(t_flat).union(s_flat)):
        raw_ids[raw] = vocab.setdefault(norm_skill(raw), len(vocab))
    n_skills = max(len(vocab), 1)
    t_sk = np.fromiter(map(raw_ids.__getitem__, t_flat), np.int64, len(t_flat))
    s_sk = np.fromiter(map(raw_ids.__getitem__, s_flat), np.int64, len(s_flat))
    t_owner = np.repeat(np.arange(n_t, dtype=np.int64), t_counts)
    s_owner = np.repeat(np.arange(n_s, dtype=np.int64), s_counts)
    empty = np.zeros(0, dtype=np.int64)
    if n_skills <= _MAX_BITSET_SKILLS:
        words = (n_skills + 63) // 64
        t_bits = np.zeros((words, n_t), dtype=np.uint64)
        s_bits = np.zeros((words, n_s), dtype=np.uint64)
        one = np.uint64(1)
        np.bitwise_or.at(t_bits, (t_sk >> 6, t_owner), one << (t_sk & 63).astype(np.uint64))
        np.bitwise_or.at(s_bits, (s_sk >> 6, s_owner), one << (s_sk & 63).astype(np.uint64))
        s_n_req = np.bitwise_count(s_bits).sum(axis=0, dtype=np.int64)
        return {
            "t_skill_keys": empty, "s_req_ptr": np.zeros(n_s + 1, dtype=np.int64),
            "s_req_idx": empty, "n_skills": n_skills, "t_bits": t_bits, "s_bits": s_bits,
            "s_n_req": s_n_req,
        }  # fmt: skip
    # Sorted (not deduplicated): only ever searched with binary search.
    t_skill_keys = np.sort(t_owner * n_skills + t_sk)
    s_keys = np.unique(s_owner * n_skills + s_sk)  # distinct required skills per slot
    s_n_req = np.bincount(s_keys // n_skills, minlength=n_s).astype(np.int64)
    s_req_ptr = np.zeros(n_s + 1, dtype=np.int64)
    s_req_ptr[1:] = np.cumsum(s_n_req)
    return {
        "t_skill_keys": t_skill_keys, "s_req_ptr": s_req_ptr, "s_req_idx": s_keys % n_skills,
        "n_skills": n_skills, "t_bits": None, "s_bits": None, "s_n_req": s_n_req,
    }  # fmt: skip


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
