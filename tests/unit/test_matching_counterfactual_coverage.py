"""Do the explanations find every counterfactual that exists? Checked by re-solving.

The explanations never solve again; here every change the optimal mode considers
(``placement.matching.counterfactuals``) is tried by re-solving the changed round with the
real pipeline (same seed, so the same lottery), in the module's order: each trainee's
choices above their outcome, best-ranked first, up to ``ROUNDS`` of them -- an eligible
choice moved up one place, two places, ... (the smallest move first), an ineligible one
made eligible by the one profile change it needs (travel ``ceil(km)``, a DBS check, the
slot's dates) -- then up to ``ROUNDS`` eligible choices with the skills they ask for
(when skills carry weight). The first change after which the trainee is placed at a slot
they ranked above their outcome (any ranked slot when unplaced) is *the* counterfactual:
the explanation must claim exactly it, and nothing when no change helps.

The test also tries a wider set, as before: moving *any* choice to *any* higher place, and
the fix of the first rule any choice above the outcome breaks; on these seeds every
counterfactual of that set is also one of the module's (so the count is 76 of 76). The
stable mode (the rules of ``counterfactuals_stable``, then the exact chains of
``stable_chains``) is measured against the same wider set and must find every one.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placement.matching import load_instance, solve
from placement.matching.counterfactuals import ROUNDS, only_fixable
from placement.matching.explanations import explain_all
from placement.matching.problem import (
    RULES,
    build_arrays,
    failed_rule,
    missing_skill_fraction,
    pair_distance_km,
)

from .matching_support import WEIGHT_CHOICES, tiny_instance
from .test_matching_explanations import _dense

# The stable mode is exact (the rules, then the chains of `matching.stable_chains`).
FLOORS = {"stable": 1.0}


def _me(doc: dict[str, Any], tid: Any) -> dict[str, Any]:
    return next(t for t in doc["trainees"] if t["id"] == tid)


def _fix(doc: dict[str, Any], tid: Any, sid: Any, rule: str, km: float) -> dict[str, Any]:
    """The round with the trainee's profile changed so that ``rule`` no longer forbids
    ``sid`` (or, for ``skills``, with the skills ``sid`` asks for)."""
    changed = copy.deepcopy(doc)
    me = _me(changed, tid)
    slot = next(s for s in doc["slots"] if s["id"] == sid)
    if rule == "availability":
        me["available_from"] = min(me["available_from"], slot["starts_on"])
        me["available_to"] = max(me["available_to"], slot["ends_on"])
    elif rule == "dbs":
        me["dbs_cleared"] = True
    elif rule == "distance":
        me["max_travel_km"] = math.ceil(km)
    elif rule == "skills":
        me["skills"] = me["skills"] + slot["required_skills"]
    return changed


def _moved(doc: dict[str, Any], tid: Any, i: int, m: int) -> dict[str, Any]:
    """The round with the trainee's choice at position ``i`` moved to position ``m``."""
    changed = copy.deepcopy(doc)
    prefs = _me(changed, tid)["preferences"]
    prefs.insert(m, prefs.pop(i))
    return changed


def _placed_at(doc: dict[str, Any], tid: Any) -> Any:
    got = {a.trainee_id: a for a in solve(load_instance(doc)).assignments}.get(tid)
    return None if got is None else got.slot_id


def _module_claim(doc: dict[str, Any], tid: Any, above: list[Any]) -> dict[str, Any] | None:
    """The first of the module's changes (module docstring) that places the trainee at a
    slot of ``above``, as the explanation would state it, or None."""
    inst = load_instance(doc)
    arr = build_arrays(inst)
    ti = arr.t_index[tid]
    prefs = _me(doc, tid)["preferences"]
    ids = [sid for sid in above if sid in arr.s_index]
    s = np.array([arr.s_index[sid] for sid in ids], dtype=np.int64)
    t = np.full(len(s), ti, dtype=np.int64)
    km = pair_distance_km(arr, t, s)
    rule, fix = failed_rule(arr, t, s, km), only_fixable(arr, t, s, km)
    first = [i for i in range(len(ids)) if rule[i] == 0 or fix[i] > 0][:ROUNDS]
    for i in first:
        sid, pos = ids[i], prefs.index(ids[i])
        if rule[i] == 0:
            for m in range(pos - 1, -1, -1):  # the smallest move first
                got = _placed_at(_moved(doc, tid, pos, m), tid)
                if got in above:
                    assert got == sid  # a move up the list only ever places them there
                    return {"kind": "rank", "slot_id": sid, "rank": pos + 1, "move_to": m + 1}
        else:
            name = RULES[int(fix[i])]
            got = _placed_at(_fix(doc, tid, sid, name, float(km[i])), tid)
            if got in above:
                return {"kind": name, "slot_id": got, "rank": prefs.index(got) + 1}
    if inst.weights["skills"] > 0 and arr.t_bits is not None:
        lacks = (rule == 0) & (missing_skill_fraction(arr, t, s) > 0)
        for i in np.flatnonzero(lacks)[:ROUNDS].tolist():
            got = _placed_at(_fix(doc, tid, ids[i], "skills", 0.0), tid)
            if got in above:
                return {"kind": "skills", "slot_id": got, "rank": prefs.index(got) + 1}
    return None


