"""Postcode lookup on both databases: the ONSPD loader, normalisation, the district
fallback, the postcodes.io adapter against a local stand-in, and the services' rule that a
postcode sets coordinates and never leaves stale ones."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func
from sqlmodel import Session, select

from placement.config import Settings
from placement.errors import InvalidInput
from placement.models import Organisation, Postcode, Trainee
from placement.services import organisations, postcodes, slots, trainees
from placement.services.postcode_directory import LoadResult, load_postcode_file, load_postcodes
from placement.services.postcodes import (
    Location,
    PostcodeServiceDown,
    PostcodesIo,
    locate,
    lookup,
    normalise,
)
from tests import factories as f
from tests.postcodes_support import (
    load_demo_postcodes,
    onspd_row,
    onspd_text,
    postcodes_io_stand_in,
)

EDGBASTON = ("B15 2TT", 52.450714, -1.930513)
SELLY_OAK = ("B29 6BD", 52.440100, -1.936800)
SOLIHULL = ("B91 3QJ", 52.412000, -1.778000)


def _load(session: Session, text: str, **kw: Any) -> LoadResult:
    return load_postcodes(session=session, lines=io.StringIO(text, newline=""), **kw)


def _count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(Postcode)).one())


def _with_settings(url: str | None) -> Settings:
    return Settings.from_env({"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"}, postcodes_io_url=url)


# --- postcodes as text (no database) --------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("b152tt", "B15 2TT"),
        ("  B15   2TT ", "B15 2TT"),
        ("b7 4bb", "B7 4BB"),
        ("WV109RU", "WV10 9RU"),
        ("sw1a1aa", "SW1A 1AA"),
        ("ec1a 1bb", "EC1A 1BB"),
        ("GIR0AA", "GIR 0AA"),
        ("B15", None),
        ("B15 2T", None),
        ("15B 2TT", None),
        ("B15 2TTX", None),
        ("", None),
        ("not a postcode", None),
    ],
)
def test_normalise(raw: str, expected: str | None) -> None:
    assert normalise(raw) == expected


def test_a_malformed_postcode_names_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        postcodes.require_postcode("B15", field="postcode")
    assert caught.value.errors == {"postcode": ["Enter a full UK postcode, like B15 2TT"]}


# --- the loader -------------------------------------------------------------------------


def test_loader_reads_onspd_skips_no_grid_keeps_terminated(session: Session) -> None:
    text = onspd_text(
        onspd_row(*EDGBASTON),
        onspd_row(*SELLY_OAK, doterm="202003"),  # terminated: still somewhere people live
        onspd_row("B99 9ZZ", "99.999999", "0.000000"),  # no grid reference
        onspd_row(*SOLIHULL),
        "",
    )
    result = _load(session, text)
    assert (result.loaded, result.skipped_no_grid, result.skipped_unreadable) == (3, 1, 0)
    row = session.get(Postcode, "B29 6BD")
    assert row is not None and row.outward == "B29" and row.latitude == pytest.approx(52.4401)
    assert session.get(Postcode, "B99 9ZZ") is None
    found = lookup(session, "b152tt")
    assert found == Location("B15 2TT", 52.450714, -1.930513, approximate=False)


def test_loader_writes_bounded_batches(session: Session) -> None:
    rows = [
        onspd_row(f"B{d} {n}AB", 52.4 + d / 1000, -1.9 - n / 1000)
        for d in range(1, 6)
        for n in range(10)
    ]
    statements: list[int] = []

    def count(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO POSTCODES"):
            statements.append(len(params) if many else 1)

    bind = session.connection()
    event.listen(bind, "before_cursor_execute", count)
    try:
        result = _load(session, onspd_text(*rows), batch_size=7)
    finally:
        event.remove(bind, "before_cursor_execute", count)
    assert result.loaded == 50
    assert sum(statements) == 50
    assert max(statements) <= 7 and len(statements) == 8


def test_loader_reads_lazily(session: Session) -> None:
    """Batches are written while the file is still being read, not after reading it all."""
    read = 0

    def lines() -> Any:
        nonlocal read
        yield onspd_text().strip() + "\r\n"
        for n in range(30):
            read += 1
            yield onspd_row(f"B{n + 1} 1AA", 52.4, -1.9) + "\r\n"

    seen: list[int] = []
    load_postcodes(
        session=session, lines=lines(), batch_size=10, progress=lambda _: seen.append(read)
    )
    assert seen == [10, 20, 30]


def test_reloading_is_idempotent_and_replaces(session: Session) -> None:
    text = onspd_text(onspd_row(*EDGBASTON), onspd_row(*SELLY_OAK))
    _load(session, text)
    _load(session, text)
    assert _count(session) == 2
    _load(session, onspd_text(onspd_row("B15 2TT", 52.5, -1.95)))
    session.expire_all()
    row = session.get(Postcode, "B15 2TT")
    assert row is not None and (row.latitude, row.longitude) == (52.5, -1.95)
    assert _count(session) == 2


def test_repeated_postcode_in_one_batch_keeps_the_last(session: Session) -> None:
    _load(session, onspd_text(onspd_row("B15 2TT", 52.1, -1.1), onspd_row("B15 2TT", 52.2, -1.2)))
    row = session.get(Postcode, "B15 2TT")
    assert row is not None and row.latitude == 52.2


def test_bad_header_names_the_missing_columns(session: Session) -> None:
    with pytest.raises(InvalidInput) as caught:
        _load(session, '"pcd","pcd2","pcds","easting"\r\n"B15 2TT","B15  2TT","B15 2TT",1\r\n')
    assert "lat, long" in caught.value.message
    assert caught.value.errors == {"columns": ["missing: lat", "missing: long"]}
    with pytest.raises(InvalidInput) as caught:
        _load(session, '"postcode","lat","long"\r\n')
    assert "pcds or pcd" in caught.value.message
    with pytest.raises(InvalidInput, match="empty"):
        _load(session, "")
    assert _count(session) == 0


def test_unreadable_rows_are_counted_and_named(session: Session) -> None:
    text = onspd_text(
        onspd_row(*EDGBASTON),
        onspd_row("B15 2TT", "north", "-1.9").replace('"B15 2TT"', '"B15 2TU"'),
        '"XXXXXXX","XXXXXXXX","NOT A PC","198001","","E9",52.4,-1.9,"E9"',
    )
    result = _load(session, text)
    assert (result.loaded, result.skipped_unreadable, result.unreadable_rows) == (1, 2, (3, 4))


def test_upper_case_headers_of_newer_releases(session: Session) -> None:
    text = (
        '"PCD7","PCD8","PCDS","DOTERM","LAT","LONG"\r\n'
        '"B152TT","B15  2TT","B15 2TT","",52.45,-1.93\r\n'
    )
    assert _load(session, text).loaded == 1


def test_zip_as_downloaded(session: Session, tmp_path: Path) -> None:
    archive = tmp_path / "ONSPD_NOV_2025.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Documents/readme.csv", "a,b\r\n1,2\r\n")
        zf.writestr("Data/ONSPD_NOV_2025_UK.csv", onspd_text(onspd_row(*EDGBASTON)))
    result = load_postcode_file(session=session, path=archive)
    assert result.loaded == 1 and session.get(Postcode, "B15 2TT") is not None


# --- lookup and the district fallback ----------------------------------------------------


def test_unknown_postcode_in_a_known_district_is_its_centre(session: Session) -> None:
    _load(
        session, onspd_text(onspd_row("B15 2TT", 52.44, -1.92), onspd_row("B15 3AA", 52.46, -1.94))
    )
    found = lookup(session, "b15 9zz")
    assert found is not None and found.approximate
    assert (found.latitude, found.longitude) == pytest.approx((52.45, -1.93))
    assert "B15" in found.note
    assert lookup(session, "CV4 7AL") is None
    with pytest.raises(InvalidInput) as caught:
        locate(session, "cv47al")
    assert caught.value.errors == {
        "postcode": [
            "We could not find postcode CV4 7AL; check it or enter the nearest postcode you know"
        ]
    }


def test_demo_file_gives_every_demo_postcode_the_demos_coordinates(session: Session) -> None:
    from placement.demo import seed_demo

    seed_demo(session=session)
    assert _count(session) > 150
    places = [*session.exec(select(Organisation)).all(), *session.exec(select(Trainee)).all()]
    assert places
    for place in places:
        assert place.postcode is not None
        found = lookup(session, place.postcode)
        assert found is not None and not found.approximate, place.postcode
        assert (found.latitude, found.longitude) == pytest.approx(
            (place.latitude, place.longitude), abs=1e-6
        ), place.postcode


# --- postcodes.io adapter against a local stand-in ------------------------------------------


def test_postcodes_io_answers_first_then_the_table(session: Session) -> None:
    _load(session, onspd_text(onspd_row(*SELLY_OAK), onspd_row("CV4 7AL", 52.38, -1.56)))
    with postcodes_io_stand_in(postcodes={"B15 2TT": (52.4507, -1.9305)}) as io_:
        settings = _with_settings(io_.url)
        assert lookup(session, "b152tt", settings=settings) == Location("B15 2TT", 52.4507, -1.9305)
        # postcodes.io says 404: the table still knows it.
        found = lookup(session, "B29 6BD", settings=settings)
        assert found is not None and found.latitude == pytest.approx(52.4401)
        # Neither knows the postcode; the table knows its district.
        found = lookup(session, "CV4 9ZZ", settings=settings)
        assert found is not None and found.approximate
        assert lookup(session, "ZE1 0AA", settings=settings) is None
        assert "/postcodes/B15%202TT" in io_.requests


def test_postcodes_io_outcode_fallback(session: Session) -> None:
    with postcodes_io_stand_in(outcodes={"B15": (52.452, -1.931)}) as io_:
        found = lookup(session, "B15 9ZZ", settings=_with_settings(io_.url))
    assert found == Location("B15 9ZZ", 52.452, -1.931, approximate=True)


def test_postcodes_io_timeout_is_a_clear_domain_error(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postcodes, "HTTP_TIMEOUT", 0.3)
    with postcodes_io_stand_in(postcodes={"B15 2TT": (52.45, -1.93)}, delay=1.0) as io_:
        started = time.monotonic()
        with pytest.raises(InvalidInput) as caught:
            lookup(session, "B15 2TT", settings=_with_settings(io_.url))
        assert time.monotonic() - started < 5
    assert "did not answer" in caught.value.errors["postcode"][0]


def test_postcodes_io_errors_fall_back_to_the_table(session: Session) -> None:
    _load(session, onspd_text(onspd_row(*EDGBASTON)))
    with postcodes_io_stand_in(broken=True) as io_:
        settings = _with_settings(io_.url)
        found = lookup(session, "B15 2TT", settings=settings)
        assert found is not None and found.latitude == pytest.approx(52.450714)
        with pytest.raises(InvalidInput) as caught:
            lookup(session, "CV4 7AL", settings=settings)
        assert "try again" in caught.value.errors["postcode"][0]
        with pytest.raises(PostcodeServiceDown, match="HTTP 500"):
            PostcodesIo(io_.url).find("B15 2TT")
    # Nothing listening at all.
    with pytest.raises(PostcodeServiceDown):
        PostcodesIo(io_.url, timeout=1).find("B15 2TT")


# --- the services: a postcode sets coordinates, never leaves stale ones ---------------------


def test_trainee_postcode_fills_and_replaces_coordinates(session: Session) -> None:
    load_demo_postcodes(session)
    user = f.user(session, role="trainee")
    trainee = f.trainee(session, user_id=user.id, postcode=None, latitude=None, longitude=None)
    saved = trainees.update_own_profile(session=session, actor=user, values={"postcode": "b236qt"})
    assert (saved.postcode, saved.latitude, saved.longitude) == ("B23 6QT", 52.5241, -1.8362)
    # A new postcode moves them; the old coordinates do not stay.
    saved = trainees.update_own_profile(session=session, actor=user, values={"postcode": "CV4 7EZ"})
    assert (saved.latitude, saved.longitude) == (52.386, -1.556)
    # Explicit coordinates win.
    saved = trainees.update_own_profile(
        session=session,
        actor=user,
        values={"postcode": "B7 4BB", "latitude": 52.0, "longitude": -2.0},
    )
    assert (saved.postcode, saved.latitude, saved.longitude) == ("B7 4BB", 52.0, -2.0)
    # The same postcode again keeps them; clearing the coordinates takes the postcode's.
    saved = trainees.update_own_profile(session=session, actor=user, values={"postcode": "b7 4bb"})
    assert (saved.latitude, saved.longitude) == (52.0, -2.0)
    saved = trainees.update_own_profile(
        session=session, actor=user, values={"postcode": "B7 4BB", "latitude": None}
    )
    assert (saved.latitude, saved.longitude) == (52.4895, -1.8855)
    with pytest.raises(InvalidInput) as caught:
        trainees.update_own_profile(session=session, actor=user, values={"postcode": "ZE1 0AA"})
    assert "could not find postcode ZE1 0AA" in caught.value.errors["postcode"][0]
    session.refresh(trainee)
    assert trainee.postcode == "B7 4BB"


def test_coordinator_creates_and_patches_trainees_by_postcode(session: Session) -> None:
    load_demo_postcodes(session)
    coordinator = f.user(session, role="coordinator")
    made = trainees.create_trainee(
        session=session,
        actor=coordinator,
        values={"name": "Pat Postcode", "email": "pat@example.test", "postcode": "WV10 9RU"},
    )
    assert (made.latitude, made.longitude) == (52.602, -2.13)
    assert made.id is not None
    moved = trainees.update_trainee(
        session=session, actor=coordinator, trainee_id=made.id, values={"postcode": "dy1 1hf"}
    )
    assert (moved.postcode, moved.latitude, moved.longitude) == ("DY1 1HF", 52.512, -2.083)


def test_organisation_and_slot_postcodes(session: Session) -> None:
    load_demo_postcodes(session)
    coordinator = f.user(session, role="coordinator")
    org = organisations.create_organisation(
        session=session,
        actor=coordinator,
        values={"name": "Postcode Labs", "kind": "test_lab", "postcode": "b15 2sq"},
    )
    assert (org.postcode, org.latitude, org.longitude) == ("B15 2SQ", 52.4526, -1.9395)
    assert org.id is not None
    org = organisations.update_organisation(
        session=session, actor=coordinator, organisation_id=org.id, values={"postcode": "WS1 1TP"}
    )
    assert (org.latitude, org.longitude) == (52.586, -1.982)
    rnd = f.round_(session, status="open")
    assert rnd.id is not None
    body = {
        "organisation_id": org.id,
        "title": "Bench",
        "starts_on": rnd.starts_on,
        "ends_on": rnd.ends_on,
    }
    at_host = slots.create_slot(session=session, actor=coordinator, round_id=rnd.id, values=body)
    assert (at_host.postcode, at_host.latitude) == ("WS1 1TP", 52.586)
    elsewhere = slots.create_slot(
        session=session, actor=coordinator, round_id=rnd.id, values={**body, "postcode": "cv79ju"}
    )
    assert (elsewhere.postcode, elsewhere.latitude, elsewhere.longitude) == (
        "CV7 9JU",
        52.438,
        -1.399,
    )
    assert elsewhere.id is not None
    moved = slots.update_slot(
        session=session, actor=coordinator, slot_id=elsewhere.id, values={"postcode": "B70 8DX"}
    )
    assert (moved.latitude, moved.longitude) == (52.519, -1.995)
    with pytest.raises(InvalidInput) as caught:
        slots.update_slot(
            session=session, actor=coordinator, slot_id=elsewhere.id, values={"postcode": "B1"}
        )
    assert caught.value.errors == {"postcode": ["Enter a full UK postcode, like B15 2TT"]}


def test_loading_fills_people_saved_with_a_postcode_only(session: Session) -> None:
    waiting = f.trainee(session, postcode="b15 2tt", latitude=None, longitude=None)
    unknown = f.trainee(session, postcode="ZE9 9ZZ", latitude=None, longitude=None)
    host = f.organisation(session, postcode="B29 6BD", latitude=None, longitude=None)
    placed = f.trainee(session, postcode="B15 2TT", latitude=52.0, longitude=-2.0)
    _load(session, onspd_text(onspd_row(*EDGBASTON), onspd_row(*SELLY_OAK)))
    assert postcodes.fill_missing_coordinates(session=session) == 2
    assert (waiting.postcode, waiting.latitude, waiting.longitude) == EDGBASTON
    assert (host.latitude, host.longitude) == (52.4401, -1.9368)
    assert (unknown.latitude, placed.latitude) == (None, 52.0)
