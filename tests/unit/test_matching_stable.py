"""The stable mode: deferred acceptance against the `matching` library and brute force."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matching.games import HospitalResident

from placement.matching import Instance, InstanceError, load_instance, result_to_dict, solve
from placement.matching.problem import id_hashes
from placement.matching.synthetic import generate

from .matching_support import pair_terms, tiny_instance

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _stable(doc: dict[str, Any]) -> Instance:
    return load_instance({**doc, "mode": "stable"})


class Model:
    """The stable-mode problem rebuilt independently from the instance (plain Python)."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        locked = {p.trainee_id: p.slot_id for p in inst.locked}
        self.locked = locked
        self.free = {s.id: s.capacity for s in inst.slots}
        for sid in locked.values():
            self.free[sid] -= 1
        s_idx = {s.id: i for i, s in enumerate(inst.slots)}
        # Trainee lists: ranked, eligible, in rank order; locked trainees do not take part.
        self.prefs: dict[Any, list[Any]] = {}
        for ti, t in enumerate(inst.trainees):
            if t.id in locked:
                continue
            self.prefs[t.id] = [
                sid
                for sid in t.preferences
                if pair_terms(_ranked_only(inst), ti, s_idx[sid]) is not None and self.free[sid] > 0
            ]
        # The lottery: seeded hashes of the ids, smallest first (the engine's definition).
        hashes = id_hashes([t.id for t in inst.trainees], inst.seed)
        self.lottery = [
            t.id for _, t in sorted(zip(hashes.tolist(), inst.trainees, strict=True),
                                    key=lambda x: x[0])
        ]  # fmt: skip
        place = {tid: i for i, tid in enumerate(self.lottery)}
        self.priority: dict[Any, dict[Any, tuple[int, int]]] = {}
        for s in inst.slots:
            ranked = {tid: r for r, tid in enumerate(s.rankings)}
            self.priority[s.id] = {
                tid: (0, ranked[tid]) if tid in ranked else (1, place[tid]) for tid in self.prefs
            }

    def better(self, tid: Any, a: Any, b: Any | None) -> bool:
        """Does trainee `tid` prefer slot `a` to outcome `b` (None = unplaced)?"""
        p = self.prefs[tid]
        return b is None or b not in p or p.index(a) < p.index(b)

    def blocking(self, match: dict[Any, Any]) -> list[tuple[Any, Any]]:
        out = []
        for tid, prefs in self.prefs.items():
            for sid in prefs:
                if not self.better(tid, sid, match.get(tid)):
                    continue
                holders = [x for x, y in match.items() if y == sid]
                if len(holders) < self.free[sid] or any(
                    self.priority[sid][tid] < self.priority[sid][h] for h in holders
                ):
                    out.append((tid, sid))
        return out


def _ranked_only(inst: Instance) -> Instance:
    from dataclasses import replace

    return replace(inst, allow_unranked=False)


def _movable(result: Any) -> dict[Any, Any]:
    return {a.trainee_id: a.slot_id for a in result.assignments if not a.locked}


def _library_match(model: Model) -> dict[Any, Any]:
    """Resident-optimal hospital-resident matching by the `matching` library."""
    names_t = {tid: f"t{i}" for i, tid in enumerate(model.prefs)}
    names_s = {s.id: f"s{i}" for i, s in enumerate(model.inst.slots)}
    back = {v: k for k, v in {**names_t, **names_s}.items()}
    residents = {names_t[t]: [names_s[s] for s in p] for t, p in model.prefs.items() if p}
    hospitals = {}
    for sid, prio in model.priority.items():
        applicants = [t for t in prio if names_t[t] in residents and sid in model.prefs[t]]
        if applicants and model.free[sid] > 0:
            hospitals[names_s[sid]] = [names_t[t] for t in sorted(applicants, key=prio.get)]
    if not residents:
        return {}
    game = HospitalResident.create_from_dictionaries(
        residents, hospitals, {h: model.free[back[h]] for h in hospitals}
    )
    matching = game.solve(optimal="resident")
    assert game.check_stability()
    return {back[r.name]: back[h.name] for h, rs in matching.items() for r in rs}


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_same_matching_as_the_matching_library(seed: int) -> None:
    inst = _stable(tiny_instance(seed, max_trainees=8, max_slots=4))
    result = solve(inst)
    model = Model(inst)
    assert _movable(result) == _library_match(model)
    assert result.mode == "stable"
    assert list(result.lottery or ()) == model.lottery
    assert result.stats.blocking_pairs == 0


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_same_matching_as_the_library_at_300_trainees(seed: int) -> None:
    doc = generate(300, seed=seed % 1000)
    inst = _stable({**doc, "seed": seed})
    result = solve(inst)
    model = Model(inst)
    assert _movable(result) == _library_match(model)
    assert model.blocking(_movable(result)) == []
    assert result.stats.blocking_pairs == 0