def _wider_changes(doc: dict[str, Any], tid: Any, above: list[Any], mode: str) -> list[Any]:
    """Any choice moved to any higher place (optimal mode); the fix of the first rule of
    every choice above the outcome (skills: optimal mode, when they carry weight)."""
    inst = load_instance(doc)
    arr = build_arrays(inst)
    ti = arr.t_index[tid]
    prefs = _me(doc, tid)["preferences"]
    out = []
    if mode == "optimal":
        out += [_moved(doc, tid, i, m) for i in range(1, len(prefs)) for m in range(i)]
    for sid in above:
        t, s = np.array([ti]), np.array([arr.s_index[sid]])
        km = pair_distance_km(arr, t, s)
        name = RULES[int(failed_rule(arr, t, s, km)[0])]
        if name == "ok" and mode == "optimal" and doc["weights"].get("skills", 2) > 0:
            name = "skills"
        if name in ("availability", "dbs", "distance", "skills"):
            out.append(_fix(doc, tid, sid, name, float(km[0])))
    return out


def _check_round(doc: dict[str, Any], mode: str, wider: bool) -> tuple[int, int, int]:
    """(counterfactuals of the module's changes, of the wider set, claimed) of one round;
    asserts the optimal mode's claims are exactly the module's first helping changes."""
    inst = load_instance(doc)
    result = solve(inst)
    bodies = explain_all(inst, result)
    where = {a.trainee_id: a.slot_id for a in result.assignments}
    locked = {p["trainee_id"] for p in doc["locked"]}
    exact = broad = claimed = 0
    for trainee in doc["trainees"]:
        tid = trainee["id"]
        if tid in locked or tid not in bodies:
            continue
        prefs = trainee["preferences"]
        got = where.get(tid)
        above = prefs[: prefs.index(got)] if got in prefs else list(prefs)
        cf = bodies[tid]["counterfactual"]
        claimed += cf is not None
        if mode == "optimal":
            want = _module_claim(doc, tid, above)
            mine = None
            if cf is not None:
                mine = {k: cf[k] for k in ("kind", "slot_id", "rank", "move_to") if k in cf}
            assert mine == want, (doc.get("weights"), tid, mine, want)
            exact += want is not None
        if wider:
            helped = any(_placed_at(c, tid) in above for c in _wider_changes(doc, tid, above, mode))
            assert helped or cf is None, tid  # never a claim where nothing helps
            broad += helped
    return exact, broad, claimed


@pytest.mark.parametrize("mode", ["optimal", "stable"])
def test_coverage_of_counterfactuals(mode: str) -> None:
    exact = broad = claimed = 0
    for seed in range(150):
        doc = _dense(seed)
        doc["mode"] = mode
        a, b, c = _check_round(doc, mode, wider=True)
        exact, broad, claimed = exact + a, broad + b, claimed + c
    print(f"{mode}: {claimed} claimed; {exact} exist among the module's changes, {broad} "
          "among the wider set")  # fmt: skip
    if mode == "optimal":
        assert claimed == exact == broad == 76
    else:
        assert claimed / broad >= FLOORS[mode], (claimed, broad)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    weights=st.sampled_from(WEIGHT_CHOICES),
    unranked=st.booleans(),
)
def test_claims_are_exactly_the_lotterys_re_solves(
    seed: int, weights: dict[str, float], unranked: bool
) -> None:
    """Random small rounds, weights with many ties on cost (so the lottery decides), with
    and without ``allow_unranked``: every claim is the module's first change that helps
    when re-solved with the lottery, and nothing is claimed when none helps."""
    doc = tiny_instance(seed, max_trainees=8, max_slots=5)
    for t in doc["trainees"]:
        t["preferences"] = t["preferences"][: doc["max_preferences"]]
    doc.update(mode="optimal", weights=dict(weights), allow_unranked=unranked)
    _check_round(doc, "optimal", wider=False)
