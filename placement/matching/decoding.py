"""Instance files: :func:`parse_instance_json`, a typed fast path and the exact validator.

msgspec decodes the JSON text straight into typed records whose constraints are the
per-field rules of :mod:`placement.matching.instance` (an integer is never a boolean,
``level`` is 4 or 5, coordinates in range, dates ``YYYY-MM-DD``); the few rules across fields
(``available_to`` not before ``available_from``, a site unless remote, finite and exactly
representable distances) are checked on whole columns. The checks across records (ids,
references, locked and excluded pairs) are the exact validator's own
(:func:`~placement.matching.instance.finish_instance`).

The fast path only ever *accepts*. Whenever it finds anything wrong (or anything it does not
model exactly, such as a distance beyond 2**53) it returns ``None`` and the caller runs the
exact validator, which produces the one-line message. So a valid file gives the same
:class:`Instance` either way and an invalid one the same message; the tests check both.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import date
from itertools import chain, compress, starmap
from operator import attrgetter, lt, not_
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Raw, Struct
from msgspec.structs import asdict, astuple

from .instance import (
    Instance,
    InstanceError,
    Slot,
    Trainee,
    finish_instance,
    header_options,
    load_instance,
)

_Id = str | int
_Lat = Annotated[float, Meta(ge=-90, le=90)]
_Lon = Annotated[float, Meta(ge=-180, le=180)]
_Level = Annotated[int, Meta(ge=4, le=5)]
# Numbers must be finite and, when given as integers, below 2**53 (``_is_number``); floats
# out of that range are rare enough to leave to the exact validator.
_EXACT_FLOAT = float(2**53)


class _TraineeRec(Struct, kw_only=True, gc=False):
    """A trainee as decoded; the fields in :class:`Trainee` order (``astuple`` builds one)."""

    id: _Id
    level: _Level
    skills: tuple[str, ...] = ()
    latitude: _Lat
    longitude: _Lon
    max_travel_km: Annotated[float, Meta(gt=0)]
    available_from: date
    available_to: date
    dbs_cleared: bool
    preferences: tuple[_Id, ...] = ()


class _SlotRec(Struct, kw_only=True, gc=False):
    """A slot as decoded, the fields in :class:`Slot` order."""

    id: _Id
    capacity: Annotated[int, Meta(ge=1, le=100)]
    min_level: _Level
    required_skills: tuple[str, ...] = ()
    latitude: _Lat | None = None
    longitude: _Lon | None = None
    remote: bool = False
    requires_dbs: bool = False
    starts_on: date
    ends_on: date
    rankings: tuple[_Id, ...] = ()


class _PairRec(Struct, gc=False):
    trainee_id: _Id
    slot_id: _Id


_ABSENT = Raw(b"")


class _Document(Struct):
    """The whole document; settings stay raw and are read by the exact code."""

    trainees: list[_TraineeRec]
    slots: list[_SlotRec]
    locked: list[_PairRec] = []
    excluded: list[_PairRec] = []
    format: Raw = _ABSENT
    max_preferences: Raw = _ABSENT
    allow_unranked: Raw = _ABSENT
    seed: Raw = _ABSENT
    mode: Raw = _ABSENT
    seat_values: Raw = _ABSENT
    weights: Raw = _ABSENT


_SETTINGS = (
    "format", "max_preferences", "allow_unranked", "seed", "mode", "seat_values", "weights",
)  # fmt: skip
_DECODER = msgspec.json.Decoder(_Document)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def parse_instance_json(text: str | bytes) -> Instance:
    """Parse and validate an instance file.

    Parameters
    ----------
    text : str or bytes
        The JSON document.

    Returns
    -------
    Instance

    Raises
    ------
    InstanceError
        ``not valid JSON: ...`` or any message of :func:`load_instance`.

    Notes
    -----
    A valid file is decoded by the typed fast path (:func:`decode_instance`);
    whenever that path finds a problem, this exact validator reads the file again and
    names it, so messages do not depend on the path.
    """
    fast = decode_instance(text)
    if fast is not None:
        return fast
    return parse_instance_json_exact(text)


def parse_instance_json_exact(text: str | bytes) -> Instance:
    """:func:`parse_instance_json` with the standard library's decoder and no fast path."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8-sig")
        elif text.startswith("\ufeff"):
            text = text[1:]
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        # json.JSONDecodeError is a ValueError; so is a NaN or Infinity, which JSON lacks.
        raise InstanceError(f"not valid JSON: {_one_line(str(exc))}") from None
    if not isinstance(data, Mapping):
        raise InstanceError("instance: must be a JSON object")
    return load_instance(data)


def decode_instance(text: str | bytes, timings: dict[str, float] | None = None) -> Instance | None:
    """The :class:`Instance` of a valid file, ``None`` when the exact validator must look.

    ``timings``, if given, receives the seconds of ``"decode"`` (the typed decoding with the
    per-field rules) and ``"validate"`` (the rest), for the benchmarks.

    Raises
    ------
    InstanceError
        Only for the document's settings (``format``, ``max_preferences``, ...) and the
        checks across records, with the exact validator's messages: those are its code.
    """
    if isinstance(text, str):
        text = text.removeprefix("\ufeff")
    elif text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]
    clock = time.perf_counter()
    try:
        doc = _DECODER.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if timings is not None:
        timings["decode"] = time.perf_counter() - clock
        clock = time.perf_counter()
    raws = {key: bytes(raw) for key in _SETTINGS if (raw := getattr(doc, key)) is not _ABSENT}
    instance = _instance_of(doc.trainees, doc.slots, doc.locked, doc.excluded, raws)
    if timings is not None:
        timings["validate"] = time.perf_counter() - clock
    return instance


