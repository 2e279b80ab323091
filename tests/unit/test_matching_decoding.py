"""The fast path of parse_instance_json (typed msgspec decoding) against the exact validator:
the same Instance for every valid file, the same one-line message for every invalid one, and
the orjson result document with the same content as result_to_dict."""

from __future__ import annotations

import copy
import io
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placement.matching import (
    InstanceError,
    parse_instance_json,
    result_to_dict,
    run_solve_cli,
    solve,
)
from placement.matching.decoding import decode_instance, parse_instance_json_exact
from placement.matching.result import result_to_json
from placement.matching.synthetic import generate
from tests.unit import test_matching_instance as exact_tests

BASE = exact_tests.BASE


def _outcome(parse: Any, text: str | bytes) -> tuple[str, str]:
    """("ok", repr of the Instance) or ("error", message): repr tells 1 from 1.0 and True."""
    try:
        return "ok", repr(parse(text))
    except InstanceError as exc:
        return "error", str(exc)


def _same(text: str | bytes) -> tuple[str, str]:
    fast, exact = _outcome(parse_instance_json, text), _outcome(parse_instance_json_exact, text)
    assert fast == exact
    return fast


def test_a_generated_round_takes_the_fast_path_and_equals_the_exact_one() -> None:
    doc = generate(400, seed=5)
    doc["weights"] = {"employer": 0.5}
    doc["seed"] = 12
    doc["mode"] = "stable"
    for slot in doc["slots"][:20]:  # remote slots without a site, optional fields left out
        slot.update(remote=True)
        slot.pop("latitude", None)
        slot.pop("rankings", None)
    renamed = {}
    for trainee in doc["trainees"][:20]:
        trainee.pop("skills")
        renamed[trainee["id"]] = trainee["id"] = int(trainee["id"][1:]) + 10**6
    for slot in doc["slots"]:
        slot["rankings"] = [renamed.get(t, t) for t in slot.get("rankings", [])]
    for pair in doc.get("locked", []) + doc.get("excluded", []):
        pair["trainee_id"] = renamed.get(pair["trainee_id"], pair["trainee_id"])
    text = json.dumps(doc)
    fast = decode_instance(text.encode())
    assert fast is not None
    assert repr(fast) == repr(parse_instance_json_exact(text))
    assert _same("\ufeff" + text) == _same(("\ufeff" + text).encode("utf-8")) == ("ok", repr(fast))


_TABLE = next(m for m in exact_tests.test_invalid_instance.pytestmark if m.name == "parametrize")


@pytest.mark.parametrize(("doc", "message"), _TABLE.args[1])
def test_every_message_of_the_exact_table_through_the_file_path(
    doc: dict[str, Any], message: str
) -> None:
    text = json.dumps(doc)
    kind, got = _same(text)
    assert kind == "error"
    # (A value JSON lacks, such as infinity, is written as Infinity: not JSON at all.)
    expected = "^not valid JSON" if "Infinity" in text else message
    assert re.search(expected, got) and "\n" not in got


@pytest.mark.parametrize(
    "text",
    ["{", "", "[1, 2", '{"format": NaN}', "\ufeff{", "[]", '{"trainees": [], "slots": []}'],
)
def test_not_an_instance_gives_the_same_message(text: str) -> None:
    assert _same(text)[0] == "error"
    assert _same(text.encode())[0] == "error"


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


_PATHS = _paths(BASE) + [
    (k,) for k in ("seed", "mode", "seat_values", "weights", "locked", "excluded", "extra")
] + [("trainees", 0, "extra"), ("slots", 1, "latitude"), ("slots", 1, "remote")]  # fmt: skip

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            4,
            5,
            0,
            1,
            3,
            50,
            51,
            100,
            101,
            90,
            -90.0,
            180,
            -180.5,
            2**53,
            2**53 + 1,
            2**63,
            1e300,
            0.5,
            40,
            "optimal",
            "stable",
            "placement-instance/1",
            "2027-01-04",
            "2027-02-30",
            "2027-1-04",
            "2028-02-29",
            "2026-12-31",
            "s1",
            "s2",
            "t1",
            7,
            " Pipetting",
            ["s1"],
            ["s2", "s1"],
            ["s1", "s1"],
            ["t1", 7],
            [7, 7],
            [],
            {},
            {"preference": 2},
            {"distance": -1},
            [{"trainee_id": "t1", "slot_id": "s2"}],
        ]
    ),
    st.text(max_size=12),
    st.lists(st.one_of(st.text(max_size=3), st.integers(-3, 10), st.sampled_from(["s1", "t1"]))),
)


@st.composite
def _mutated(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_PATHS))
        node: Any = doc
        try:
            for part in path[:-1]:
                node = node[part]
            if draw(st.booleans()) and draw(st.booleans()):
                node.pop(path[-1])
            else:
                node[path[-1]] = draw(_VALUES)
        except (KeyError, IndexError, TypeError, AttributeError):
            continue  # an earlier mutation removed or replaced the parent
    return doc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_fast_and_exact_agree_on_mutated_documents(doc: dict[str, Any]) -> None:
    """Valid: the same Instance (repr); invalid: the same message, whichever path decides."""
    text = json.dumps(doc)
    kind, _ = _same(text)
    try:
        fast = decode_instance(text)
    except InstanceError:  # a setting: the exact validator's own code raised it
        fast = None
    if fast is not None:  # the fast path never accepts what the exact validator rejects
        assert kind == "ok" and repr(fast) == repr(parse_instance_json_exact(text))


@pytest.mark.parametrize("variant", ["optimal", "stable", "seat_values"])
def test_result_json_has_the_content_of_result_to_dict(variant: str, tmp_path: Any) -> None:
    doc = generate(300, seed=2)
    if variant == "stable":
        doc["mode"] = "stable"
    elif variant == "seat_values":
        doc["seat_values"] = True
    instance = parse_instance_json_exact(json.dumps(doc))
    result = solve(instance)
    expected = json.loads(json.dumps(result_to_dict(result)))
    assert json.loads(result_to_json(result)) == expected
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(doc))
    out, err = io.StringIO(), io.StringIO()
    assert run_solve_cli(str(path), out, err) == 0
    written = json.loads(out.getvalue())
    # The same document apart from the solve's own time.
    for document in (written, expected):
        document["stats"].pop("solve_seconds")
    assert written == expected and not err.getvalue()


def test_ids_beyond_64_bits_are_written_by_the_standard_library(tmp_path: Any) -> None:
    doc = copy.deepcopy(BASE)
    doc["trainees"][1]["id"] = 2**70
    doc["locked"] = [{"trainee_id": 2**70, "slot_id": "s1"}]
    path = tmp_path / "big.json"
    text = json.dumps(doc)
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    assert run_solve_cli(str(path), out, err) == 0, err.getvalue()
    written = json.loads(out.getvalue())
    expected = json.loads(json.dumps(result_to_dict(solve(parse_instance_json_exact(text)))))
    for document in (written, expected):
        document["stats"].pop("solve_seconds")
    assert written == expected
    assert 2**70 in [a["trainee_id"] for a in written["assignments"]]
