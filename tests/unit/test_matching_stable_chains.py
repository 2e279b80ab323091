"""The vacancy and rejection chains (`matching.stable_chains`) against full re-solves: for
every trainee of many small random stable-mode rounds and every choice above their
outcome that one profile change makes eligible, the chains' slot is the re-solve's."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest

from placement.matching import load_instance, solve
from placement.matching.counterfactuals import _scenarios_of, _what_if, only_fixable
from placement.matching.explanations import _slot_of
from placement.matching.lottery import priorities
from placement.matching.prepared import prepare_mode
from placement.matching.problem import (
    RULES,
    _employer_ranks,
    failed_rule,
    pair_distance_km,
    ranked_pairs,
)
from placement.matching.stable_chains import Chains

from .matching_support import tiny_instance


def _changed(doc: dict[str, Any], tid: Any, sid: Any, kind: str, km: float) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    me = next(t for t in out["trainees"] if t["id"] == tid)
    slot = next(s for s in out["slots"] if s["id"] == sid)
    if kind == "availability":
        me["available_from"] = min(me["available_from"], slot["starts_on"])
        me["available_to"] = max(me["available_to"], slot["ends_on"])
    elif kind == "dbs":
        me["dbs_cleared"] = True
    else:
        me["max_travel_km"] = math.ceil(km)
    return out


@pytest.mark.parametrize("size", [(9, 5), (14, 4), (40, 8)])
def test_chains_match_full_re_solves(size: tuple[int, int]) -> None:
    tried = moved = 0
    for seed in range(250):
        doc = tiny_instance(seed, max_trainees=size[0], max_slots=size[1])
        doc["mode"] = "stable"
        inst = load_instance(doc)
        result = solve(inst)
        prep = prepare_mode(inst)
        arr = prep.arr
        slot_of = _slot_of(arr, result)
        pairs = ranked_pairs(inst, arr)
        t, s, _ = pairs
        edges = (prep.edges.t, prep.edges.s, prep.edges.rank)
        chains = Chains(arr, edges, slot_of, budget=10**9)
        km = pair_distance_km(arr, t, s)
        fix = only_fixable(arr, t, s, km)
        slot_ids = [x.id for x in inst.slots]
        trainee_ids = [x.id for x in inst.trainees]
        for j in np.flatnonzero((fix > 0) & (arr.t_locked[t] < 0)).tolist():
            ti, si = int(t[j]), int(s[j])
            kind = fix[j : j + 1].astype(np.int64)
            what_if, _ = _what_if(arr, kind, t[j : j + 1], s[j : j + 1], km[j : j + 1])
            _, pt, ps, pr = _scenarios_of(pairs, t[j : j + 1], len(arr.t_level))
            ok = failed_rule(what_if, pt, ps, pair_distance_km(what_if, pt, ps)) == 0
            ok &= arr.s_free[ps] > 0
            pt, ps, pr = pt[ok], ps[ok], pr[ok]
            prio = priorities(arr, pt, _employer_ranks(arr, pt, ps))
            new_list = sorted(zip(pr.tolist(), ps.tolist(), prio.tolist(), strict=True))
            chains.work = 0
            got = chains.outcome(ti, new_list)
            changed = _changed(doc, trainee_ids[ti], slot_ids[si], RULES[int(fix[j])], km[j])
            again = {a.trainee_id: a.slot_id for a in solve(load_instance(changed)).assignments}
            want = again.get(trainee_ids[ti])
            assert got is not None
            assert (slot_ids[got] if got >= 0 else None) == want, (seed, trainee_ids[ti], j)
            tried += 1
            moved += want != (slot_ids[slot_of[ti]] if slot_of[ti] >= 0 else None)
    print(size, tried, moved)
    assert tried > 200 and moved > 50, (tried, moved)
