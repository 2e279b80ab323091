"""Postcodes to coordinates: people type postcodes, the matcher needs latitude and longitude.

Where the answers come from, in order: a self-hosted postcodes.io when POSTCODES_IO_URL is
set, then the `postcodes` table (loaded from the ONS Postcode Directory by
`placement load-postcodes`). An unknown postcode in a known district (outward code, "B15")
resolves to postcodes.io's centre of the district, or else the mean of that district's
postcodes in the table, and says it is approximate; a centre from postcodes.io is kept
(`DistrictCentre`) so that pages can still say so later.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from placement.config import Settings
from placement.errors import InvalidInput
from placement.models import DistrictCentre, Organisation, Postcode, Trainee, utcnow
from placement.services.common import chunks

# Outward code (area, district, optional sub-district letter), then inward code; GIR 0AA is
# the one historic exception still in the directory.
_POSTCODE = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?|GIR)([0-9][A-Z]{2})")
_SPACES = re.compile(r"\s+")
FORMAT_MESSAGE = "Enter a full UK postcode, like B15 2TT"

HTTP_TIMEOUT = 3.0


@dataclass(frozen=True)
class Location:
    postcode: str
    latitude: float
    longitude: float
    # True when the postcode itself is unknown and this is the centre of its district.
    approximate: bool = False

    @property
    def note(self) -> str:
        if not self.approximate:
            return f"Located by postcode {self.postcode}."
        return (
            f"We could not find {self.postcode} itself, so we used the centre of "
            f"{outward_of(self.postcode)}; distances may be a few kilometres out."
        )


class HasLocation(Protocol):
    @property
    def postcode(self) -> str | None: ...
    @property
    def latitude(self) -> float | None: ...
    @property
    def longitude(self) -> float | None: ...


# --- postcodes as text -----------------------------------------------------------------


def normalise(raw: str | None) -> str | None:
    """`raw` as the directory writes it ("b152tt" -> "B15 2TT"), or None if it is not a
    UK postcode."""
    if raw is None:
        return None
    match = _POSTCODE.fullmatch(_SPACES.sub("", raw).upper())
    if match is None:
        return None
    return f"{match.group(1)} {match.group(2)}"


def require_postcode(raw: str, *, field: str = "postcode") -> str:
    postcode = normalise(raw)
    if postcode is None:
        raise InvalidInput(errors={field: [FORMAT_MESSAGE]})
    return postcode


def outward_of(postcode: str) -> str:
    return postcode.split(" ", 1)[0]


def not_found_message(postcode: str) -> str:
    return f"We could not find postcode {postcode}; check it or enter the nearest postcode you know"


def unreachable_message(postcode: str) -> str:
    return (
        f"We could not look up postcode {postcode} just now (the postcode service did not "
        "answer); try again in a few minutes"
    )


# --- postcodes.io ----------------------------------------------------------------------


class PostcodeServiceDown(Exception):
    """The postcodes.io service timed out, refused, or answered with something unusable."""


class PostcodesIo:
    """A self-hosted postcodes.io: `GET /postcodes/{postcode}` and `GET /outcodes/{outcode}`."""

    def __init__(self, base_url: str, *, timeout: float | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = HTTP_TIMEOUT if timeout is None else timeout

    def _get(self, path: str) -> dict[str, Any] | None:
        """The `result` of a GET, or None for a 404."""
        url = f"{self.base_url}/{path}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 404:
                return None
            raise PostcodeServiceDown(f"{url} answered HTTP {exc.code}") from exc
        except (OSError, ValueError) as exc:  # URLError, timeouts, resets; bad JSON
            raise PostcodeServiceDown(f"{url}: {exc}") from exc
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            raise PostcodeServiceDown(f"{url} answered without a result")
        return result

    @staticmethod
    def _coordinates(result: dict[str, Any] | None) -> tuple[float, float] | None:
        if result is None:
            return None
        lat, lon = result.get("latitude"), result.get("longitude")
        if lat is None or lon is None:  # postcodes.io's "no grid reference"
            return None
        try:
            return float(lat), float(lon)
        except (TypeError, ValueError) as exc:
            raise PostcodeServiceDown(f"unusable coordinates {lat!r}, {lon!r}") from exc

    def find(self, postcode: str) -> Location | None:
        found = self._coordinates(self._get(f"postcodes/{urllib.parse.quote(postcode)}"))
        return None if found is None else Location(postcode, *found)

    def find_outward(self, postcode: str) -> Location | None:
        outward = urllib.parse.quote(outward_of(postcode))
        found = self._coordinates(self._get(f"outcodes/{outward}"))
        return None if found is None else Location(postcode, *found, approximate=True)


# --- lookups ---------------------------------------------------------------------------


def _adapter(settings: Settings | None) -> PostcodesIo | None:
    if settings is None or not settings.postcodes_io_url:
        return None
    return PostcodesIo(settings.postcodes_io_url)


def _from_table(session: Session, postcodes: list[str]) -> dict[str, Location]:
    found: dict[str, Location] = {}
    for chunk in chunks(postcodes):
        rows = session.exec(select(Postcode).where(col(Postcode.postcode).in_(chunk))).all()
        for row in rows:
            found[row.postcode] = Location(row.postcode, row.latitude, row.longitude)
    return found


def _districts(session: Session, outwards: list[str]) -> dict[str, tuple[float, float]]:
    centres: dict[str, tuple[float, float]] = {}
    for chunk in chunks(outwards):
        rows = session.exec(
            select(Postcode.outward, func.avg(Postcode.latitude), func.avg(Postcode.longitude))
            .where(col(Postcode.outward).in_(chunk))
            .group_by(Postcode.outward)
        ).all()
        for outward, lat, lon in rows:
            centres[outward] = (round(float(lat), 6), round(float(lon), 6))
    return centres


def _remember_centre(session: Session, location: Location) -> None:
    """Keep a district centre from postcodes.io, so the places given it stay approximate."""
    outward = outward_of(location.postcode)
    lat, lon = round(location.latitude, 6), round(location.longitude, 6)
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgres_insert
    # Known already, or two lookups of one new district racing: the unique constraint
    # keeps one row.
    session.execute(
        insert(DistrictCentre)
        .values(outward=outward, latitude=lat, longitude=lon, recorded_at=utcnow())
        .on_conflict_do_nothing()
    )


def _remembered_centres(session: Session, outwards: list[str]) -> set[tuple[str, float, float]]:
    centres: set[tuple[str, float, float]] = set()
    for chunk in chunks(outwards):
        rows = session.exec(
            select(DistrictCentre.outward, DistrictCentre.latitude, DistrictCentre.longitude).where(
                col(DistrictCentre.outward).in_(chunk)
            )
        ).all()
        centres.update((outward, lat, lon) for outward, lat, lon in rows)
    return centres


def lookup_many(
    session: Session, postcodes: Iterable[str], *, settings: Settings | None = None
) -> tuple[dict[str, Location], set[str]]:
    """Locations of normalised `postcodes` (exact ones first, then district centres), and
    the postcodes left unknown only because the postcode service did not answer."""
    wanted = list(dict.fromkeys(postcodes))
    found: dict[str, Location] = {}
    adapter = _adapter(settings)
    unanswered: set[str] = set()
    if adapter is not None:
        for postcode in wanted:
            try:
                location = adapter.find(postcode)
            except PostcodeServiceDown:
                unanswered.add(postcode)
                continue
            if location is not None:
                found[postcode] = location
    found.update(_from_table(session, [p for p in wanted if p not in found]))
    left = [p for p in wanted if p not in found]
    if adapter is not None:
        for postcode in left:
            if postcode in unanswered:
                continue
            try:
                location = adapter.find_outward(postcode)
            except PostcodeServiceDown:
                unanswered.add(postcode)
                continue
            if location is not None:
                found[postcode] = location
                _remember_centre(session, location)
    left = [p for p in left if p not in found]
    centres = _districts(session, sorted({outward_of(p) for p in left}))
    for postcode in left:
        centre = centres.get(outward_of(postcode))
        if centre is not None:
            found[postcode] = Location(postcode, *centre, approximate=True)
    return found, {p for p in unanswered if p not in found}


def lookup(session: Session, postcode: str, *, settings: Settings | None = None) -> Location | None:
    """Where `postcode` is (normalised or not), or None if neither it nor its district is
    known. Raises InvalidInput when the format is wrong or the postcode service is down."""
    normalised = require_postcode(postcode)
    found, unanswered = lookup_many(session, [normalised], settings=settings)
    if normalised in unanswered:
        raise InvalidInput(errors={"postcode": [unreachable_message(normalised)]})
    return found.get(normalised)


def locate(
    session: Session, postcode: str, *, settings: Settings | None = None, field: str = "postcode"
) -> Location:
    """Like `lookup`, but an unknown postcode is InvalidInput naming `field`."""
    try:
        location = lookup(session, postcode, settings=settings)
    except InvalidInput as exc:
        raise InvalidInput(errors={field: exc.errors["postcode"]}) from exc
    if location is None:
        raise InvalidInput(errors={field: [not_found_message(require_postcode(postcode))]})
    return location


def approximate_notes(session: Session, located: Iterable[HasLocation | None]) -> dict[str, str]:
    """For each stored place whose coordinates came from a district fallback, a sentence
    saying so, by postcode. Read from what is stored: the postcode is not in the table and
    the coordinates are its district's centre, from the table or one postcodes.io gave
    (`DistrictCentre`)."""
    places = [
        (postcode, item.latitude, item.longitude)
        for item in located
        if item is not None
        and item.latitude is not None
        and item.longitude is not None
        and (postcode := normalise(item.postcode)) is not None
    ]
    if not places:
        return {}
    exact = set(_from_table(session, [p for p, _, _ in places]))
    outwards = sorted({outward_of(p) for p, _, _ in places if p not in exact})
    centres = _districts(session, outwards)
    remembered = _remembered_centres(session, outwards)
    notes: dict[str, str] = {}
    for postcode, lat, lon in places:
        if postcode in exact:
            continue
        outward = outward_of(postcode)
        candidates = [(c_lat, c_lon) for o, c_lat, c_lon in remembered if o == outward]
        if outward in centres:
            candidates.append(centres[outward])
        if any(abs(c_lat - lat) < 1e-5 and abs(c_lon - lon) < 1e-5 for c_lat, c_lon in candidates):
            notes[postcode] = approximate_message(postcode)
    return notes


def approximate_message(postcode: str) -> str:
    return (
        f"Location approximate: we found the area ({outward_of(postcode)}) but not the full "
        f"postcode {postcode}, so distances may be a few kilometres out."
    )


def approximate_note(session: Session, located: HasLocation | None) -> str | None:
    """`approximate_notes` for one place: the sentence, or None when it is exact."""
    notes = approximate_notes(session, [located])
    return next(iter(notes.values()), None)


# --- the rule the services share --------------------------------------------------------


def needs_lookup(values: dict[str, Any], current: HasLocation | None) -> str | None:
    """The normalised postcode whose coordinates `values` should take, if any.

    Normalises `values["postcode"]` in place (InvalidInput on a malformed one; a blank one
    becomes None). Coordinates given explicitly win. A new or changed postcode without
    coordinates needs a lookup, so that no record keeps the old postcode's coordinates; so
    does an unchanged postcode whose coordinates are missing or being cleared."""
    if "postcode" not in values:
        return None
    raw = values["postcode"]
    if raw is None or not str(raw).strip():
        values["postcode"] = None
        return None
    postcode = require_postcode(str(raw))
    values["postcode"] = postcode
    if any(values.get(key) is not None for key in ("latitude", "longitude")):
        return None
    if current is not None and normalise(current.postcode) == postcode:
        after = [values.get(key, getattr(current, key)) for key in ("latitude", "longitude")]
        if all(value is not None for value in after):
            return None
    return postcode


def fill_coordinates(
    session: Session,
    values: dict[str, Any],
    *,
    current: HasLocation | None = None,
    settings: Settings | None = None,
) -> Location | None:
    """Apply the postcode rule (see `needs_lookup`) to `values` in place: latitude and
    longitude from the postcode when it is given without them. An unknown postcode is
    InvalidInput naming `postcode`."""
    postcode = needs_lookup(values, current)
    if postcode is None:
        return None
    location = locate(session, postcode, settings=settings)
    values["latitude"], values["longitude"] = location.latitude, location.longitude
    return location


def fill_missing_coordinates(*, session: Session, settings: Settings | None = None) -> int:
    """Give coordinates to trainees and organisations that have a postcode but none (saved
    before the directory was loaded); those whose postcode is still unknown stay as they
    are. Returns how many were filled. The caller commits."""
    filled = 0
    models: tuple[Any, ...] = (Trainee, Organisation)
    for model in models:
        rows = session.exec(
            select(model).where(
                col(model.postcode).is_not(None),
                col(model.latitude).is_(None) | col(model.longitude).is_(None),
            )
        ).all()
        wanted = [(row, normalise(row.postcode)) for row in rows]
        found, _ = lookup_many(session, [p for _, p in wanted if p is not None], settings=settings)
        for row, postcode in wanted:
            location = found.get(postcode) if postcode is not None else None
            if location is not None:
                row.postcode = postcode
                row.latitude, row.longitude = location.latitude, location.longitude
                filled += 1
    session.flush()
    return filled
