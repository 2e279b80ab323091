"""The one-trainee eligibility check agrees with the engine's `ineligible_choices`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from placement.matching import InstanceError, load_instance
from placement.matching.eligibility import ranked_ineligible
from placement.matching.explanations import ineligible_choices

DAY0 = date(2027, 1, 1)
days = st.integers(min_value=0, max_value=40).map(lambda n: (DAY0 + timedelta(n)).isoformat())
# Near Leeds, so that some slots are within reach and some are not; a few out of range.
lat = st.one_of(st.floats(53.0, 54.5), st.sampled_from([91.0, -90.0, 53.8]))
lon = st.one_of(st.floats(-2.5, -0.5), st.sampled_from([-1.5, 181.0]))
level = st.sampled_from([4, 4, 5, 5, 5, 6])  # 6: a record the engine rejects


@st.composite
def case(draw: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    n = draw(st.integers(min_value=0, max_value=6))
    slots = []
    for i in range(n):
        remote = draw(st.booleans())
        site = draw(st.booleans()) or not remote
        slots.append(
            {
                "id": str(i + 1),
                "capacity": 1,
                "min_level": draw(level),
                "required_skills": [],
                "latitude": draw(lat) if site else None,
                "longitude": draw(lon) if site else None,
                "remote": remote,
                "requires_dbs": draw(st.booleans()),
                "starts_on": draw(days),
                "ends_on": draw(days),
                "rankings": [],
            }
        )
    ids = [s["id"] for s in slots]
    prefs = draw(st.permutations(ids).map(lambda p: p[: draw(st.integers(0, len(p)))]))
    trainee = {
        "id": "me",
        "level": draw(level),
        "skills": [],
        "latitude": draw(lat),
        "longitude": draw(lon),
        "max_travel_km": draw(st.one_of(st.floats(0.5, 150.0), st.sampled_from([0.0, 25.0]))),
        "available_from": draw(days),
        "available_to": draw(days),
        "dbs_cleared": draw(st.booleans()),
        "preferences": list(prefs),
    }
    return trainee, slots


def engine(trainee: dict[str, Any], slots: list[dict[str, Any]]) -> Any:
    doc = {
        "format": "placement-instance/1",
        "max_preferences": max(len(trainee["preferences"]), 1),
        "trainees": [trainee],
        "slots": slots,
        "locked": [],
        "excluded": [],
    }
    try:
        return ineligible_choices(load_instance(doc)).get("me", [])
    except InstanceError:
        return "invalid"


def light(trainee: dict[str, Any], slots: list[dict[str, Any]]) -> Any:
    try:
        return ranked_ineligible(trainee, slots)
    except InstanceError:
        return "invalid"


@settings(max_examples=400, deadline=None)
@given(case())
def test_agrees_with_the_engine(data: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    trainee, slots = data
    assert light(trainee, slots) == engine(trainee, slots)


def test_every_rule_is_reported_with_its_numbers() -> None:
    trainee = {
        "id": "me",
        "level": 4,
        "skills": [],
        "latitude": 53.8,
        "longitude": -1.55,
        "max_travel_km": 20.0,
        "available_from": "2027-01-05",
        "available_to": "2027-02-01",
        "dbs_cleared": False,
        "preferences": ["1", "2", "3", "4", "5"],
    }
    base = {
        "capacity": 1,
        "min_level": 4,
        "required_skills": [],
        "latitude": 53.8,
        "longitude": -1.55,
        "remote": False,
        "requires_dbs": False,
        "starts_on": "2027-01-10",
        "ends_on": "2027-01-20",
        "rankings": [],
    }
    slots = [
        {**base, "id": "1", "min_level": 5},
        {**base, "id": "2", "starts_on": "2027-01-01"},
        {**base, "id": "3", "requires_dbs": True},
        {**base, "id": "4", "latitude": 51.5, "longitude": -0.12},
        {**base, "id": "5", "latitude": 51.5, "longitude": -0.12, "remote": True},
    ]
    found = ranked_ineligible(trainee, slots)
    assert [(c["slot_id"], c["rule"]) for c in found] == [
        ("1", "level"),
        ("2", "availability"),
        ("3", "dbs"),
        ("4", "distance"),
    ]
    assert found[0]["needed"] == 5 and found[0]["have"] == 4
    assert found[3]["max_travel_km"] == 20.0 and found[3]["km"] > 250
    assert found == engine(trainee, slots)


def test_a_remembered_slot_is_not_confused_with_an_equal_one_of_another_type() -> None:
    trainee = {
        "id": "me",
        "level": 4,
        "skills": [],
        "latitude": 53.8,
        "longitude": -1.55,
        "max_travel_km": 20.0,
        "available_from": "2027-01-01",
        "available_to": "2027-02-01",
        "dbs_cleared": True,
        "preferences": ["1"],
    }
    slot = {
        "id": "1",
        "capacity": 1,
        "min_level": 4,
        "required_skills": ["suturing"],
        "latitude": 53.8,
        "longitude": -1.55,
        "remote": True,
        "requires_dbs": False,
        "starts_on": "2027-01-10",
        "ends_on": "2027-01-20",
        "rankings": [],
    }
    assert ranked_ineligible(trainee, [slot]) == [] == engine(trainee, [slot])
    one = {**slot, "remote": 1}  # equal to True, but not a boolean
    assert light(trainee, [one]) == "invalid" == engine(trainee, [one])
    odd = {**slot, "required_skills": [{"name": "suturing"}]}  # unhashable: not remembered
    assert light(trainee, [odd]) == engine(trainee, [odd])
