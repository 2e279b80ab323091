"""The `placement-instance/1` file: parsed records and their validation.

Validation happens once, here, and every message names the record and the field
(``trainees[12].level: must be 4 or 5``) so a coordinator can fix the file. Ids are opaque:
a string or an integer, compared as given and echoed back unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from operator import attrgetter
from typing import Any, TypeAlias

import numpy as np

FORMAT = "placement-instance/1"
MODES = ("optimal", "stable")

Id: TypeAlias = str | int

DEFAULT_WEIGHTS: dict[str, float] = {
    "preference": 1.0,
    "employer": 0.25,
    "skills": 2.0,
    "distance": 1.0,
}
"""Cost weights used for every key an instance leaves out.

- ``preference`` 1: the trainee's own ranking is the primary signal (DESIGN.md fixes it).
- ``employer`` 0.25: an employer ranking moves a trainee by a few of their own places, not
  more. The raw employer term jumps from ``r*r`` to ``(max_preferences + 1)^2`` when the
  employer did not rank the trainee (121 with 10 preferences), so even a quarter of it is
  worth up to about 30, the gap between a trainee's 1st and 5th choice.
- ``skills`` 2: lacking every required skill costs about as much as dropping from the 1st to
  the 2nd choice (3); missing skills can be taught on placement, so it is a nudge.
- ``distance`` 1: travelling the trainee's whole ``max_travel_km`` costs 1, enough to
  separate otherwise equal choices and to prefer the nearer site, never to override a rank.
"""

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InstanceError(ValueError):
    """An invalid instance; the message is one line naming the record and the field."""


@dataclass(frozen=True, slots=True)
class Trainee:
    """One trainee of the round (see API.md, "Instance file")."""

    id: Id
    level: int
    skills: tuple[str, ...]
    latitude: float
    longitude: float
    max_travel_km: float
    available_from: date
    available_to: date
    dbs_cleared: bool
    preferences: tuple[Id, ...]


@dataclass(frozen=True, slots=True)
class Slot:
    """One placement slot; ``rankings`` is the employer's order of trainees (may be empty)."""

    id: Id
    capacity: int
    min_level: int
    required_skills: tuple[str, ...]
    latitude: float | None
    longitude: float | None
    remote: bool
    requires_dbs: bool
    starts_on: date
    ends_on: date
    rankings: tuple[Id, ...]


@dataclass(frozen=True, slots=True)
class Pair:
    """A (trainee, slot) pair: a locked (approved) placement or a coordinator exclusion."""

    trainee_id: Id
    slot_id: Id


@dataclass(frozen=True)
class Instance:
    """A validated matching problem.

    ``mode`` is ``"optimal"`` or ``"stable"`` and ``seat_values`` asks an optimal solve for
    the value of one more seat at every slot (API.md, "Instance file").

    Sub-instances made by :func:`placement.matching.components` may name slots (in
    preferences) or trainees (in rankings) that they do not contain: ranks keep their
    positions in the original lists, and the absent records are simply not candidates.
    """

    trainees: tuple[Trainee, ...]
    slots: tuple[Slot, ...]
    locked: tuple[Pair, ...] = ()
    excluded: tuple[Pair, ...] = ()
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    max_preferences: int = 10
    allow_unranked: bool = False
    seed: int = 0
    mode: str = "optimal"
    seat_values: bool = False


def load_instance(data: Mapping[str, Any]) -> Instance:
    """Validate a decoded instance document and return the parsed :class:`Instance`.

    Parameters
    ----------
    data : Mapping
        The decoded ``placement-instance/1`` JSON object.

    Returns
    -------
    Instance

    Raises
    ------
    InstanceError
        For a wrong ``format``, a missing or mistyped field (a boolean is not a number), a
        value out of range, a repeated id, a reference to an unknown trainee or slot, a
        repeated slot in one trainee's preferences, more preferences than
        ``max_preferences``, a trainee locked twice, or more locked pairs than seats.
    """
    if not isinstance(data, Mapping):
        raise InstanceError("instance: must be a JSON object")
    options = header_options(data)
    trainee_list = _list(data, "trainees", "trainees")
    slot_list = _list(data, "slots", "slots")
    trainees = tuple(_trainee(rec, f"trainees[{i}]") for i, rec in enumerate(trainee_list))
    slots = tuple(_slot(rec, f"slots[{i}]") for i, rec in enumerate(slot_list))
    return finish_instance(trainees, slots, options, data)


