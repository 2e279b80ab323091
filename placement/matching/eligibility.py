"""One trainee's ranked slots that a hard rule forbids, without building a whole problem.

:func:`ranked_ineligible` answers what :func:`placement.matching.explanations.ineligible_choices`
answers for an instance of one trainee and the slots they ranked: the same record checks
(:class:`InstanceError` for a record the matcher would reject), the same rules in the same
order as :func:`placement.matching.problem.failed_rule` (level, availability, DBS, distance)
and the same numbers, with the distance computed by the same float operations as
:func:`placement.matching.problem.pair_distance_km`. It skips what one trainee's warning
never needs (hashes, skill arrays, rankings, exclusions), so a request can afford it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from .arrays import _unit_vectors
from .geo import EARTH_RADIUS_KM
from .instance import InstanceError, Slot, _slot, _trainee

MAX_PREFERENCES = 50  # the instance format's bound on one list


def ranked_ineligible(
    trainee: Mapping[str, Any], slots: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``[{"slot_id", "rank", "outcome": "ineligible", "rule", ...numbers}]`` for each slot
    of ``trainee["preferences"]`` (ids of ``slots``; others are skipped) that a hard rule
    forbids, in rank order. ``trainee`` and ``slots`` are instance records.

    Raises :class:`InstanceError` where ``load_instance`` would for these records.
    """
    return ranked_ineligible_parsed(trainee, [_parsed_slot(i, rec) for i, rec in enumerate(slots)])


def slot_from_fields(
    i: int,
    slot_id: str,
    min_level: Any,
    required_skills: Sequence[Any],
    latitude: Any,
    longitude: Any,
    remote: bool,
    requires_dbs: bool,
    starts_on: str,
    ends_on: str,
) -> Slot:
    """The parsed slot of the record ``{"id": slot_id, "capacity": 1, ..., "rankings": []}``
    (what :func:`ranked_ineligible` parses from it), remembered by its fields and their
    types, without building the record: a round's slots change rarely and every saved list
    checks them. Raises :class:`InstanceError` as the record would."""
    skills = tuple(required_skills)
    if not all(type(x) is str for x in skills):
        return _slot(
            _slot_record(
                slot_id,
                min_level,
                list(skills),
                latitude,
                longitude,
                remote,
                requires_dbs,
                starts_on,
                ends_on,
            ),
            f"slots[{i}]",
        )
    try:
        return _fields_slot(
            i, slot_id, type(min_level).__qualname__, min_level, skills,
            type(latitude).__qualname__, latitude, type(longitude).__qualname__, longitude,
            remote, requires_dbs, starts_on, ends_on,
        )  # fmt: skip
    except TypeError:  # an unhashable value: checked (and refused) without the cache
        record = _slot_record(
            slot_id, min_level, list(skills), latitude, longitude, remote, requires_dbs,
            starts_on, ends_on,
        )  # fmt: skip
        return _slot(record, f"slots[{i}]")


def _slot_record(
    slot_id: str,
    min_level: Any,
    required_skills: list[Any],
    latitude: Any,
    longitude: Any,
    remote: bool,
    requires_dbs: bool,
    starts_on: str,
    ends_on: str,
) -> dict[str, Any]:
    return {
        "id": slot_id,
        "capacity": 1,
        "min_level": min_level,
        "required_skills": required_skills,
        "latitude": latitude,
        "longitude": longitude,
        "remote": remote,
        "requires_dbs": requires_dbs,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "rankings": [],
    }


@lru_cache(maxsize=4096)
def _fields_slot(
    i: int,
    slot_id: str,
    _level_type: str,
    min_level: Any,
    skills: tuple[str, ...],
    _lat_type: str,
    latitude: Any,
    _lon_type: str,
    longitude: Any,
    remote: bool,
    requires_dbs: bool,
    starts_on: str,
    ends_on: str,
) -> Slot:
    record = _slot_record(
        slot_id, min_level, list(skills), latitude, longitude, remote, requires_dbs,
        starts_on, ends_on,
    )  # fmt: skip
    return _slot(record, f"slots[{i}]")


