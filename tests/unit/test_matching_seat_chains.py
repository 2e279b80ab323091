"""Who one more seat places, and the moves it sets off: applying the chain to the optimum
gives a placement that re-solving with one more seat confirms is optimal."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placement.matching import Instance, load_instance
from placement.matching.prepared import prepare
from placement.matching.seat_values import seat_chains, seat_changes, seat_moves
from placement.matching.solver import assign, optimise
from placement.matching.synthetic import generate

from .matching_support import tiny_instance
from .test_matching_seat_values import _doc, _s, _t

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _optimum(inst: Instance) -> tuple[int, int]:
    """(placed, total quantised cost) of the optimum, from an independent re-solve."""
    prep = prepare(inst)
    slot_of = assign(prep, lottery=False)
    e = prep.edges
    chosen = slot_of[e.t] == e.s
    return int(chosen.sum()), int(e.q[chosen].sum())


def _one_more_seat(inst: Instance, i: int) -> Instance:
    slots = list(inst.slots)
    slots[i] = replace(slots[i], capacity=slots[i].capacity + 1)
    return replace(inst, slots=tuple(slots))


def _check(inst: Instance) -> int:
    """Every chain, applied to the optimum, is an optimum of the instance with one more
    seat at its slot (same placed count and cost as an independent re-solve); the number
    of chains checked."""
    prep = prepare(inst)
    slot_of, pot = optimise(prep)
    gain, change = seat_changes(prep, slot_of, pot)
    chains = seat_chains(prep, slot_of, pot)
    e, arr = prep.edges, prep.arr
    q = {(int(a), int(b)): int(c) for a, b, c in zip(e.t, e.s, e.q, strict=True)}
    helped = set(np.flatnonzero((gain > 0) | (change < 0)).tolist())
    assert set(chains.slot.tolist()) == helped
    for x in sorted(helped):
        rows = np.flatnonzero(chains.slot == x)
        assert chains.step[rows].tolist() == list(range(len(rows)))
        moved = chains.trainee[rows]
        assert len(set(moved.tolist())) == len(rows)  # nobody moves twice
        after = slot_of.copy()
        for t, a, b in zip(moved, chains.source[rows], chains.target[rows], strict=True):
            assert after[t] == a  # each move starts where the trainee is
            after[t] = b
        if gain[x]:
            first = rows[0]
            assert chains.source[first] == -1 and slot_of[chains.trainee[first]] == -1
            assert chains.target[rows[-1]] == x
        # Feasible with one more seat at x: every pair a candidate, no slot over capacity.
        placed_t = np.flatnonzero((after >= 0) & (arr.t_locked < 0))
        assert all((int(t), int(after[t])) in q for t in placed_t)
        free = arr.s_free.copy()
        free[x] += 1
        use = np.bincount(after[placed_t], minlength=len(free))
        assert (use <= free).all()
        # Its placed count and cost are those of re-solving with one more seat.
        placed, cost = len(placed_t), sum(q[int(t), int(after[t])] for t in placed_t)
        base = ((slot_of >= 0) & (arr.t_locked < 0)).sum()
        base_cost = sum(q[int(t), int(slot_of[t])] for t in np.flatnonzero(slot_of >= 0)
                        if arr.t_locked[t] < 0)  # fmt: skip
        assert (placed - base, cost - base_cost) == (int(gain[x]), int(change[x]))
        assert (placed, cost) == _optimum(_one_more_seat(inst, x)), x
    return len(helped)


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_chains_are_optimal_with_one_more_seat_tiny(seed: int) -> None:
    _check(load_instance(tiny_instance(seed, max_trainees=8, max_slots=4)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chains_are_optimal_with_one_more_seat_at_150_trainees(seed: int) -> None:
    assert _check(load_instance(generate(150, seed=seed))) > 0


def test_moves_name_trainees_and_slots_by_id() -> None:
    doc = _doc([_t("t1", ["a", "b"]), _t("t2", ["a"])], [_s("a"), _s("b")],
               weights={"preference": 1, "employer": 0, "skills": 0, "distance": 0})  # fmt: skip
    inst = load_instance(doc)
    prep = prepare(inst)
    slot_of, pot = optimise(prep)
    moves = seat_moves(prep, slot_of, pot)
    # t2 holds a (their only choice), t1 is at b. One more seat at a: t1 moves up to a,
    # saving cost; one more at b places nobody (nobody else wants it).
    assert [(m.slot_id, m.step, m.trainee_id, m.from_slot_id, m.to_slot_id) for m in moves] == [
        ("a", 0, "t1", "b", "a")
    ]


@pytest.mark.parametrize("remembered", [True, False])
def test_moves_of_a_result_equal_those_of_its_solve(remembered: bool) -> None:
    from placement.matching import solve
    from placement.matching.seat_values import result_seat_moves

    inst = load_instance({**generate(300, seed=4), "seat_values": True})
    result = solve(inst)
    again = inst if remembered else replace(inst)  # a copy: nothing remembered for it
    moves = result_seat_moves(again, result)
    prep = prepare(inst)
    slot_of, pot = optimise(prep)
    assert moves == seat_moves(prep, slot_of, pot) and moves
    values = {v.slot_id: v for v in result.seat_values or ()}
    placing = {m.slot_id for m in moves if m.step == 0 and m.from_slot_id is None}
    assert placing == {s for s, v in values.items() if v.placed_gain}
    assert result_seat_moves(replace(inst, mode="stable"), result) == []


def _tied_instance(seed: int) -> dict[str, Any]:
    """A small round full of ties: everyone eligible everywhere, ranks only (no employer,
    skills or distance terms), few slots, so many placements share the optimal cost."""
    rng = random.Random(seed)
    slots = [_s(f"s{i}", capacity=rng.randint(1, 2)) for i in range(rng.randint(1, 4))]
    ids = [s["id"] for s in slots]
    trainees = [_t(f"t{i}", rng.sample(ids, rng.randint(1, len(ids))))
                for i in range(rng.randint(1, 9))]  # fmt: skip
    ranks = rng.choice([1, 0])  # 0: every placement costs the same
    weights = {"preference": ranks, "employer": 0, "skills": 0, "distance": 0}
    return _doc(trainees, slots, weights=weights, allow_unranked=rng.random() < 0.5,
                seed=rng.randint(0, 2**31))  # fmt: skip


def _check_exact(inst: Instance) -> int:
    """Every chain, applied to the run's placement, gives exactly the placement a full
    re-solve with one more seat at its slot and the same seed gives (the lottery's
    choice among the optima, trainee by trainee); the number of chains checked."""
    prep = prepare(inst)
    slot_of, pot = optimise(prep)
    chains = seat_chains(prep, slot_of, pot)
    for x in np.unique(chains.slot).tolist():
        rows = np.flatnonzero(chains.slot == x)
        after = slot_of.copy()
        after[chains.trainee[rows]] = chains.target[rows]
        again = assign(prepare(_one_more_seat(inst, x)))
        assert after.tolist() == again.tolist(), x
    return len(np.unique(chains.slot))


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_chains_are_the_lotterys_resolve_with_ties(seed: int) -> None:
    _check_exact(load_instance(_tied_instance(seed)))


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_chains_are_the_lotterys_resolve_tiny(seed: int) -> None:
    _check_exact(load_instance(tiny_instance(seed, max_trainees=8, max_slots=4)))


@pytest.mark.parametrize("seed", [1, 2])
def test_chains_are_the_lotterys_resolve_at_150_trainees(seed: int) -> None:
    doc = generate(150, seed=seed)
    assert _check_exact(load_instance(doc)) > 0
    # Ranks alone: far more ties among the optima.
    doc["weights"] = {"preference": 1, "employer": 0, "skills": 0, "distance": 0}
    assert _check_exact(load_instance(doc)) > 0