def header_options(data: Mapping[str, Any]) -> dict[str, Any]:
    """The document's settings, checked in file order: format, then every option."""
    if data.get("format") != FORMAT:
        raise InstanceError(f"format: expected '{FORMAT}'")
    max_preferences = _int(data, "max_preferences", "max_preferences", 1, 50, default=10)
    allow_unranked = _bool(data, "allow_unranked", "allow_unranked", default=False)
    seed = _int(data, "seed", "seed", 0, 2**63 - 1, default=0)
    mode = data.get("mode", "optimal")
    if mode not in MODES:
        raise InstanceError("mode: must be 'optimal' or 'stable'")
    seat_values = _bool(data, "seat_values", "seat_values", default=False)
    return {
        "weights": _weights(data.get("weights")),
        "max_preferences": max_preferences,
        "allow_unranked": allow_unranked,
        "seed": seed,
        "mode": mode,
        "seat_values": seat_values,
    }


def finish_instance(
    trainees: tuple[Trainee, ...],
    slots: tuple[Slot, ...],
    options: Mapping[str, Any],
    pairs: Mapping[str, Any],
) -> Instance:
    """Checks across records (ids, references, pairs) and the :class:`Instance`.

    ``pairs`` holds the document's ``locked`` and ``excluded`` lists (or neither). Shared
    by :func:`load_instance` and the fast decoder of :mod:`placement.matching.decoding`,
    so both give the same messages in the same order.
    """
    max_preferences = options["max_preferences"]
    trainee_ids = _unique_ids(trainees, "trainees")
    slot_ids = _unique_ids(slots, "slots")

    preferred = _reference_positions(trainees, "preferences", slot_ids, max_preferences)
    if preferred is None:
        _check_references(trainees, slot_ids, max_preferences)
    if _reference_positions(slots, "rankings", trainee_ids, None) is None:
        _check_rankings(slots, trainee_ids)

    locked = _pairs(_list(pairs, "locked", "locked", default=[]), "locked", trainee_ids, slot_ids)
    excluded = _pairs(
        _list(pairs, "excluded", "excluded", default=[]), "excluded", trainee_ids, slot_ids
    )
    locked_trainees: set[Id] = set()
    seats_used: dict[Id, int] = {}
    for i, pair in enumerate(locked):
        if pair.trainee_id in locked_trainees:
            raise InstanceError(
                f"locked[{i}].trainee_id: trainee {pair.trainee_id!r} is locked twice"
            )
        locked_trainees.add(pair.trainee_id)
        seats_used[pair.slot_id] = seats_used.get(pair.slot_id, 0) + 1
    for sid, used in seats_used.items():
        capacity = slots[slot_ids[sid]].capacity
        if used > capacity:
            raise InstanceError(
                f"locked: slot {sid!r} has {used} locked pairs but capacity {capacity}"
            )

    instance = Instance(trainees=trainees, slots=slots, locked=locked, excluded=excluded, **options)
    # The slot position of every preference, for placement.matching.problem.ranked_pairs: a
    # private attribute of this object (not a field), so replace() and sub-instances drop it.
    object.__setattr__(instance, PREFERENCE_POSITIONS, preferred)
    return instance


PREFERENCE_POSITIONS = "_preference_positions"


def _reference_positions(
    records: Sequence[Trainee | Slot],
    name: str,
    known: Mapping[Id, int],
    longest: int | None,
) -> np.ndarray | None:
    """Fast check of every id list: known ids, none repeated, not too long (no messages).

    Returns the position of every referenced record, list after list (``None`` when a check
    fails: then the record-by-record check below finds the first problem and names it).
    """
    lists = list(map(attrgetter(name), records))
    counts = np.fromiter(map(len, lists), np.int64, len(lists))
    if longest is not None and int(counts.max(initial=0)) > longest:
        return None
    total = int(counts.sum())
    try:
        positions = np.fromiter(map(known.__getitem__, chain.from_iterable(lists)), np.int64, total)
    except KeyError:
        return None
    keys = np.repeat(np.arange(len(lists), dtype=np.int64), counts) * max(len(known), 1)
    keys += positions
    keys.sort()
    if bool((keys[1:] == keys[:-1]).any()):
        return None
    return positions