def ranked_ineligible_parsed(
    trainee: Mapping[str, Any], parsed: Sequence[Slot]
) -> list[dict[str, Any]]:
    """:func:`ranked_ineligible` for slots parsed already (:func:`slot_from_fields`)."""
    t = _trainee(trainee, "trainees[0]")
    by_id = {}
    for i, s in enumerate(parsed):
        if s.id in by_id:
            raise InstanceError(f"slots[{i}].id: repeated id {s.id!r}")
        by_id[s.id] = s
    prefs = list(t.preferences)
    if len(set(prefs)) != len(prefs):
        raise InstanceError("trainees[0].preferences: repeated slot")
    if len(prefs) > MAX_PREFERENCES:
        raise InstanceError(f"trainees[0].preferences: more than {MAX_PREFERENCES}")
    for s_id in prefs:
        if s_id not in by_id:
            raise InstanceError(f"trainees[0].preferences: unknown slot {s_id!r}")
    ranked = [by_id[s_id] for s_id in prefs]
    if not ranked:
        return []
    # The distance exactly as pair_distance_km computes it (same operations, same order).
    t_xyz = _unit_vectors(
        np.radians(np.array([t.latitude], dtype=np.float64)),
        np.radians(np.array([t.longitude], dtype=np.float64)),
    )
    s_lat = np.radians(
        np.array([np.nan if s.latitude is None else s.latitude for s in ranked], np.float64)
    )
    s_lon = np.radians(
        np.array([np.nan if s.longitude is None else s.longitude for s in ranked], np.float64)
    )
    s_xyz = _unit_vectors(s_lat, s_lon)
    zero = np.zeros(len(ranked), dtype=np.int64)
    d = t_xyz[0][zero] - s_xyz[0]
    chord2 = d * d
    d = t_xyz[1][zero] - s_xyz[1]
    chord2 += d * d
    d = t_xyz[2][zero] - s_xyz[2]
    chord2 += d * d
    with np.errstate(invalid="ignore"):  # remote slots may have no site (NaN)
        km = (2.0 * EARTH_RADIUS_KM) * np.arcsin(np.sqrt(np.clip(chord2 * 0.25, 0.0, 1.0)))
    travel = float(t.max_travel_km)
    out: list[dict[str, Any]] = []
    for i, s in enumerate(ranked):
        distance = 0.0 if s.remote else float(km[i])
        numbers: dict[str, Any]
        if t.level < s.min_level:
            rule, numbers = "level", {"needed": int(s.min_level), "have": int(t.level)}
        elif t.available_from > s.starts_on or t.available_to < s.ends_on:
            rule, numbers = (
                "availability",
                {
                    "available_from": t.available_from.isoformat(),
                    "available_to": t.available_to.isoformat(),
                    "starts_on": s.starts_on.isoformat(),
                    "ends_on": s.ends_on.isoformat(),
                },
            )
        elif s.requires_dbs and not t.dbs_cleared:
            rule, numbers = "dbs", {}
        elif not s.remote and not (distance <= travel):
            rule, numbers = "distance", {"km": round(distance, 1), "max_travel_km": travel}
        else:
            continue
        entry: dict[str, Any] = {
            "slot_id": s.id,
            "rank": i + 1,
            "outcome": "ineligible",
            "rule": rule,
        }
        entry.update(numbers)
        out.append(entry)
    return out


def _parsed_slot(i: int, rec: Mapping[str, Any]) -> Slot:
    """`_slot` of a record, remembered by its content (types included: `True` is not `1`
    there): a round's slots change rarely and every list that ranks them is checked."""
    if not isinstance(rec, Mapping):
        return _slot(rec, f"slots[{i}]")
    key = tuple(
        (k, type(v), tuple(v) if isinstance(v, list) else v)
        for k, v in rec.items()
        if not isinstance(v, list) or all(type(x) is str for x in v)
    )
    if len(key) != len(rec):
        return _slot(rec, f"slots[{i}]")  # a list of non-strings: not worth remembering
    try:
        return _checked_slot(i, key)
    except TypeError:  # an unhashable value: checked (and refused) without the cache
        return _slot(rec, f"slots[{i}]")


@lru_cache(maxsize=4096)
def _checked_slot(i: int, key: tuple[tuple[str, type, Any], ...]) -> Slot:
    return _slot({k: list(v) if t is list else v for k, t, v in key}, f"slots[{i}]")
