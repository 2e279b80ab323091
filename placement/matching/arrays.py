"""An :class:`Instance` as numpy arrays: one column per record attribute, in instance order.

Trainees and slots are numbered by their position in the instance here, once; ids stay
outside the arrays (``t_index``/``s_index``) and are translated back in
:mod:`placement.matching.assembly`. The only Python-level work is reading each record
attribute once (``map`` over the records) and translating the ids of the ranking lists to
positions with one dictionary look-up each. The candidate pairs and their costs are in
:mod:`placement.matching.problem`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

import numpy as np

from .instance import Id, Instance, Slot, Trainee


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