def _all_stable(model: Model) -> list[dict[Any, Any]]:
    """Every stable matching, by enumeration (tiny instances only)."""
    trainees = list(model.prefs)
    found = []
    for combo in itertools.product(*[[None, *model.prefs[t]] for t in trainees]):
        match = {t: s for t, s in zip(trainees, combo, strict=True) if s is not None}
        used: dict[Any, int] = {}
        for s in match.values():
            used[s] = used.get(s, 0) + 1
        if any(n > model.free[s] for s, n in used.items()):
            continue
        if not model.blocking(match):
            found.append(match)
    return found


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_stable_and_trainee_optimal_by_brute_force(seed: int) -> None:
    inst = _stable(tiny_instance(seed, max_trainees=5, max_slots=3))
    result = solve(inst)
    model = Model(inst)
    ours = _movable(result)
    assert model.blocking(ours) == []
    every = _all_stable(model)
    assert ours in every
    for other in every:
        for tid, sid in other.items():
            # No stable matching gives anyone a slot they rank above ours.
            assert not model.better(tid, sid, ours.get(tid)) or sid == ours.get(tid)
    # Locked pairs kept; every trainee exactly once.
    assert {(a.trainee_id, a.slot_id) for a in result.assignments if a.locked} == {
        (p.trainee_id, p.slot_id) for p in inst.locked
    }
    seen = [a.trainee_id for a in result.assignments] + [u.trainee_id for u in result.unplaced]
    assert sorted(map(repr, seen)) == sorted(repr(t.id) for t in inst.trainees)


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_blocking_pairs_counted_alike_in_the_optimal_mode(seed: int) -> None:
    """The optimal mode's count uses the same definition (employer ranking, then lottery)."""
    inst = load_instance(tiny_instance(seed, max_trainees=7, max_slots=4))
    result = solve(inst)
    assert result.stats.blocking_pairs == len(Model(inst).blocking(_movable(result)))


def test_employer_ranking_then_lottery() -> None:
    trainees = [_t(f"t{i}", ["s"]) for i in range(6)]
    doc = _doc(trainees, [_s("s", capacity=2, rankings=["t4"])])
    result = solve(_stable(doc))
    lottery = list(result.lottery or ())
    assert sorted(lottery) == sorted(f"t{i}" for i in range(6))
    # The employer's choice first, then the best of the others in the lottery.
    best_other = next(t for t in lottery if t != "t4")
    assert set(_movable(result)) == {"t4", best_other}
    assert result.stats.blocking_pairs == 0


def test_weights_and_unranked_play_no_part() -> None:
    trainees = [_t("a", ["s1", "s2"]), _t("b", ["s1"])]
    slots = [_s("s1", rankings=["a", "b"]), _s("s2"), _s("s3")]
    plain = solve(_stable(_doc(trainees, slots)))
    other = solve(
        _stable(
            _doc(trainees, slots, allow_unranked=True,
                 weights={"preference": 0, "employer": 5, "skills": 1, "distance": 9})
        )
    )  # fmt: skip
    assert _movable(plain) == _movable(other) == {"a": "s1"}
    assert [u.trainee_id for u in other.unplaced] == ["b"]  # s3 is unranked: not a choice
    # The optimal mode places both.
    assert len(_movable(solve(load_instance(_doc(trainees, slots))))) == 2


def test_file_order_and_seed() -> None:
    doc = generate(1500, seed=7)
    first = solve(_stable(doc))
    shuffled = json.loads(json.dumps(doc))
    rng = random.Random(1)
    for key in ("trainees", "slots"):
        rng.shuffle(shuffled[key])
    again = solve(_stable(shuffled))
    assert _movable(again) == _movable(first)
    assert again.lottery == first.lottery
    other = solve(_stable({**doc, "seed": 99}))
    assert other.lottery != first.lottery


