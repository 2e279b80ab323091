"""Property tests of the engine against brute force on tiny instances."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placement.matching import Instance, load_instance, result_to_dict, solve
from placement.matching.prepared import component_labels, prepare
from placement.matching.solver import assign, integer_costs, reduce_exact

from .matching_support import (
    brute_force,
    optimal_assignments,
    pair_terms,
    q_total,
    tiny_instance,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _slot_index(inst: Instance) -> dict[object, int]:
    return {s.id: i for i, s in enumerate(inst.slots)}


def _check_against_brute_force(inst: Instance, method: str) -> None:
    result = solve(inst, method=method)
    t_idx = {t.id: i for i, t in enumerate(inst.trainees)}
    s_idx = _slot_index(inst)
    locked = {(p.trainee_id, p.slot_id) for p in inst.locked}

    # Every trainee exactly once.
    seen = [a.trainee_id for a in result.assignments] + [u.trainee_id for u in result.unplaced]
    assert sorted(map(repr, seen)) == sorted(repr(t.id) for t in inst.trainees)

    # Feasibility: capacity, hard rules, locked pairs kept.
    load: dict[object, int] = {}
    chosen: dict[int, int] = {}
    for a in result.assignments:
        load[a.slot_id] = load.get(a.slot_id, 0) + 1
        if a.locked:
            assert (a.trainee_id, a.slot_id) in locked
            continue
        ti, si = t_idx[a.trainee_id], s_idx[a.slot_id]
        terms = pair_terms(inst, ti, si)
        assert terms is not None, f"{a} breaks a hard rule or is not a candidate"
        assert a.terms == pytest.approx(terms, rel=1e-9, abs=1e-6)
        assert a.cost == pytest.approx(sum(terms.values()), rel=1e-9, abs=1e-5)
        prefs = inst.trainees[ti].preferences
        assert a.rank == (prefs.index(a.slot_id) + 1 if a.slot_id in prefs else None)
        chosen[ti] = si
    assert {(a.trainee_id, a.slot_id) for a in result.assignments if a.locked} == locked
    for sid, n in load.items():
        assert n <= inst.slots[s_idx[sid]].capacity

    # Optimality: most placed, then least (quantised) cost; the tie-break decides the rest.
    placed, best_q, best_assign, unique = brute_force(inst)
    assert result.stats.placed == len(chosen) == placed
    assert q_total(inst, chosen) == best_q
    if unique:
        assert chosen == best_assign

    # Unplaced reasons.
    for u in result.unplaced:
        ti = t_idx[u.trainee_id]
        has = any(pair_terms(inst, ti, si) is not None for si in range(len(inst.slots)))
        assert u.reason == ("outcompeted" if has else "no_eligible_slot")
    result_to_dict(result)  # always serialisable


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_mcf_matches_brute_force(seed: int) -> None:
    _check_against_brute_force(load_instance(tiny_instance(seed)), "mcf")


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_scipy_matches_brute_force(seed: int) -> None:
    _check_against_brute_force(load_instance(tiny_instance(seed)), "scipy")


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_more_trainees_than_seats(seed: int) -> None:
    _check_against_brute_force(
        load_instance(tiny_instance(seed, max_trainees=6, max_slots=1)), "auto"
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_more_seats_than_trainees(seed: int) -> None:
    _check_against_brute_force(
        load_instance(tiny_instance(seed, max_trainees=2, max_slots=4)), "auto"
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_reduction_is_exact(seed: int) -> None:
    prep = prepare(load_instance(tiny_instance(seed, max_trainees=6)))
    for method in ("mcf", "scipy"):
        with_reduction = assign(prep, method).tolist()
        assert assign(prep, method, reduce=False).tolist() == with_reduction


def _doc(trainees: list[dict], slots: list[dict], **extra: object) -> dict:
    return {"format": "placement-instance/1", "trainees": trainees, "slots": slots, **extra}


def _t(tid: str, prefs: list[str], **kw: object) -> dict:
    rec = {
        "id": tid, "level": 5, "latitude": 52.48, "longitude": -1.89, "max_travel_km": 40,
        "available_from": "2027-01-04", "available_to": "2027-07-02", "dbs_cleared": True,
        "preferences": prefs,
    }  # fmt: skip
    rec.update(kw)
    return rec


def _s(sid: str, capacity: int = 1, **kw: object) -> dict:
    rec = {
        "id": sid, "capacity": capacity, "min_level": 4, "latitude": 52.45, "longitude": -1.93,
        "starts_on": "2027-02-01", "ends_on": "2027-05-28",
    }  # fmt: skip
    rec.update(kw)
    return rec


@pytest.mark.parametrize("method", ["mcf", "scipy"])
@pytest.mark.parametrize("weight", [1, 1e6, 1e12])
def test_lexicographic_places_more_even_at_huge_cost(method: str, weight: float) -> None:
    # a's first choice is b's only choice: placing both costs a its 50th choice.
    slots = [_s("s0")] + [_s(f"s{i}") for i in range(1, 50)]
    a_prefs = ["s0"] + [f"s{i}" for i in range(1, 49)] + ["s49"]
    doc = _doc(
        [_t("a", a_prefs), _t("b", ["s0"])],
        slots,
        max_preferences=50,
        weights={"preference": weight, "employer": weight, "skills": 0, "distance": 0},
    )
    # Make every slot but s0 and s49 unavailable to a (a sits far from them).
    for s in doc["slots"][1:49]:
        s["requires_dbs"] = True
    doc["trainees"][0]["dbs_cleared"] = False
    result = solve(load_instance(doc), method=method)
    got = {a.trainee_id: a.slot_id for a in result.assignments}
    assert got == {"a": "s49", "b": "s0"}
    assert result.stats.placed == 2
    assert result.stats.objective == pytest.approx(weight * (50**2 + 1 + 2 * 51**2))


def test_pure_rank_objective_is_sum_of_squares() -> None:
    doc = _doc(
        [_t("a", ["s1", "s2"]), _t("b", ["s1", "s2"]), _t("c", ["s2", "s1"])],
        [_s("s1"), _s("s2", capacity=2)],
        weights={"preference": 1, "employer": 0, "skills": 0, "distance": 0},
    )
    result = solve(load_instance(doc))
    assert result.stats.objective == sum(a.rank**2 for a in result.assignments if a.rank)
    assert result.stats.objective == 1 + 4 + 1


def test_empty_round() -> None:
    result = solve(load_instance(_doc([], [])))
    assert result.assignments == () and result.unplaced == ()
    assert result.stats.placed == 0 and result.stats.mean_rank is None
    result = solve(load_instance(_doc([_t("a", [])], [])))
    assert [u.reason for u in result.unplaced] == ["no_eligible_slot"]


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_reduction_keeps_the_brute_force_optimum(seed: int) -> None:
    """Some optimum holds every fixed pair and no dropped one.

    (The reduction works on the real cost alone, so with ties it keeps one optimum, not
    all of them; the lottery breaks ties afterwards on the full graph.)
    """
    inst = load_instance(tiny_instance(seed, max_trainees=6, max_slots=3))
    prep = prepare(inst)
    n_comp, t_lab, _ = component_labels(prep)
    e, idx = prep.edges, prep.solver
    cost = integer_costs(prep, t_lab, n_comp)
    t, s = e.t[idx], e.s[idx]
    fixed, alive = reduce_exact(t, s, cost, prep.arr.s_free, prep.arr.s_key)
    assert not (fixed & alive).any()
    optima = [set(a.items()) for a in optimal_assignments(inst)]
    pinned = {(int(a), int(b)) for a, b in zip(t[fixed], s[fixed], strict=True)}
    kept = fixed | alive
    kept_pairs = {(int(a), int(b)) for a, b in zip(t[kept], s[kept], strict=True)}
    assert any(pinned <= optimum <= kept_pairs for optimum in optima)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_max_flow_split_matches_brute_force(seed: int) -> None:
    """The residual-component split (used for large networks) on tiny ones."""
    from unittest.mock import patch

    from placement.matching import solver

    inst = load_instance(tiny_instance(seed, max_trainees=7, max_slots=3))
    with patch.object(solver, "_SPLIT_TRAINEES", 2):
        _check_against_brute_force(inst, "mcf")
        split = solver.assign(prepare(inst), "mcf", reduce=False)
    assert split.tolist() == solver.assign(prepare(inst), "scipy", reduce=False).tolist()