def _instance_of(
    trainee_recs: list[_TraineeRec],
    slot_recs: list[_SlotRec],
    locked: list[_PairRec],
    excluded: list[_PairRec],
    raw_settings: Mapping[str, bytes],
) -> Instance | None:
    """The rest of :func:`decode_instance` once the records are decoded: the settings (their
    JSON text, by key), the rules across fields and records."""
    if not _trainees_ok(trainee_recs):
        return None
    trainees = tuple(starmap(Trainee, map(astuple, trainee_recs)))
    return _finish(trainees, slot_recs, locked, excluded, raw_settings)


def _finish(
    trainees: tuple[Trainee, ...],
    slot_recs: list[_SlotRec],
    locked: list[_PairRec],
    excluded: list[_PairRec],
    raw_settings: Mapping[str, bytes],
) -> Instance | None:
    settings: dict[str, Any] = {}
    for key, raw in raw_settings.items():
        try:
            settings[key] = json.loads(raw, parse_constant=_reject_constant)
        except ValueError:
            return None
    if not _slots_ok(slot_recs):
        return None
    options = header_options(settings)
    slots = tuple(starmap(Slot, map(astuple, slot_recs)))
    pairs = {"locked": list(map(asdict, locked)), "excluded": list(map(asdict, excluded))}
    return finish_instance(trainees, slots, options, pairs)


_TRAINEE_LIST = msgspec.json.Decoder(list[_TraineeRec])


class _Rest(Struct):
    slots: list[_SlotRec]
    locked: list[_PairRec] = []
    excluded: list[_PairRec] = []


_REST = msgspec.json.Decoder(_Rest)


class PartsDecoder:
    """:func:`decode_instance` of a file that arrives in pieces: the items of its
    ``trainees`` array in runs (decoded as each arrives, say while the database still
    writes the next), its ``slots``, ``locked`` and ``excluded`` arrays, then its settings.

    Each record is decoded from exactly the text it has in the file, and the records are
    put together in the file's order, so :meth:`finish` gives what :func:`decode_instance`
    gives for the whole file: the same :class:`Instance`, or ``None`` (then the caller runs
    :func:`parse_instance_json` on the whole file for the exact answer or message).
    """

    def __init__(self) -> None:
        self._runs: dict[int, tuple[Trainee, ...]] = {}
        self._rest: _Rest | None = None
        self._failed = False

    def trainees(self, index: int, items: bytes) -> None:
        """Run number ``index`` of the trainees: their items, comma-separated (no brackets)."""
        try:
            records = _TRAINEE_LIST.decode(b"[" + items + b"]")
        except (msgspec.DecodeError, msgspec.ValidationError):
            self._failed = True
            return
        if not _trainees_ok(records):
            self._failed = True
            return
        self._runs[index] = tuple(starmap(Trainee, map(astuple, records)))

    def others(self, slots: bytes, locked: bytes, excluded: bytes) -> None:
        """The items of the ``slots``, ``locked`` and ``excluded`` arrays."""
        text = b'{"excluded":[' + excluded + b'],"locked":[' + locked + b'],"slots":['
        try:
            self._rest = _REST.decode(text + slots + b"]}")
        except (msgspec.DecodeError, msgspec.ValidationError):
            self._failed = True

    def finish(self, raw_settings: Mapping[str, bytes]) -> Instance | None:
        """The instance, given the JSON text of each setting in the file, by key."""
        if self._failed or self._rest is None:
            return None
        trainees = tuple(chain.from_iterable(self._runs[i] for i in sorted(self._runs)))
        rest = self._rest
        raws = {key: raw_settings[key] for key in _SETTINGS if key in raw_settings}
        return _finish(trainees, rest.slots, rest.locked, rest.excluded, raws)


def _trainees_ok(records: list[_TraineeRec]) -> bool:
    """The trainee rules across fields, on whole columns (no per-record Python)."""
    travel = list(map(attrgetter("max_travel_km"), records))
    if max(travel, default=0.0) >= _EXACT_FLOAT:
        return False
    starts = map(attrgetter("available_from"), records)
    ends = map(attrgetter("available_to"), records)
    return not any(map(lt, ends, starts))


def _slots_ok(records: list[_SlotRec]) -> bool:
    """A site unless remote, and ``ends_on`` not before ``starts_on``."""
    starts = map(attrgetter("starts_on"), records)
    ends = map(attrgetter("ends_on"), records)
    if any(map(lt, ends, starts)):
        return False
    remote = list(map(attrgetter("remote"), records))
    if all(remote):
        return True
    on_site = list(map(not_, remote))
    lats = list(compress(map(attrgetter("latitude"), records), on_site))
    lons = list(compress(map(attrgetter("longitude"), records), on_site))
    return None not in lats and None not in lons


__all__ = ["PartsDecoder", "decode_instance", "parse_instance_json", "parse_instance_json_exact"]