def _check_references(
    trainees: Sequence[Trainee], slot_ids: Mapping[Id, int], max_preferences: int
) -> None:
    for i, t in enumerate(trainees):
        where = f"trainees[{i}].preferences"
        if len(t.preferences) > max_preferences:
            raise InstanceError(
                f"{where}: {len(t.preferences)} preferences but max_preferences is "
                f"{max_preferences}"
            )
        seen: set[Id] = set()
        for j, sid in enumerate(t.preferences):
            if sid not in slot_ids:
                raise InstanceError(f"{where}[{j}]: unknown slot {sid!r}")
            if sid in seen:
                raise InstanceError(f"{where}[{j}]: repeated slot {sid!r}")
            seen.add(sid)


def _check_rankings(slots: Sequence[Slot], trainee_ids: Mapping[Id, int]) -> None:
    for i, s in enumerate(slots):
        where = f"slots[{i}].rankings"
        seen: set[Id] = set()
        for j, tid in enumerate(s.rankings):
            if tid not in trainee_ids:
                raise InstanceError(f"{where}[{j}]: unknown trainee {tid!r}")
            if tid in seen:
                raise InstanceError(f"{where}[{j}]: repeated trainee {tid!r}")
            seen.add(tid)


def _is_int(value: object) -> bool:
    # JSON true/false decode to bool, a subclass of int: reject them as numbers.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    # Huge JSON integers are exact in Python but not representable as a float.
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53


def _require(rec: Mapping[str, Any], key: str, where: str, default: Any) -> Any:
    if key in rec:
        return rec[key]
    if default is _MISSING:
        raise InstanceError(f"{where}: missing field")
    return default


_MISSING: Any = object()


def _int(
    rec: Mapping[str, Any], key: str, where: str, lo: int, hi: int, default: Any = _MISSING
) -> int:
    value = _require(rec, key, where, default)
    if not _is_int(value):
        raise InstanceError(f"{where}: must be an integer")
    if not lo <= value <= hi:
        raise InstanceError(f"{where}: must be between {lo} and {hi}")
    return int(value)


def _number(
    rec: Mapping[str, Any], key: str, where: str, lo: float, hi: float, default: Any = _MISSING
) -> float:
    value = _require(rec, key, where, default)
    if not _is_number(value):
        raise InstanceError(f"{where}: must be a number")
    if not lo <= value <= hi:
        raise InstanceError(f"{where}: must be between {lo:g} and {hi:g}")
    return float(value)


