"""Seeded, realistic `placement-instance/1` generator for benchmarks and tests.

Twelve English city regions of different sizes, slots clustered around each centre, Zipf
popularity within a region, 85 % of a trainee's choices local, k = 10 preferences,
capacities 1-5 and about 1.1 seats per trainee. Every hard rule of DESIGN.md is exercised:
level 5 slots, DBS-only slots, trainees with short availability windows, travel limits,
remote slots, employer rankings, coordinator exclusions and a few locked (approved) pairs.

Run ``python -m benchmarks.generate 20000 > instance.json`` to write one instance. Not part
of the engine's interface: it only writes input documents.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

# (name, latitude, longitude, share of the national cohort)
REGIONS: tuple[tuple[str, float, float, float], ...] = (
    ("London", 51.507, -0.128, 0.20),
    ("Birmingham", 52.480, -1.890, 0.12),
    ("Manchester", 53.480, -2.242, 0.11),
    ("Leeds", 53.800, -1.549, 0.09),
    ("Bristol", 51.455, -2.588, 0.08),
    ("Newcastle", 54.978, -1.618, 0.07),
    ("Nottingham", 52.954, -1.158, 0.07),
    ("Cambridge", 52.205, 0.119, 0.06),
    ("Southampton", 50.910, -1.404, 0.06),
    ("Liverpool", 53.408, -2.991, 0.06),
    ("Sheffield", 53.381, -1.470, 0.05),
    ("Norwich", 52.630, 1.297, 0.03),
)
SKILLS = (
    "pipetting", "aseptic technique", "ISO 13485", "ISO/IEC 17025", "ISO 15189", "PCR",
    "flow cytometry", "ELISA", "CAD", "soldering", "metrology", "cleanroom", "LIMS",
    "statistics", "python", "calibration", "microscopy", "cell culture", "GMP", "risk analysis",
)  # fmt: skip
ROUND_START = date(2027, 1, 4)
ROUND_END = date(2027, 7, 2)


def _iso(day: date) -> str:
    return day.isoformat()


def _skill_sets(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[list[int]]:
    """``n`` random subsets of the skill vocabulary, of sizes ``lo..hi``, vectorised."""
    order = np.argsort(rng.random((n, len(SKILLS))), axis=1)
    sizes = rng.integers(lo, hi + 1, size=n)
    return [sorted(row[:size]) for row, size in zip(order.tolist(), sizes.tolist(), strict=True)]


def generate(
    n_trainees: int,
    *,
    seed: int = 0,
    k: int = 10,
    seats_ratio: float = 1.1,
    local_share: float = 0.85,
    zipf_s: float = 1.0,
    weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Return a seeded instance dictionary with ``n_trainees`` trainees.

    Parameters
    ----------
    n_trainees : int
        Number of trainees.
    seed : int
        Seed of the generator: the same arguments give the same instance.
    k : int
        Preferences per trainee (and ``max_preferences``).
    seats_ratio : float
        Total seats divided by trainees.
    local_share : float
        Probability that one choice is in the trainee's own region.
    zipf_s : float
        Exponent of the Zipf popularity of slots within a region.
    weights : dict, optional
        Instance weights; the engine defaults when omitted.

    Returns
    -------
    dict
        A ``placement-instance/1`` document.
    """
    rng = np.random.default_rng(seed)
    shares = np.array([r[3] for r in REGIONS])
    shares = shares / shares.sum()
    centres = np.array([[r[1], r[2]] for r in REGIONS])
    n_regions = len(REGIONS)

    # Slots: capacities 1..5 until the seats reach the target.
    target_seats = max(1, round(seats_ratio * n_trainees))
    caps = rng.integers(1, 6, size=target_seats)
    n_slots = int(np.searchsorted(np.cumsum(caps), target_seats) + 1)
    caps = caps[:n_slots]
    slot_region = rng.choice(n_regions, size=n_slots, p=shares)
    slot_pos = centres[slot_region] + rng.normal(0.0, 0.08, size=(n_slots, 2)) * [1.0, 1.6]
    slot_min_level = np.where(rng.random(n_slots) < 0.2, 5, 4)
    slot_dbs = rng.random(n_slots) < 0.3
    slot_remote = rng.random(n_slots) < 0.04
    slot_start_offset = rng.choice([0, 7, 28, 56], size=n_slots, p=[0.55, 0.15, 0.2, 0.1])
    slot_weeks = rng.choice([8, 12, 16, 20], size=n_slots)
    slot_ranks_applicants = rng.random(n_slots) < 0.25
    slot_skills = _skill_sets(rng, n_slots, 0, 3)

    # Trainees.
    t_region = rng.choice(n_regions, size=n_trainees, p=shares)
    t_pos = centres[t_region] + rng.normal(0.0, 0.10, size=(n_trainees, 2)) * [1.0, 1.6]
    t_level = np.where(rng.random(n_trainees) < 0.45, 4, 5)
    t_travel = rng.choice([25, 40, 60, 80], size=n_trainees, p=[0.2, 0.4, 0.25, 0.15])
    t_dbs = rng.random(n_trainees) < 0.9
    late_start = rng.random(n_trainees) < 0.05
    early_end = rng.random(n_trainees) < 0.04
    t_from = np.where(late_start, rng.integers(14, 60, size=n_trainees), 0)
    t_to = np.where(early_end, rng.integers(100, 170, size=n_trainees), 180)
    t_skills = _skill_sets(rng, n_trainees, 1, 5)

    # Zipf popularity inside each region, and nationally for the non-local choices. Choices
    # are drawn with replacement from the cumulative distributions (vectorised), then the
    # first distinct ones are kept, which is sampling without replacement.
    region_members = []
    region_cdf = []
    for r in range(n_regions):
        members = rng.permutation(np.flatnonzero(slot_region == r))
        p = 1.0 / np.power(np.arange(1, len(members) + 1), zipf_s)
        region_members.append(members)
        region_cdf.append(np.cumsum(p) / p.sum() if len(members) else p)
    national_order = rng.permutation(n_slots)
    national_p = 1.0 / np.power(np.arange(1, n_slots + 1), zipf_s)
    national_cdf = np.cumsum(national_p) / national_p.sum()

    want = min(k, n_slots)
    draws = 4 * want
    n_local_all = rng.binomial(want, local_share, size=n_trainees)
    national_draws = national_order[
        np.minimum(np.searchsorted(national_cdf, rng.random((n_trainees, draws))), n_slots - 1)
    ]
    local_draws = np.zeros((n_trainees, draws), dtype=np.int64)
    for r in range(n_regions):
        rows = np.flatnonzero(t_region == r)
        if len(region_members[r]) and len(rows):
            u = rng.random((len(rows), draws))
            idx = np.minimum(np.searchsorted(region_cdf[r], u), len(region_members[r]) - 1)
            local_draws[rows] = region_members[r][idx]
    prefs: list[list[int]] = []
    for t in range(n_trainees):
        chosen = list(dict.fromkeys(local_draws[t].tolist()))[: n_local_all[t]]
        if not region_members[t_region[t]].size:
            chosen = []
        for extra in national_draws[t].tolist():
            if len(chosen) >= want:
                break
            if extra not in chosen:
                chosen.append(extra)
        prefs.append(chosen)

    applicants: list[list[int]] = [[] for _ in range(n_slots)]
    for t, chosen in enumerate(prefs):
        for s in chosen:
            applicants[s].append(t)

    trainees = [
        {
            "id": f"t{t}",
            "level": int(t_level[t]),
            "skills": [SKILLS[i] for i in t_skills[t]],
            "latitude": round(float(t_pos[t, 0]), 5),
            "longitude": round(float(t_pos[t, 1]), 5),
            "max_travel_km": int(t_travel[t]),
            "available_from": _iso(ROUND_START + timedelta(days=int(t_from[t]))),
            "available_to": _iso(ROUND_START + timedelta(days=int(t_to[t]))),
            "dbs_cleared": bool(t_dbs[t]),
            "preferences": [f"s{s}" for s in prefs[t]],
        }
        for t in range(n_trainees)
    ]
    slots = []
    for s in range(n_slots):
        start = ROUND_START + timedelta(days=int(slot_start_offset[s]))
        end = min(ROUND_END, start + timedelta(weeks=int(slot_weeks[s])))
        ranking: list[str] = []
        if slot_ranks_applicants[s] and applicants[s]:
            ranking = [f"t{t}" for t in rng.permutation(applicants[s])[:k]]
        slots.append(
            {
                "id": f"s{s}",
                "capacity": int(caps[s]),
                "min_level": int(slot_min_level[s]),
                "required_skills": [SKILLS[i] for i in slot_skills[s]],
                "latitude": round(float(slot_pos[s, 0]), 5),
                "longitude": round(float(slot_pos[s, 1]), 5),
                "remote": bool(slot_remote[s]),
                "requires_dbs": bool(slot_dbs[s]),
                "starts_on": _iso(start),
                "ends_on": _iso(end),
                "rankings": ranking,
            }
        )

    # A few approved placements (locked) and coordinator exclusions.
    locked = []
    seats_left = caps.copy()
    taken: set[int] = set()
    for t in rng.choice(n_trainees, size=n_trainees // 200, replace=False):
        s = prefs[int(t)][0]
        if seats_left[s] > 0:
            seats_left[s] -= 1
            taken.add(int(t))
            locked.append({"trainee_id": f"t{t}", "slot_id": f"s{s}"})
    excluded = []
    for t in rng.choice(n_trainees, size=n_trainees // 100, replace=False):
        if int(t) not in taken:
            excluded.append({"trainee_id": f"t{t}", "slot_id": f"s{prefs[int(t)][0]}"})

    doc: dict[str, Any] = {
        "format": "placement-instance/1",
        "max_preferences": k,
        "allow_unranked": False,
        "trainees": trainees,
        "slots": slots,
        "locked": locked,
        "excluded": excluded,
    }
    if weights is not None:
        doc["weights"] = weights
    return doc
