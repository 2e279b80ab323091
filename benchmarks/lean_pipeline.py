"""The lean comparison for the instance file path (issue 14, point 1).

    .venv/bin/python -m benchmarks.lean_pipeline INSTANCE.json OUT.json

What a careful engineer would write without the engine: orjson to read the file, numpy for
the same hard rules (level, availability, DBS, distance unless remote, exclusions; locked
trainees keep their seat) and the same costs as DESIGN.md (trainee rank squared, employer
rank squared or ``(max_preferences + 1)**2`` unranked, fraction of required skills missing,
distance over ``max_travel_km``, the instance's weights, quantised as the engine does), then
OR-Tools ``SimpleMinCostFlow.SolveMaxFlowWithMinCost``, and orjson to write a result of the
same shape (assignments with rank, cost and terms; unplaced; placed and objective).

It validates nothing beyond what numpy needs, has no tie-break lottery, no reduction, no
blocking-pair count and ranked pairs only (no ``allow_unranked``): it is the floor the
engine's file path is compared with. :func:`lean_solve` returns the placed count and total
quantised cost so the benchmark can check both find the same optimum.
"""

from __future__ import annotations

import sys
import time
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
from ortools.graph.python import min_cost_flow

EARTH_RADIUS_KM = 6371.0088
DEFAULTS = {"preference": 1.0, "employer": 0.25, "skills": 2.0, "distance": 1.0}
Q_BUDGET = 2**20


def _col(records: list[dict[str, Any]], key: str, dtype: Any) -> np.ndarray:
    return np.fromiter(map(itemgetter(key), records), dtype, len(records))


