"""Cross-checks at realistic size, components, determinism, explanations and purity."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

from placement.matching import (
    Instance,
    components,
    explain,
    load_instance,
    merge_results,
    result_to_dict,
    run_solve_cli,
    solve,
)
from placement.matching.prepared import component_labels, prepare
from placement.matching.solver import assign, integer_costs
from placement.matching.synthetic import generate

ROOT = Path(__file__).resolve().parents[2]


def _pairs(result: Any) -> dict[object, object]:
    return {a.trainee_id: a.slot_id for a in result.assignments}


def _integer_objective(inst: Instance, slot_of: np.ndarray) -> tuple[int, int]:
    prep = prepare(inst)
    n_comp, t_lab, _ = component_labels(prep)
    cost = integer_costs(prep, t_lab, n_comp)
    e = prep.edges
    t, s = e.t[prep.solver], e.s[prep.solver]
    chosen = (slot_of[t] == s) & (prep.arr.t_locked[t] < 0)
    return int(chosen.sum()), int(cost[chosen].sum())


@pytest.fixture(scope="module")
def regional() -> Instance:
    return load_instance(generate(4000, seed=11))


@pytest.fixture(scope="module")
def regional_result(regional: Instance) -> Any:
    return solve(regional, method="mcf")


def test_backends_agree_at_4000_trainees(regional: Instance, regional_result: Any) -> None:
    scipy_result = solve(regional, method="scipy")
    assert scipy_result.stats.placed == regional_result.stats.placed
    assert scipy_result.stats.objective == pytest.approx(regional_result.stats.objective)
    prep = prepare(regional)
    a, b = assign(prep, "mcf"), assign(prep, "scipy")
    assert _integer_objective(regional, a) == _integer_objective(regional, b)
    # The lottery breaks ties among the same set of optima, so the assignments agree too.
    assert _pairs(scipy_result) == _pairs(regional_result)
    assert (
        result_to_dict(scipy_result)["assignments"]
        == result_to_dict(regional_result)["assignments"]
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_networkx_min_cost_flow_agrees(seed: int) -> None:
    doc = generate(
        1000, seed=seed, weights={"preference": 1, "employer": 0, "skills": 0, "distance": 0}
    )
    doc["allow_unranked"] = seed == 2
    if doc["allow_unranked"]:
        for t in doc["trainees"]:
            t["max_travel_km"] = 8  # keep the unranked candidate graph small
    inst = load_instance(doc)
    prep = prepare(inst)
    n_comp, t_lab, _ = component_labels(prep)
    cost = integer_costs(prep, t_lab, n_comp)
    e = prep.edges
    graph = nx.DiGraph()
    for ti, si, c in zip(
        e.t[prep.solver].tolist(), e.s[prep.solver].tolist(), cost.tolist(), strict=True
    ):
        graph.add_edge("src", ("t", ti), capacity=1, weight=0)
        graph.add_edge(("t", ti), ("s", si), capacity=1, weight=c)
        graph.add_edge(("s", si), "snk", capacity=int(prep.arr.s_free[si]), weight=0)
    flow = nx.max_flow_min_cost(graph, "src", "snk")
    nx_placed = sum(flow["src"].values())
    nx_cost = nx.cost_of_flow(graph, flow)
    slot_of = assign(prep, "mcf")
    assert _integer_objective(inst, slot_of) == (nx_placed, nx_cost)


def test_components_merge_equals_single_solve(regional: Instance, regional_result: Any) -> None:
    parts = components(regional)
    assert len(parts) >= 2
    seen = [t.id for p in parts for t in p.trainees]
    assert sorted(seen) == sorted(t.id for t in regional.trainees)
    assert sum(len(p.slots) for p in parts) == len(regional.slots)
    merged = merge_results(regional, [solve(p) for p in reversed(parts)])
    assert merged.assignments == regional_result.assignments
    assert merged.unplaced == regional_result.unplaced
    strip = lambda r: {**result_to_dict(r)["stats"], "solve_seconds": 0}  # noqa: E731
    assert strip(merged) == strip(regional_result)


def test_strictly_regional_rounds_split_into_components() -> None:
    doc = generate(1500, seed=5, local_share=1.0)
    for t in doc["trainees"]:
        t["max_travel_km"] = 30
    inst = load_instance(doc)
    parts = components(inst)
    assert len(parts) >= 12
    merged = merge_results(inst, [solve(p, method="scipy") for p in parts])
    assert merged.assignments == solve(inst).assignments


def _shuffled(doc: dict[str, Any], seed: int) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))
    rng = random.Random(seed)
    for key in ("trainees", "slots", "locked", "excluded"):
        rng.shuffle(doc[key])
    return doc


def test_input_order_does_not_matter() -> None:
    # Pure rank costs: many exact ties, all settled by the seeded tie-break.
    doc = generate(
        1500, seed=3, weights={"preference": 1, "employer": 0, "skills": 0, "distance": 0}
    )
    first = solve(load_instance(doc))
    again = solve(load_instance(_shuffled(doc, 1)))
    assert _pairs(again) == _pairs(first)
    other_seed = solve(load_instance({**doc, "seed": 12345}))
    assert other_seed.stats.objective == first.stats.objective
    assert _pairs(other_seed) != _pairs(first)  # the seed is a different lottery


def test_deterministic_across_processes(tmp_path: Path) -> None:
    doc = generate(
        1200, seed=4, weights={"preference": 1, "employer": 0, "skills": 0, "distance": 0}
    )
    path = tmp_path / "round.json"
    path.write_text(json.dumps(_shuffled(doc, 2)))
    code = (
        "import json, sys; from placement.matching import parse_instance_json, solve;"
        "r = solve(parse_instance_json(open(sys.argv[1]).read()));"
        "print(json.dumps(sorted([str(a.trainee_id), str(a.slot_id)] for a in r.assignments)))"
    )
    outs = set()
    for hash_seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True, text=True, check=True, cwd=ROOT,
            env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        outs.add(proc.stdout)
    here = sorted(
        [str(a.trainee_id), str(a.slot_id)] for a in solve(load_instance(doc)).assignments
    )
    assert outs == {json.dumps(here) + "\n"}


def test_locked_pairs_are_kept_and_not_counted(regional: Instance, regional_result: Any) -> None:
    locked = {(p.trainee_id, p.slot_id) for p in regional.locked}
    assert locked
    got = {(a.trainee_id, a.slot_id) for a in regional_result.assignments if a.locked}
    assert got == locked
    movable = [a for a in regional_result.assignments if not a.locked]
    assert regional_result.stats.placed == len(movable)
    assert regional_result.stats.objective == pytest.approx(sum(a.cost for a in movable), abs=1e-3)
    doc = result_to_dict(regional_result)
    assert len(doc["assignments"]) + len(doc["unplaced"]) == len(regional.trainees)


def test_stats_are_consistent(regional_result: Any) -> None:
    movable = [a for a in regional_result.assignments if not a.locked]
    ranks = [a.rank for a in movable if a.rank is not None]
    s = regional_result.stats
    assert s.first_choice == ranks.count(1)
    assert s.top3 == sum(r <= 3 for r in ranks)
    assert s.worst_rank == max(ranks)
    assert s.mean_rank == pytest.approx(sum(ranks) / len(ranks))
    assert s.unplaced == len(regional_result.unplaced)
    assert s.blocking_pairs >= 0


def test_explain(regional: Instance, regional_result: Any) -> None:
    by_id = {t.id: t for t in regional.trainees}
    outcome = {a.trainee_id: a for a in regional_result.assignments}
    reasons: set[str] = set()
    for trainee_id in [u.trainee_id for u in regional_result.unplaced][:20] + list(outcome)[:40]:
        entries = explain(regional, regional_result, trainee_id)
        prefs = by_id[trainee_id].preferences
        a = outcome.get(trainee_id)
        limit = a.rank if a is not None and a.rank is not None else len(prefs) + 1
        assert [e["rank"] for e in entries] == list(range(1, limit))
        for e in entries:
            assert e["slot_id"] == prefs[e["rank"] - 1]
            reasons.add(e["reason"])
            if e["reason"] == "ineligible":
                assert e["rule"] in {"level", "availability", "dbs", "distance", "excluded"}
            elif e["reason"] == "full":
                takers = [x for x in regional_result.assignments if x.slot_id == e["slot_id"]]
                assert sorted(map(str, e["taken_by"])) == sorted(str(x.trainee_id) for x in takers)
    assert {"ineligible", "full"} <= reasons


def test_explain_rules() -> None:
    base = {
        "latitude": 52.48,
        "longitude": -1.89,
        "starts_on": "2027-02-01",
        "ends_on": "2027-05-28",
    }
    doc = {
        "format": "placement-instance/1",
        "trainees": [
            {"id": "a", "level": 4, "latitude": 52.48, "longitude": -1.89, "max_travel_km": 10,
             "available_from": "2027-01-04", "available_to": "2027-05-01", "dbs_cleared": False,
             "preferences": ["lvl", "dates", "dbs", "far", "ex", "full", "ok"]},
            {"id": "b", "level": 5, "latitude": 52.48, "longitude": -1.89, "max_travel_km": 10,
             "available_from": "2027-01-04", "available_to": "2027-07-01", "dbs_cleared": True,
             "preferences": ["full"]},
        ],
        "slots": [
            {**base, "id": "lvl", "capacity": 1, "min_level": 5, "ends_on": "2027-04-01"},
            {**base, "id": "dates", "capacity": 1, "min_level": 4},
            {**base, "id": "dbs", "capacity": 1, "min_level": 4, "requires_dbs": True, "ends_on": "2027-04-01"},  # noqa: E501
            {**base, "id": "far", "capacity": 1, "min_level": 4, "latitude": 53.0, "ends_on": "2027-04-01"},  # noqa: E501
            {**base, "id": "ex", "capacity": 1, "min_level": 4, "ends_on": "2027-04-01"},
            {**base, "id": "full", "capacity": 1, "min_level": 4, "ends_on": "2027-04-01"},
            {**base, "id": "ok", "capacity": 1, "min_level": 4, "remote": True, "latitude": 10.0, "ends_on": "2027-04-01"},  # noqa: E501
        ],
        "excluded": [{"trainee_id": "a", "slot_id": "ex"}],
        "weights": {"preference": 1, "employer": 0, "skills": 0, "distance": 0},
    }  # fmt: skip
    inst = load_instance(doc)
    result = solve(inst)
    assert _pairs(result) == {"a": "ok", "b": "full"}
    got = explain(inst, result, "a")
    assert [e.get("rule", e["reason"]) for e in got] == [
        "level", "availability", "dbs", "distance", "excluded", "full",
    ]  # fmt: skip
    assert got[-1] == {
        "slot_id": "full",
        "rank": 6,
        "reason": "full",
        "taken_by": ["b"],
        "total_cost": 1.0,
    }
    assert result.stats.blocking_pairs == 0


def test_blocking_pairs_free_seat_and_employer_preference() -> None:
    # t1 gets s1 (its 2nd choice) because t2 needs it more; s2's employer ranks t1 first
    # but seats t2, so (t1, s2) blocks. A pair with a free seat also blocks.
    doc = {
        "format": "placement-instance/1",
        "weights": {"preference": 1, "employer": 0, "skills": 0, "distance": 0},
        "trainees": [
            {"id": "t1", "level": 5, "latitude": 52.0, "longitude": -1.5, "max_travel_km": 50,
             "available_from": "2027-01-01", "available_to": "2027-12-31", "dbs_cleared": True,
             "preferences": ["s2", "s1"]},
            {"id": "t2", "level": 5, "latitude": 52.0, "longitude": -1.5, "max_travel_km": 50,
             "available_from": "2027-01-01", "available_to": "2027-12-31", "dbs_cleared": True,
             "preferences": ["s2"]},
        ],
        "slots": [
            {"id": "s1", "capacity": 1, "min_level": 4, "latitude": 52.0, "longitude": -1.5,
             "starts_on": "2027-02-01", "ends_on": "2027-03-01"},
            {"id": "s2", "capacity": 1, "min_level": 4, "latitude": 52.0, "longitude": -1.5,
             "starts_on": "2027-02-01", "ends_on": "2027-03-01", "rankings": ["t1", "t2"]},
        ],
    }  # fmt: skip
    result = solve(load_instance(doc))
    assert _pairs(result) == {"t1": "s1", "t2": "s2"}
    assert result.stats.blocking_pairs == 1


def _run_cli(path: str, stdin: bytes = b"") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        code = run_solve_cli(path, out, err)
    finally:
        sys.stdin = old
    return code, out.getvalue(), err.getvalue()


def test_cli_solves_a_file_and_stdin(tmp_path: Path) -> None:
    doc = generate(50, seed=9)
    path = tmp_path / "round.json"
    path.write_text(json.dumps(doc))
    code, out, err = _run_cli(str(path))
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result["format"] == "placement-result/1"
    assert set(result["stats"]) == {
        "placed", "unplaced", "objective", "first_choice", "top3", "mean_rank", "worst_rank",
        "blocking_pairs", "solve_seconds",
    }  # fmt: skip
    assert len(result["assignments"]) + len(result["unplaced"]) == 50
    code2, out2, _ = _run_cli("-", stdin=json.dumps(doc).encode())
    assert code2 == 0
    assert json.loads(out2)["assignments"] == result["assignments"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "placement solve: not valid JSON: "),
        ('{"format": "x"}', "placement solve: format: expected 'placement-instance/1'"),
        (
            json.dumps({**generate(3, seed=1), "max_preferences": 0}),
            "placement solve: max_preferences: ",
        ),
    ],
)
def test_cli_invalid_instance_exits_2(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, out, err = _run_cli(str(path))
    assert code == 2
    assert out == ""
    assert err.startswith(message) and err.endswith("\n") and err.count("\n") == 1
    assert "Traceback" not in err


def test_cli_missing_file(tmp_path: Path) -> None:
    code, out, err = _run_cli(str(tmp_path / "nope.json"))
    assert (code, out) == (2, "")
    assert err.startswith("placement solve: cannot read ") and err.count("\n") == 1


def test_engine_is_pure() -> None:
    code = (
        "import sys, placement.matching;"
        "print(sorted(m for m in ('flask', 'sqlmodel', 'sqlalchemy') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert proc.stdout.strip() == "[]"


def test_skill_bitsets_match_sorted_keys() -> None:
    """Huge skill vocabularies fall back to sorted keys; both give the same costs."""
    from unittest.mock import patch

    from placement.matching import arrays

    doc = generate(300, seed=8)
    rng = random.Random(8)
    for t in doc["trainees"][:100]:
        t["skills"] = t["skills"] + [f"skill {rng.randrange(150)}" for _ in range(3)]
    for s in doc["slots"][:60]:
        s["required_skills"] = s["required_skills"] + [f"Skill {rng.randrange(150)} "]
    inst = load_instance(doc)
    bits = prepare(inst)
    with patch.object(arrays, "_MAX_BITSET_SKILLS", 0):
        keys = prepare(inst)
    assert bits.arr.t_bits is not None and keys.arr.t_bits is None
    assert bits.edges.skills.max() > 0
    np.testing.assert_array_equal(bits.edges.t, keys.edges.t)
    np.testing.assert_array_equal(bits.edges.s, keys.edges.s)
    np.testing.assert_array_equal(bits.edges.skills, keys.edges.skills)
    np.testing.assert_array_equal(bits.edges.q, keys.edges.q)


def test_split_and_plain_flow_agree_at_regional_size(regional: Instance) -> None:
    from unittest.mock import patch

    from placement.matching import solver

    prep = prepare(regional)
    split = assign(prep, "mcf")
    with patch.object(solver, "_SPLIT_TRAINEES", 10**9):
        plain = assign(prep, "mcf")
    assert _integer_objective(regional, split) == _integer_objective(regional, plain)
    assert split.tolist() == plain.tolist()  # unique optimum: the lottery settles ties
