"""Helpers for the matching tests: tiny random instances and an independent brute force.

The brute force re-implements eligibility and costs in plain Python (math, one pair at a
time) so that it checks the vectorised engine rather than reusing it. Only the quantum and
the lottery (both definitions, not computations to verify) come from the engine.
"""

from __future__ import annotations

import itertools
import math
import random
from datetime import date
from typing import Any

import numpy as np

from placement.matching import Instance, load_instance
from placement.matching.problem import _mix, id_hashes, quantum

DATES = ("2027-01-04", "2027-02-01", "2027-03-01", "2027-05-28", "2027-07-02")
SKILLS = ("pipetting", " Pipetting ", "PCR", "cad", "CAD ", "gmp")
WEIGHT_CHOICES: tuple[dict[str, float], ...] = (
    {"preference": 1, "employer": 0, "skills": 0, "distance": 0},
    {},
    {"preference": 1, "employer": 1, "skills": 3, "distance": 2},
    {"preference": 0, "employer": 0, "skills": 0, "distance": 0},
    {"preference": 2.5, "employer": 0.1, "skills": 0, "distance": 7},
)


def tiny_instance(seed: int, *, max_trainees: int = 5, max_slots: int = 3) -> dict[str, Any]:
    """A random, valid, tiny instance document (small enough to enumerate)."""
    rng = random.Random(seed)
    n_t = rng.randint(0, max_trainees)
    n_s = rng.randint(0, max_slots)
    max_prefs = rng.choice([1, 2, 3, 10])
    int_ids = rng.random() < 0.3
    slot_ids: list[Any] = [i + 100 if int_ids else f"s{i}" for i in range(n_s)]
    trainee_ids: list[Any] = [i if int_ids else f"t{i}" for i in range(n_t)]
    rng.shuffle(slot_ids)

    def when() -> tuple[str, str]:
        a, b = sorted(rng.sample(range(len(DATES)), 2))
        return DATES[a], DATES[b]

    slots = []
    for sid in slot_ids:
        start, end = when()
        slots.append(
            {
                "id": sid,
                "capacity": rng.randint(1, 2),
                "min_level": rng.choice([4, 4, 5]),
                "required_skills": rng.sample(SKILLS, rng.randint(0, 2)),
                "latitude": 52.0 + rng.uniform(-0.4, 0.4),
                "longitude": -1.5 + rng.uniform(-0.6, 0.6),
                "remote": rng.random() < 0.2,
                "requires_dbs": rng.random() < 0.3,
                "starts_on": start,
                "ends_on": end,
                "rankings": rng.sample(trainee_ids, rng.randint(0, n_t)),
            }
        )
    trainees = []
    for tid in trainee_ids:
        start, end = when()
        if rng.random() < 0.7:
            start, end = DATES[0], DATES[-1]
        trainees.append(
            {
                "id": tid,
                "level": rng.choice([4, 5, 5]),
                "skills": rng.sample(SKILLS, rng.randint(0, 3)),
                "latitude": 52.0 + rng.uniform(-0.4, 0.4),
                "longitude": -1.5 + rng.uniform(-0.6, 0.6),
                "max_travel_km": rng.choice([10, 30, 60, 120]),
                "available_from": start,
                "available_to": end,
                "dbs_cleared": rng.random() < 0.7,
                "preferences": rng.sample(slot_ids, rng.randint(0, min(n_s, max_prefs))),
            }
        )
    locked = []
    left = {s["id"]: s["capacity"] for s in slots}
    for tid in trainee_ids:
        if slot_ids and rng.random() < 0.15:
            sid = rng.choice(slot_ids)
            if left[sid] > 0:
                left[sid] -= 1
                locked.append({"trainee_id": tid, "slot_id": sid})
    excluded = [
        {"trainee_id": tid, "slot_id": sid}
        for tid in trainee_ids
        for sid in slot_ids
        if rng.random() < 0.1
    ]
    return {
        "format": "placement-instance/1",
        "max_preferences": max_prefs,
        "weights": rng.choice(WEIGHT_CHOICES),
        "allow_unranked": rng.random() < 0.3,
        "trainees": trainees,
        "slots": slots,
        "locked": locked,
        "excluded": excluded,
    }


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    l1, l2 = math.radians(lon1), math.radians(lon2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def pair_terms(inst: Instance, ti: int, si: int) -> dict[str, float] | None:
    """Weighted terms of a candidate pair, or None if the pair is not a candidate."""
    t, s = inst.trainees[ti], inst.slots[si]
    if t.level < s.min_level:
        return None
    if not (t.available_from <= s.starts_on and t.available_to >= s.ends_on):
        return None
    if s.requires_dbs and not t.dbs_cleared:
        return None
    km = 0.0
    if not s.remote:
        assert s.latitude is not None and s.longitude is not None
        km = _km(t.latitude, t.longitude, s.latitude, s.longitude)
        if km > t.max_travel_km:
            return None
    if any(p.trainee_id == t.id and p.slot_id == s.id for p in inst.excluded):
        return None
    unranked = (inst.max_preferences + 1) ** 2
    if s.id in t.preferences:
        pref = (t.preferences.index(s.id) + 1) ** 2
    elif inst.allow_unranked:
        pref = unranked
    else:
        return None
    emp = (s.rankings.index(t.id) + 1) ** 2 if t.id in s.rankings else unranked
    required = {k.strip().casefold() for k in s.required_skills}
    has = {k.strip().casefold() for k in t.skills}
    skills = len(required - has) / len(required) if required else 0.0
    w = inst.weights
    return {
        "preference": w["preference"] * pref,
        "employer": w["employer"] * emp,
        "skills": w["skills"] * skills,
        "distance": w["distance"] * (0.0 if s.remote else km / t.max_travel_km),
    }


def lottery(inst: Instance, ti: int, si: int) -> int:
    th = id_hashes([inst.trainees[ti].id], inst.seed)
    sh = id_hashes([inst.slots[si].id], inst.seed ^ 0x5EED)
    return int(_mix(th ^ _mix(sh))[0] >> np.uint64(32))


def brute_force(inst: Instance) -> tuple[int, int, dict[int, int], bool]:
    """Enumerate every feasible assignment of the unlocked trainees.

    Returns
    -------
    placed, q_total, best assignment {trainee index: slot index}, unique
        The lexicographic optimum of (placed, quantised cost, lottery) and whether it is
        the only assignment reaching it.
    """
    Q = quantum(inst)
    idx = {s.id: i for i, s in enumerate(inst.slots)}
    locked = {p.trainee_id for p in inst.locked}
    free = [s.capacity for s in inst.slots]
    for p in inst.locked:
        free[idx[p.slot_id]] -= 1
    movers = [i for i, t in enumerate(inst.trainees) if t.id not in locked]
    options: list[list[tuple[int | None, int, int]]] = []
    for ti in movers:
        opts: list[tuple[int | None, int, int]] = [(None, 0, 0)]
        for si in range(len(inst.slots)):
            terms = pair_terms(inst, ti, si)
            if terms is not None and free[si] > 0:
                q = round(sum(terms.values()) * Q)
                opts.append((si, q, lottery(inst, ti, si)))
        options.append(opts)
    best: tuple[int, int, int] | None = None
    best_assign: dict[int, int] = {}
    count = 0
    for combo in itertools.product(*options):
        used: dict[int, int] = {}
        for si, _, _ in combo:
            if si is not None:
                used[si] = used.get(si, 0) + 1
        if any(n > free[si] for si, n in used.items()):
            continue
        key = (
            -sum(n for n in used.values()),
            sum(q for _, q, _ in combo),
            sum(lam for _, _, lam in combo),
        )
        if best is None or key < best:
            best, count = key, 1
            best_assign = {
                ti: si for ti, (si, _, _) in zip(movers, combo, strict=True) if si is not None
            }
        elif key == best:
            count += 1
    assert best is not None
    return -best[0], best[1], best_assign, count == 1


def optimal_assignments(inst: Instance) -> list[dict[int, int]]:
    """Every assignment of the unlocked trainees reaching the optimum (placed, then q)."""
    Q = quantum(inst)
    idx = {s.id: i for i, s in enumerate(inst.slots)}
    locked = {p.trainee_id for p in inst.locked}
    free = [s.capacity for s in inst.slots]
    for p in inst.locked:
        free[idx[p.slot_id]] -= 1
    movers = [i for i, t in enumerate(inst.trainees) if t.id not in locked]
    options: list[list[tuple[int | None, int]]] = []
    for ti in movers:
        opts: list[tuple[int | None, int]] = [(None, 0)]
        for si in range(len(inst.slots)):
            terms = pair_terms(inst, ti, si)
            if terms is not None and free[si] > 0:
                opts.append((si, round(sum(terms.values()) * Q)))
        options.append(opts)
    best: tuple[int, int] | None = None
    found: list[dict[int, int]] = []
    for combo in itertools.product(*options):
        used: dict[int, int] = {}
        for si, _ in combo:
            if si is not None:
                used[si] = used.get(si, 0) + 1
        if any(n > free[si] for si, n in used.items()):
            continue
        key = (-sum(used.values()), sum(q for _, q in combo))
        assign = {ti: si for ti, (si, _) in zip(movers, combo, strict=True) if si is not None}
        if best is None or key < best:
            best, found = key, [assign]
        elif key == best:
            found.append(assign)
    return found


def q_total(inst: Instance, assignment: dict[int, int]) -> int:
    Q = quantum(inst)
    total = 0
    for ti, si in assignment.items():
        terms = pair_terms(inst, ti, si)
        assert terms is not None, "assigned pair is not a candidate"
        total += round(sum(terms.values()) * Q)
    return total


def load(doc: dict[str, Any]) -> Instance:
    return load_instance(doc)


def on(day: str) -> date:
    return date.fromisoformat(day)