def _days(records: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array(list(map(itemgetter(key), records)), dtype="datetime64[D]").astype(np.int64)


def _quantum(dearest: float) -> float:
    for k in range(6, -1, -1):
        if dearest * 10**k <= Q_BUDGET:
            return float(10**k)
    return Q_BUDGET / dearest


def _bits(lists: list[list[str]], vocab: dict[str, int]) -> np.ndarray:
    flat = [vocab[x.strip().casefold()] for x in chain.from_iterable(lists)]
    owner = np.repeat(np.arange(len(lists)), np.fromiter(map(len, lists), np.int64, len(lists)))
    out = np.zeros(len(lists), dtype=np.uint64)
    np.bitwise_or.at(out, owner, np.uint64(1) << np.asarray(flat, dtype=np.uint64))
    return out


def lean_solve(raw: bytes) -> tuple[bytes, dict[str, float]]:
    """The result document of the instance file ``raw``, and the time of each stage."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    doc = orjson.loads(raw)
    T, S = doc["trainees"], doc["slots"]
    n_t, n_s = len(T), len(S)
    w = {**DEFAULTS, **doc.get("weights", {})}
    k = doc.get("max_preferences", 10)
    unranked = float((k + 1) ** 2)
    t1 = time.perf_counter()
    times["parse"] = t1 - t0

    t_ids = list(map(itemgetter("id"), T))
    s_ids = list(map(itemgetter("id"), S))
    t_index = dict(zip(t_ids, range(n_t), strict=True))
    s_index = dict(zip(s_ids, range(n_s), strict=True))
    prefs = [t.get("preferences", []) for t in T]
    counts = np.fromiter(map(len, prefs), np.int64, n_t)
    et = np.repeat(np.arange(n_t), counts)
    es = np.fromiter(map(s_index.__getitem__, chain.from_iterable(prefs)), np.int64, len(et))
    rank = np.arange(len(et)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    rk = [s.get("rankings", []) for s in S]
    r_counts = np.fromiter(map(len, rk), np.int64, n_s)
    r_s = np.repeat(np.arange(n_s), r_counts)
    r_t = np.fromiter(map(t_index.__getitem__, chain.from_iterable(rk)), np.int64, len(r_s))
    r_rank = np.arange(len(r_s)) - np.repeat(np.cumsum(r_counts) - r_counts, r_counts) + 1
    emp_keys = r_s * n_t + r_t
    order = np.argsort(emp_keys)
    emp_keys, r_rank = emp_keys[order], r_rank[order]

    lat = np.radians(_col(T, "latitude", np.float64))
    lon = np.radians(_col(T, "longitude", np.float64))
    travel = _col(T, "max_travel_km", np.float64)
    remote = np.array([s.get("remote", False) for s in S], dtype=bool)
    s_lat = np.radians(np.array([s.get("latitude") or 0.0 for s in S], dtype=np.float64))
    s_lon = np.radians(np.array([s.get("longitude") or 0.0 for s in S], dtype=np.float64))
    t_skills = [t.get("skills", []) for t in T]
    s_skills = [s.get("required_skills", []) for s in S]
    vocab: dict[str, int] = {}
    for x in sorted(set(chain.from_iterable(t_skills)).union(chain.from_iterable(s_skills))):
        vocab.setdefault(x.strip().casefold(), len(vocab))
    assert len(vocab) <= 64, "the lean pipeline keeps skills in one 64-bit word"
    t_bits, s_bits = _bits(t_skills, vocab), _bits(s_skills, vocab)
    locked_t = np.array([t_index[p["trainee_id"]] for p in doc.get("locked", [])], np.int64)
    locked_s = np.array([s_index[p["slot_id"]] for p in doc.get("locked", [])], np.int64)
    free = _col(S, "capacity", np.int64) - np.bincount(locked_s, minlength=n_s)
    ex = np.array(
        [t_index[p["trainee_id"]] * n_s + s_index[p["slot_id"]] for p in doc.get("excluded", [])],
        dtype=np.int64,
    )
    # The hard rules.
    ok = _col(T, "level", np.int64)[et] >= _col(S, "min_level", np.int64)[es]
    ok &= _days(T, "available_from")[et] <= _days(S, "starts_on")[es]
    ok &= _days(T, "available_to")[et] >= _days(S, "ends_on")[es]
    dbs = np.array([s.get("requires_dbs", False) for s in S], dtype=bool)
    ok &= _col(T, "dbs_cleared", bool)[et] | ~dbs[es]
    hav = (
        np.sin((s_lat[es] - lat[et]) / 2) ** 2
        + np.cos(lat[et]) * np.cos(s_lat[es]) * np.sin((s_lon[es] - lon[et]) / 2) ** 2
    )
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(hav, 0, 1)))
    km = np.where(remote[es], 0.0, km)
    ok &= remote[es] | (km <= travel[et])
    ok &= ~np.isin(et * n_s + es, ex)
    ok[np.isin(et, locked_t)] = False
    et, es, rank, km = et[ok], es[ok], rank[ok], km[ok]
    # The costs.
    keys = es * n_t + et
    pos = np.minimum(np.searchsorted(emp_keys, keys), max(len(emp_keys) - 1, 0))
    hit = emp_keys[pos] == keys if len(emp_keys) else np.zeros(len(keys), bool)
    emp = np.where(hit, r_rank[pos] if len(emp_keys) else 0, 0)
    n_req = np.bitwise_count(s_bits)[es].astype(np.float64)
    lack = np.bitwise_count(s_bits[es] & ~t_bits[et]).astype(np.float64)
    terms = {
        "preference": w["preference"] * rank.astype(np.float64) ** 2,
        "employer": w["employer"] * np.where(emp > 0, emp.astype(np.float64) ** 2, unranked),
        "skills": w["skills"] * np.where(n_req > 0, lack / np.maximum(n_req, 1), 0.0),
        "distance": w["distance"] * np.where(remote[es], 0.0, km / travel[et]),
    }
    cost = terms["preference"] + terms["employer"] + terms["skills"] + terms["distance"]
    longest = int(r_counts.max(initial=0))
    dearest = (
        w["preference"] * unranked
        + w["employer"] * max(unranked, longest**2)
        + w["skills"]
        + w["distance"]
    )
    q = np.rint(cost * _quantum(dearest)).astype(np.int64)
    t2 = time.perf_counter()
    times["rules and costs"] = t2 - t1

    # Source 0 -> trainee 1..n_t -> slot -> sink.
    sink = n_t + n_s + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([np.zeros(n_t, np.int32), et + 1, np.arange(n_s) + n_t + 1])
    heads = np.concatenate([np.arange(n_t) + 1, es + n_t + 1, np.full(n_s, sink)])
    caps = np.concatenate([np.ones(n_t + len(et), np.int64), np.maximum(free, 0)])
    costs = np.concatenate([np.zeros(n_t, np.int64), q, np.zeros(n_s, np.int64)])
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps, costs
    )
    supply = int(min(n_t, caps[-n_s:].sum()))
    flow.set_node_supply(0, supply)
    flow.set_node_supply(sink, -supply)
    if flow.solve_max_flow_with_min_cost() != flow.OPTIMAL:
        raise RuntimeError("min-cost flow failed")
    chosen = np.asarray(flow.flows(np.asarray(arcs)))[n_t : n_t + len(et)] > 0
    t3 = time.perf_counter()
    times["solve"] = t3 - t2

    idx = np.flatnonzero(chosen)
    slot_of = np.full(n_t, -1)
    slot_of[et[idx]] = es[idx]
    slot_of[locked_t] = locked_s
    has_pair = np.zeros(n_t, bool)
    has_pair[et] = True
    rounded = {name: np.round(v[idx], 6).tolist() for name, v in terms.items()}
    assignments = [
        {"trainee_id": t_ids[t], "slot_id": s_ids[s], "rank": r, "cost": c,
         "terms": {"preference": p, "employer": m, "skills": k_, "distance": d}, "locked": False}
        for t, s, r, c, p, m, k_, d in zip(
            et[idx].tolist(), es[idx].tolist(), rank[idx].tolist(),
            np.round(cost[idx], 6).tolist(), rounded["preference"], rounded["employer"],
            rounded["skills"], rounded["distance"], strict=True,
        )
    ] + [
        {"trainee_id": t_ids[t], "slot_id": s_ids[s], "locked": True}
        for t, s in zip(locked_t.tolist(), locked_s.tolist(), strict=True)
    ]  # fmt: skip
    left = np.flatnonzero(slot_of < 0)
    unplaced = [
        {"trainee_id": t_ids[t], "reason": "outcompeted" if h else "no_eligible_slot"}
        for t, h in zip(left.tolist(), has_pair[left].tolist(), strict=True)
    ]
    stats = {
        "placed": len(idx),
        "unplaced": len(unplaced),
        "objective": round(float(cost[idx].sum()), 6),
        "quantised": int(q[idx].sum()),
    }
    document = {"format": "placement-result/1", "mode": "optimal", "assignments": assignments}
    out = orjson.dumps({**document, "unplaced": unplaced, "stats": stats})
    times["write"] = time.perf_counter() - t3
    return out, times


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    with open(args[0], "rb") as fh:
        raw = fh.read()
    out, _ = lean_solve(raw)
    with open(args[1], "wb") as fh:
        fh.write(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
