"""Seat values: one shortest-path pass against re-solving with one more seat per slot."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placement.matching import Instance, load_instance, result_to_dict, solve
from placement.matching.prepared import prepare
from placement.matching.problem import quantum
from placement.matching.seat_values import seat_changes
from placement.matching.solver import assign
from placement.matching.synthetic import generate

from .matching_support import tiny_instance

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _optimum(inst: Instance, method: str = "auto") -> tuple[int, int]:
    """(placed, total quantised cost) of the optimum, from an independent re-solve."""
    prep = prepare(inst)
    slot_of = assign(prep, method, lottery=False)
    e = prep.edges
    chosen = slot_of[e.t] == e.s
    return int(chosen.sum()), int(e.q[chosen].sum())


def _one_more_seat(inst: Instance, i: int) -> Instance:
    slots = list(inst.slots)
    slots[i] = replace(slots[i], capacity=slots[i].capacity + 1)
    return replace(inst, slots=tuple(slots))


def _check(inst: Instance, method: str = "auto") -> None:
    inst = replace(inst, seat_values=True)
    result = solve(inst, method=method)
    prep = prepare(inst)
    gain, change = seat_changes(prep, assign(prep, method))
    base_placed, base_q = _optimum(inst, method)
    scale = quantum(inst)
    values = result.seat_values
    assert values is not None
    assert [v.slot_id for v in values] == [s.id for s in inst.slots]  # every slot, in order
    for i in range(len(inst.slots)):
        placed, q = _optimum(_one_more_seat(inst, i), method)
        assert (int(gain[i]), int(change[i])) == (placed - base_placed, q - base_q), i
        assert values[i].placed_gain == placed - base_placed
        assert values[i].cost_change == round((q - base_q) / scale, 6)


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_seat_values_equal_resolving_tiny(seed: int) -> None:
    _check(load_instance(tiny_instance(seed, max_trainees=7, max_slots=4)))


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["mcf", "scipy"]))
def test_seat_values_equal_resolving_at_120_trainees(seed: int, method: str) -> None:
    doc = generate(120, seed=seed % 5000, seats_ratio=0.9)
    rng = np.random.default_rng(seed)
    # Lock a few pairs (some slots then have no free seat at all).
    doc["locked"] = []
    for t, s in zip(doc["trainees"][:10], doc["slots"][:10], strict=False):
        if rng.random() < 0.5:
            doc["locked"].append({"trainee_id": t["id"], "slot_id": s["id"]})
    _check(load_instance(doc), method)


def test_seat_values_with_integer_costs_match_the_objective() -> None:
    # Rank costs only: the objective is a sum of integers, so cost_change is exact in it.
    doc = generate(200, seed=3, weights={"preference": 1, "employer": 0, "skills": 0,
                                         "distance": 0}, seats_ratio=0.8)  # fmt: skip
    inst = load_instance({**doc, "seat_values": True})
    result = solve(inst)
    assert result.seat_values is not None
    checked = 0
    for i, v in enumerate(result.seat_values):
        if i % 3:
            continue
        again = solve(_one_more_seat(replace(inst, seat_values=False), i))
        assert v.placed_gain == again.stats.placed - result.stats.placed
        assert v.cost_change == pytest.approx(again.stats.objective - result.stats.objective,
                                              abs=1e-9)  # fmt: skip
        checked += 1
    assert checked >= 5
    assert any(v.placed_gain == 1 for v in result.seat_values)
    assert any(v.placed_gain == 0 and v.cost_change < 0 for v in result.seat_values)


def test_worked_example() -> None:
    # s1 (one seat) is everyone's first choice; b can only go there. With one more seat
    # at s1, a moves up from its 2nd choice: placed +0, cost 1 - 4 = -3. One more seat at
    # s2 helps nobody; at s3 (nobody's choice) nothing.
    doc = _doc(
        [_t("a", ["s1", "s2"]), _t("b", ["s1"]), _t("c", ["s1"])],
        [_s("s1"), _s("s2"), _s("s3")],
        weights={"preference": 1, "employer": 0, "skills": 0, "distance": 0},
        seat_values=True,
    )
    out = result_to_dict(solve(load_instance(doc)))
    assert out["seat_values"] == [
        {"slot_id": "s1", "placed_gain": 1, "cost_change": 1.0},
        {"slot_id": "s2", "placed_gain": 0, "cost_change": 0.0},
        {"slot_id": "s3", "placed_gain": 0, "cost_change": 0.0},
    ]
    # Without the flag: no seat values.
    assert "seat_values" not in result_to_dict(solve(load_instance({**doc, "seat_values": False})))


def test_cheaper_without_placing_more() -> None:
    doc = _doc(
        [_t("a", ["s1", "s2"]), _t("b", ["s1", "s3"])],
        [_s("s1", rankings=[]), _s("s2"), _s("s3")],
        weights={"preference": 1, "employer": 0, "skills": 0, "distance": 0},
        seat_values=True,
    )
    values = {v.slot_id: v for v in solve(load_instance(doc)).seat_values or ()}
    # Both placed already; one more seat at s1 moves the one at a 2nd choice up: -3.
    assert values["s1"].placed_gain == 0 and values["s1"].cost_change == -3.0
    assert values["s2"].cost_change == 0.0 and values["s3"].cost_change == 0.0


def _doc(trainees: list[dict], slots: list[dict], **extra: object) -> dict[str, Any]:
    return {"format": "placement-instance/1", "trainees": trainees, "slots": slots, **extra}


def _t(tid: str, prefs: list[str]) -> dict[str, Any]:
    return {
        "id": tid, "level": 5, "latitude": 52.48, "longitude": -1.89, "max_travel_km": 40,
        "available_from": "2027-01-04", "available_to": "2027-07-02", "dbs_cleared": True,
        "preferences": prefs,
    }  # fmt: skip


def _s(sid: str, capacity: int = 1, **kw: object) -> dict[str, Any]:
    rec = {
        "id": sid, "capacity": capacity, "min_level": 4, "latitude": 52.45, "longitude": -1.93,
        "starts_on": "2027-02-01", "ends_on": "2027-05-28",
    }  # fmt: skip
    rec.update(kw)
    return rec


def test_components_merge_carries_the_seat_values() -> None:
    from placement.matching import components, merge_results

    doc = generate(1500, seed=5, local_share=1.0)
    for t in doc["trainees"]:
        t["max_travel_km"] = 30
    inst = load_instance({**doc, "seat_values": True})
    whole = solve(inst)
    merged = merge_results(inst, [solve(p) for p in components(inst)])
    assert merged.assignments == whole.assignments
    assert merged.seat_values == whole.seat_values
    assert whole.seat_values is not None and len(whole.seat_values) == len(inst.slots)