def test_result_document_and_cli_field() -> None:
    doc = result_to_dict(solve(_stable(_doc([_t("a", ["s"])], [_s("s")]))))
    assert doc["mode"] == "stable"
    assert doc["lottery"] == ["a"]
    assert doc["stats"]["blocking_pairs"] == 0
    assert "seat_values" not in doc
    optimal = result_to_dict(solve(load_instance(_doc([_t("a", ["s"])], [_s("s")]))))
    assert optimal["mode"] == "optimal"
    assert "lottery" not in optimal


@pytest.mark.parametrize("bad", ["best", "", 1, None, True, ["stable"]])
def test_invalid_mode_is_one_clear_line(bad: object) -> None:
    with pytest.raises(InstanceError, match=r"^mode: must be 'optimal' or 'stable'$"):
        load_instance({**_doc([], []), "mode": bad})


def test_seat_values_flag_must_be_boolean() -> None:
    with pytest.raises(InstanceError, match=r"^seat_values: must be true or false$"):
        load_instance({**_doc([], []), "seat_values": "yes"})


def test_blocking_pairs_use_the_lottery_in_the_optimal_mode() -> None:
    # Two trainees want the one seat of s; nobody was ranked by the employer. The optimal
    # mode may give it to either; the loser blocks with s exactly when the lottery puts
    # them first.
    doc = _doc([_t("a", ["s", "x"]), _t("b", ["s"])], [_s("s"), _s("x")])
    result = solve(load_instance(doc))
    assert _movable(result) == {"b": "s", "a": "x"}  # most placed
    lottery = list(solve(_stable(doc)).lottery or ())
    assert result.stats.blocking_pairs == (1 if lottery[0] == "a" else 0)


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


def test_solve_command_prints_mode_lottery_and_seat_values(tmp_path: Any) -> None:
    import io

    from placement.matching import run_solve_cli

    path = tmp_path / "round.json"
    doc = _doc([_t("a", ["s"]), _t("b", ["s"])], [_s("s")], seat_values=True)
    path.write_text(json.dumps(doc))
    out, err = io.StringIO(), io.StringIO()
    assert run_solve_cli(str(path), out, err) == 0
    optimal = json.loads(out.getvalue())
    assert optimal["mode"] == "optimal"
    [value] = optimal["seat_values"]
    assert value["slot_id"] == "s" and value["placed_gain"] == 1
    # One more seat places the other trainee at the same cost (to the quantum, 1/1000).
    assert value["cost_change"] == pytest.approx(optimal["assignments"][0]["cost"], abs=1e-3)
    out = io.StringIO()
    assert run_solve_cli(str(path), out, err, mode="stable") == 0
    stable = json.loads(out.getvalue())
    assert stable["mode"] == "stable" and sorted(stable["lottery"]) == ["a", "b"]
    assert [a["trainee_id"] for a in stable["assignments"]] == stable["lottery"][:1]
    assert err.getvalue() == ""
    path.write_text(json.dumps({**doc, "mode": "fair"}))
    out = io.StringIO()
    assert run_solve_cli(str(path), out, err) == 2
    assert out.getvalue() == ""
    assert err.getvalue() == "placement solve: mode: must be 'optimal' or 'stable'\n"


def test_components_merge_equals_the_single_stable_solve() -> None:
    from placement.matching import components, merge_results

    doc = generate(1500, seed=5, local_share=1.0)
    for t in doc["trainees"]:
        t["max_travel_km"] = 30
    inst = _stable(doc)
    parts = components(inst)
    assert len(parts) >= 12
    whole = solve(inst)
    merged = merge_results(inst, [solve(p) for p in reversed(parts)])
    assert merged.assignments == whole.assignments
    assert merged.lottery == whole.lottery and merged.mode == "stable"
    assert merged.stats.blocking_pairs == 0


def test_placement_solve_mode_option(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from placement.cli import main

    path = tmp_path / "round.json"
    path.write_text(json.dumps(_doc([_t("a", ["s"]), _t("b", ["s"])], [_s("s")])))
    out = CliRunner().invoke(main, ["solve", str(path), "--mode", "stable"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["mode"] == "stable" and sorted(doc["lottery"]) == ["a", "b"]
    bad = CliRunner().invoke(main, ["solve", str(path), "--mode", "fair"])
    assert bad.exit_code == 2 and "fair" in bad.output
