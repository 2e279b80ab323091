"""Instance validation: one test per class of invalid input, each naming record and field."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from placement.matching import DEFAULT_WEIGHTS, InstanceError, load_instance, parse_instance_json

BASE: dict[str, Any] = {
    "format": "placement-instance/1",
    "max_preferences": 3,
    "trainees": [
        {"id": "t1", "level": 4, "skills": ["pipetting"], "latitude": 52.48,
         "longitude": -1.89, "max_travel_km": 40, "available_from": "2027-01-04",
         "available_to": "2027-07-02", "dbs_cleared": True, "preferences": ["s2", "s1"]},
        {"id": 7, "level": 5, "skills": [], "latitude": 52.4, "longitude": -1.8,
         "max_travel_km": 25.5, "available_from": "2027-01-04", "available_to": "2027-07-02",
         "dbs_cleared": False, "preferences": []},
    ],
    "slots": [
        {"id": "s1", "capacity": 2, "min_level": 4, "required_skills": ["pipetting"],
         "latitude": 52.45, "longitude": -1.93, "remote": False, "requires_dbs": False,
         "starts_on": "2027-02-01", "ends_on": "2027-05-28", "rankings": ["t1"]},
        {"id": "s2", "capacity": 1, "min_level": 5, "remote": True, "latitude": None,
         "longitude": None, "starts_on": "2027-02-01", "ends_on": "2027-05-28"},
    ],
    "locked": [{"trainee_id": 7, "slot_id": "s1"}],
    "excluded": [{"trainee_id": "t1", "slot_id": "s1"}],
}  # fmt: skip


def _with(path: str, value: Any) -> dict[str, Any]:
    """A copy of BASE with the dotted ``path`` set to ``value`` (or deleted if ...)."""
    doc = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return doc


def test_valid_instance_loads_with_defaults() -> None:
    inst = load_instance(BASE)
    assert [t.id for t in inst.trainees] == ["t1", 7]  # ids kept as given
    assert inst.weights == DEFAULT_WEIGHTS
    assert inst.allow_unranked is False
    assert inst.slots[1].latitude is None and inst.slots[1].rankings == ()
    partial = load_instance(_with("weights", {"employer": 0}))
    assert partial.weights == {**DEFAULT_WEIGHTS, "employer": 0.0}


def test_default_weights() -> None:
    assert DEFAULT_WEIGHTS["preference"] == 1
    assert set(DEFAULT_WEIGHTS) == {"preference", "employer", "skills", "distance"}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_with("format", "placement-instance/2"), r"^format: expected 'placement-instance/1'$"),
        (_with("trainees.0.level", ...), r"^trainees\[0\]\.level: missing field$"),
        (_with("slots", {}), r"^slots: must be a list$"),
        (_with("trainees.1", "t2"), r"^trainees\[1\]: must be an object$"),
        (_with("trainees.0.level", "4"), r"^trainees\[0\]\.level: must be 4 or 5$"),
        (_with("trainees.1.level", 6), r"^trainees\[1\]\.level: must be 4 or 5$"),
        (_with("slots.0.capacity", True), r"^slots\[0\]\.capacity: must be an integer$"),
        (_with("slots.0.capacity", 0), r"^slots\[0\]\.capacity: must be between 1 and 100$"),
        (_with("slots.1.capacity", 101), r"^slots\[1\]\.capacity: must be between 1 and 100$"),
        (_with("slots.0.min_level", 3), r"^slots\[0\]\.min_level: must be 4 or 5$"),
        (_with("trainees.0.max_travel_km", 0), r"^trainees\[0\]\.max_travel_km: must be greater"),
        (_with("trainees.0.max_travel_km", False), r"^trainees\[0\]\.max_travel_km: must be a"),
        (_with("trainees.0.latitude", 90.5), r"^trainees\[0\]\.latitude: must be between -90"),
        (_with("slots.0.longitude", -180.1), r"^slots\[0\]\.longitude: must be between -180"),
        (_with("slots.0.latitude", None), r"^slots\[0\]\.latitude: must be a number$"),
        (_with("trainees.0.dbs_cleared", 1), r"^trainees\[0\]\.dbs_cleared: must be true or"),
        (_with("trainees.0.skills", ["a", 3]), r"^trainees\[0\]\.skills\[1\]: must be a string$"),
        (_with("slots.0.starts_on", "2027/02/01"), r"^slots\[0\]\.starts_on: must be a date"),
        (_with("slots.0.ends_on", "2027-02-30"), r"^slots\[0\]\.ends_on: not a valid date"),
        (_with("slots.0.ends_on", "2027-01-01"), r"^slots\[0\]\.ends_on: must not be before"),
        (_with("trainees.0.available_to", "2026-01-01"), r"^trainees\[0\]\.available_to: must"),
        (_with("max_preferences", 51), r"^max_preferences: must be between 1 and 50$"),
        (_with("max_preferences", 1), r"^trainees\[0\]\.preferences: 2 preferences but max_pre"),
        (_with("allow_unranked", "yes"), r"^allow_unranked: must be true or false$"),
        (_with("weights", {"skills": -1}), r"^weights\.skills: must be a non-negative finite"),
        (_with("weights", {"distance": math.inf}), r"^weights\.distance: must be a non-negative"),
        (_with("weights", {"travel": 1}), r"^weights\.travel: unknown weight"),
        (_with("weights", [1]), r"^weights: must be an object$"),
        (_with("trainees.1.id", "t1"), r"^trainees\[1\]\.id: repeated id 't1'$"),
        (_with("slots.1.id", "s1"), r"^slots\[1\]\.id: repeated id 's1'$"),
        (_with("slots.1.id", 2.5), r"^slots\[1\]\.id: must be a string or an integer$"),
        (_with("trainees.0.preferences", ["s1", "zz"]), r"^trainees\[0\]\.preferences\[1\]: unknown slot 'zz'$"),  # noqa: E501
        (_with("trainees.0.preferences", ["s1", "s2", "s1"]), r"^trainees\[0\]\.preferences\[2\]: repeated slot 's1'$"),  # noqa: E501
        (_with("slots.0.rankings", ["t1", "nobody"]), r"^slots\[0\]\.rankings\[1\]: unknown trainee 'nobody'$"),  # noqa: E501
        (_with("slots.0.rankings", ["t1", "t1"]), r"^slots\[0\]\.rankings\[1\]: repeated trainee 't1'$"),  # noqa: E501
        (_with("locked.0.slot_id", "zz"), r"^locked\[0\]\.slot_id: unknown slot 'zz'$"),
        (_with("locked.0.trainee_id", "t9"), r"^locked\[0\]\.trainee_id: unknown trainee 't9'$"),
        (_with("excluded.0.slot_id", 3), r"^excluded\[0\]\.slot_id: unknown slot 3$"),
        (_with("locked.0", {"trainee_id": 7}), r"^locked\[0\]\.slot_id: missing field$"),
        (
            _with("locked", [{"trainee_id": 7, "slot_id": "s2"}, {"trainee_id": "t1", "slot_id": "s2"}]),  # noqa: E501
            r"^locked: slot 's2' has 2 locked pairs but capacity 1$",
        ),
        (
            _with("locked", [{"trainee_id": 7, "slot_id": "s1"}, {"trainee_id": 7, "slot_id": "s2"}]),  # noqa: E501
            r"^locked\[1\]\.trainee_id: trainee 7 is locked twice$",
        ),
    ],
)  # fmt: skip
def test_invalid_instance(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(InstanceError, match=message) as info:
        load_instance(doc)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["{", "", "[1, 2", '{"format": NaN}', "\ufeff{"])
def test_not_json(text: str) -> None:
    with pytest.raises(InstanceError, match=r"^not valid JSON: "):
        parse_instance_json(text)


def test_json_must_be_an_object() -> None:
    with pytest.raises(InstanceError, match=r"^instance: must be a JSON object$"):
        parse_instance_json("[]")


def test_parse_accepts_bom_and_bytes() -> None:
    text = json.dumps(BASE)
    assert parse_instance_json("\ufeff" + text) == parse_instance_json(text.encode())


def test_remote_slot_needs_no_site_but_others_do() -> None:
    assert load_instance(_with("slots.1.latitude", ...)).slots[1].latitude is None
    with pytest.raises(InstanceError, match=r"^slots\[0\]\.latitude: missing field$"):
        load_instance(_with("slots.0.latitude", ...))