def _bool(rec: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> bool:
    value = _require(rec, key, where, default)
    if not isinstance(value, bool):
        raise InstanceError(f"{where}: must be true or false")
    return value


def _list(rec: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> list[Any]:
    value = _require(rec, key, where, default)
    if not isinstance(value, list):
        raise InstanceError(f"{where}: must be a list")
    return value


def _strings(rec: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = _list(rec, key, where, default=[])
    for j, value in enumerate(values):
        if not isinstance(value, str):
            raise InstanceError(f"{where}[{j}]: must be a string")
    return tuple(values)


def _id(value: object, where: str) -> Id:
    if not (_is_int(value) or isinstance(value, str)):
        raise InstanceError(f"{where}: must be a string or an integer")
    return value  # type: ignore[return-value]


_ID_TYPES = frozenset({str, int})


def _ids(rec: Mapping[str, Any], key: str, where: str) -> tuple[Id, ...]:
    values = _list(rec, key, where, default=[])
    if _ID_TYPES.issuperset(map(type, values)):  # fast path: exact str/int (never bool)
        return tuple(values)
    return tuple(_id(value, f"{where}[{j}]") for j, value in enumerate(values))


def _date(rec: Mapping[str, Any], key: str, where: str) -> date:
    value = _require(rec, key, where, _MISSING)
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise InstanceError(f"{where}: must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InstanceError(f"{where}: not a valid date {value!r}") from None


def _record(rec: object, where: str) -> Mapping[str, Any]:
    if not isinstance(rec, Mapping):
        raise InstanceError(f"{where}: must be an object")
    return rec


def _level(rec: Mapping[str, Any], key: str, where: str) -> int:
    value = _require(rec, key, where, _MISSING)
    if not _is_int(value) or value not in (4, 5):
        raise InstanceError(f"{where}: must be 4 or 5")
    return int(value)


def _trainee(raw: object, where: str) -> Trainee:
    rec = _record(raw, where)
    trainee = Trainee(
        id=_id(_require(rec, "id", f"{where}.id", _MISSING), f"{where}.id"),
        level=_level(rec, "level", f"{where}.level"),
        skills=_strings(rec, "skills", f"{where}.skills"),
        latitude=_number(rec, "latitude", f"{where}.latitude", -90, 90),
        longitude=_number(rec, "longitude", f"{where}.longitude", -180, 180),
        max_travel_km=_number(rec, "max_travel_km", f"{where}.max_travel_km", 0, math.inf),
        available_from=_date(rec, "available_from", f"{where}.available_from"),
        available_to=_date(rec, "available_to", f"{where}.available_to"),
        dbs_cleared=_bool(rec, "dbs_cleared", f"{where}.dbs_cleared"),
        preferences=_ids(rec, "preferences", f"{where}.preferences"),
    )
    if trainee.max_travel_km <= 0:
        raise InstanceError(f"{where}.max_travel_km: must be greater than 0")
    if trainee.available_to < trainee.available_from:
        raise InstanceError(f"{where}.available_to: must not be before available_from")
    return trainee


def _slot(raw: object, where: str) -> Slot:
    rec = _record(raw, where)
    remote = _bool(rec, "remote", f"{where}.remote", default=False)
    # A remote slot needs no site; a missing or null position is fine there.
    site_default = None if remote else _MISSING
    lat = _require(rec, "latitude", f"{where}.latitude", site_default)
    lon = _require(rec, "longitude", f"{where}.longitude", site_default)
    slot = Slot(
        id=_id(_require(rec, "id", f"{where}.id", _MISSING), f"{where}.id"),
        capacity=_int(rec, "capacity", f"{where}.capacity", 1, 100),
        min_level=_level(rec, "min_level", f"{where}.min_level"),
        required_skills=_strings(rec, "required_skills", f"{where}.required_skills"),
        latitude=None
        if remote and lat is None
        else _number(rec, "latitude", f"{where}.latitude", -90, 90),
        longitude=None
        if remote and lon is None
        else _number(rec, "longitude", f"{where}.longitude", -180, 180),
        remote=remote,
        requires_dbs=_bool(rec, "requires_dbs", f"{where}.requires_dbs", default=False),
        starts_on=_date(rec, "starts_on", f"{where}.starts_on"),
        ends_on=_date(rec, "ends_on", f"{where}.ends_on"),
        rankings=_ids(rec, "rankings", f"{where}.rankings"),
    )
    if slot.ends_on < slot.starts_on:
        raise InstanceError(f"{where}.ends_on: must not be before starts_on")
    return slot


def _unique_ids(records: Sequence[Trainee | Slot], kind: str) -> dict[Id, int]:
    ids = list(map(attrgetter("id"), records))
    index = dict(zip(ids, range(len(ids)), strict=True))
    if len(index) == len(ids):
        return index
    index = {}
    for i, rec in enumerate(records):
        if rec.id in index:
            raise InstanceError(f"{kind}[{i}].id: repeated id {rec.id!r}")
        index[rec.id] = i
    return index


def _pairs(
    records: list[Any], key: str, trainee_ids: Mapping[Id, int], slot_ids: Mapping[Id, int]
) -> tuple[Pair, ...]:
    pairs = []
    for i, raw in enumerate(records):
        where = f"{key}[{i}]"
        rec = _record(raw, where)
        tid = _id(
            _require(rec, "trainee_id", f"{where}.trainee_id", _MISSING), f"{where}.trainee_id"
        )
        sid = _id(_require(rec, "slot_id", f"{where}.slot_id", _MISSING), f"{where}.slot_id")
        if tid not in trainee_ids:
            raise InstanceError(f"{where}.trainee_id: unknown trainee {tid!r}")
        if sid not in slot_ids:
            raise InstanceError(f"{where}.slot_id: unknown slot {sid!r}")
        pairs.append(Pair(tid, sid))
    return tuple(pairs)


def _weights(raw: object) -> dict[str, float]:
    weights = dict(DEFAULT_WEIGHTS)
    if raw is None:
        return weights
    if not isinstance(raw, Mapping):
        raise InstanceError("weights: must be an object")
    for key, value in raw.items():
        if key not in DEFAULT_WEIGHTS:
            raise InstanceError(
                f"weights.{key}: unknown weight (expected preference, employer, skills, distance)"
            )
        if not _is_number(value) or value < 0:
            raise InstanceError(f"weights.{key}: must be a non-negative finite number")
        weights[key] = float(value)
    return weights
