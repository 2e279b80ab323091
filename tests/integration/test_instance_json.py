"""The instance file as canonical JSON written by Postgres: byte for byte what the Python
builder and `canonical_instance` give, on Postgres (the statement) and SQLite (the builder)."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from placement import matching
from placement.errors import Forbidden, InvalidInput, NotFound
from placement.matching.decoding import decode_instance
from placement.models import EmployerRanking, Exclusion, Placement, Round, RoundTrainee, utcnow
from placement.services import instance_json
from placement.services.instance_json import canonical_instance, export_instance_file
from placement.services.instances import build
from tests import factories as f


def _same(session: Session, round_id: int, **kw: Any) -> bytes:
    """The statement's file (or the builder's on SQLite) equals the builder's, byte for byte,
    with the same left-out counts; the bytes."""
    built = build(session=session, round_id=round_id, **kw)
    document = instance_json.instance_file(session=session, round_id=round_id, **kw)
    expected = canonical_instance(built.data)
    assert document.content == expected, _first_difference(document.content, expected)
    assert document.left_out == built.left_out
    return document.content


def _first_difference(a: bytes, b: bytes) -> str:
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"at {i}: {a[max(0, i - 80) : i + 40]!r} against {b[max(0, i - 80) : i + 40]!r}"


def _rendered_by_postgres(session: Session, rnd: Round) -> bool:
    """Whether the statement wrote the file itself (rather than handing over to the builder)."""
    if session.connection().dialect.name != "postgresql":
        return False
    return (
        instance_json._render(
            session.connection(), rnd.id or 0, rnd.max_preferences, date(2000, 1, 1), {}
        )
        is not None
    )


def _seeded_round(session: Session, seed: int, n: int = 30) -> Round:
    """A round with a bit of everything: random coordinates and distances, several
    preferences each, rankings, exclusions, locked pairs, seats held by left-out trainees,
    an unverified host, a full slot and truncated preference lists."""
    rng = random.Random(seed)
    rnd = f.round_(session, status="closed", max_preferences=3)
    org = f.organisation(session)
    unverified = f.organisation(session, verified=False)
    skills = ["pipetting", "PCR", "ELISA", "cell culture", "GMP"]
    slots = [
        f.slot(
            session,
            round=rnd,
            organisation=unverified if i % 7 == 6 else org,
            capacity=rng.randint(1, 3),
            required_skills=rng.sample(skills, rng.randint(0, 2)),
            latitude=rng.uniform(50, 55),
            longitude=rng.uniform(-5, 2),
            remote=rng.random() < 0.2,
            requires_dbs=rng.random() < 0.3,
            starts_on=date(2027, 1, 4) + timedelta(days=rng.randint(0, 60)),
            ends_on=date(2027, 6, 1) + timedelta(days=rng.randint(0, 60)),
        )
        for i in range(max(5, n // 3))
    ]
    trainees = []
    for i in range(n):
        t = f.trainee(
            session,
            level=None if i % 13 == 12 else rng.choice([4, 5]),
            skills=rng.sample(skills, rng.randint(0, 3)),
            latitude=rng.uniform(50, 55),
            longitude=rng.uniform(-5, 2),
            max_travel_km=rng.choice([40, 12.5, rng.uniform(1, 200)]),
            available_from=date(2027, 1, 4) + timedelta(days=rng.randint(0, 30)),
            available_to=date(2027, 7, 2),
            dbs_cleared=rng.random() < 0.5,
            erased_at=utcnow() if i % 11 == 10 else None,
        )
        trainees.append(t)
        chosen = rng.sample(slots, rng.randint(0, 5))
        for rank, s in enumerate(chosen, start=1):
            f.preference(session, trainee=t, slot=s, rank=rank)
        if not chosen and i % 2 == 0:  # a participant with no choices
            session.add(RoundTrainee(round_id=rnd.id, trainee_id=t.id))
    for s in slots:
        for rank, t in enumerate(rng.sample(trainees, 3), start=1):
            session.add(EmployerRanking(slot_id=s.id, trainee_id=t.id, rank=rank))
    for t in rng.sample(trainees, 5):
        session.add(Exclusion(round_id=rnd.id, slot_id=rng.choice(slots).id, trainee_id=t.id))
    session.flush()
    # Live placements: some of trainees in the file (locked), some of left-out ones (the
    # seat stays taken), one filling a slot of capacity 1 with a left-out trainee.
    for t, s in zip(trainees[::6], slots[1::2], strict=False):
        session.add(Placement(round_id=rnd.id, trainee_id=t.id, slot_id=s.id))
    # Holders of a live placement who are not participants are in the file too.
    outsider = f.trainee(session)
    session.add(Placement(round_id=rnd.id, trainee_id=outsider.id, slot_id=slots[0].id))
    session.flush()
    return rnd


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_rounds_byte_for_byte(session: Session, seed: int) -> None:
    rnd = _seeded_round(session, seed)
    content = _same(session, rnd.id or 0)
    _same(session, rnd.id or 0, weights={"distance": 2.5}, allow_unranked=True)
    _same(session, rnd.id or 0, mode="optimal", seed=2**40 + seed)
    _same(session, rnd.id or 0, mode="stable", seed=0)
    assert session.connection().dialect.name != "postgresql" or _rendered_by_postgres(session, rnd)
    document = json.loads(content)
    assert document["locked"] and document["excluded"] and document["trainees"]
    # The engine's typed fast path accepts it and reads what the builder's dict gives.
    assert decode_instance(content) == matching.load_instance(document)


def test_left_out_counts_match(session: Session) -> None:
    rnd = f.round_(session, status="closed", max_preferences=2)
    org, unverified = f.organisation(session), f.organisation(session, verified=False)
    full = f.slot(session, round=rnd, organisation=org, capacity=1)
    open_ = f.slot(session, round=rnd, organisation=org, capacity=2)
    shut = f.slot(session, round=rnd, organisation=unverified, capacity=2)
    held = f.slot(session, round=rnd, organisation=unverified, capacity=3)
    ok, gone, partial = (
        f.trainee(session),
        f.trainee(session, erased_at=utcnow()),
        f.trainee(session, available_to=None),
    )
    for t in (ok, gone, partial):
        for rank, s in enumerate((full, shut, open_, held), start=1):
            f.preference(session, trainee=t, slot=s, rank=rank)
    session.add(Placement(round_id=rnd.id, trainee_id=gone.id, slot_id=full.id))
    session.add(Placement(round_id=rnd.id, trainee_id=ok.id, slot_id=held.id))
    session.flush()
    _same(session, rnd.id or 0)
    assert instance_json.instance_file(session=session, round_id=rnd.id or 0).left_out == {
        "erased": 1,
        "incomplete_profile": 1,
        "unverified_host_slots": 2,
        "full_slots": 1,
    }


@pytest.mark.parametrize(
    ("trainee", "slot", "skills", "by_postgres"),
    [
        # Whole numbers keep their `.0`; negative zero stays negative.
        ({"latitude": 52.0, "longitude": -0.0, "max_travel_km": 100}, {"latitude": 0.0}, [], True),
        # Seventeen significant digits, and the smallest coordinates still written plainly.
        ({"latitude": 0.1 + 0.2, "longitude": 0.0001, "max_travel_km": 123456789012345.6}, {},
         [], True),
        ({"latitude": -89.99999999999999, "longitude": 179.99999999999997}, {"longitude": -180},
         [], True),
        # Near the meridian: `1e-05` in the json module's form, `0.00001` in orjson's.
        ({"longitude": 5e-05}, {}, [], True),
        ({"latitude": -1.5e-07, "max_travel_km": 2.5e-05}, {"latitude": 3e-05}, [], True),
        ({"longitude": 5e-05}, {"longitude": -9.99e-06}, ["é"], True),
        # What Postgres writes in exponent form and Python not: the builder writes these.
        ({"max_travel_km": 1e15}, {}, [], False),
        ({"max_travel_km": 2.5e16}, {"latitude": 3e-05}, [], False),
        ({"max_travel_km": float("inf")}, {}, [], False),
    ],
)  # fmt: skip
def test_numbers_are_written_as_the_canonical_json_writes_them(
    session: Session,
    trainee: dict[str, Any],
    slot: dict[str, Any],
    skills: list[str],
    by_postgres: bool,
) -> None:
    rnd = f.round_(session, status="closed")
    org = f.organisation(session)
    s = f.slot(session, round=rnd, organisation=org, **slot)
    t = f.trainee(session, skills=skills, **trainee)
    f.preference(session, trainee=t, slot=s, rank=1)
    if trainee.get("max_travel_km") == float("inf"):
        # Not a JSON number: both refuse it, as `canonical_instance` does.
        with pytest.raises(ValueError):
            instance_json.instance_file(session=session, round_id=rnd.id or 0)
        return
    content = _same(session, rnd.id or 0)
    assert json.loads(content)["trainees"][0]["latitude"] == trainee.get("latitude", 52.48)
    on_postgres = session.connection().dialect.name == "postgresql"
    assert _rendered_by_postgres(session, rnd) == (by_postgres and on_postgres)


@pytest.mark.parametrize(
    "skills",
    [
        ["Zellkultur für Anfänger", "микроскопия"],  # non-ASCII: the json module's escapes
        ["😀 emoji", "\u2028 line separator"],  # beyond the BMP: surrogate pairs
        ['quote " and \\ backslash', "tab\tnew\nline\r\x08\x0c", "\x01\x1f"],
        ["DEL \x7f alone"],  # ASCII: orjson keeps it raw
        ["DEL \x7f", "é"],  # not ASCII: the json module escapes DEL too
        ["nullification"],  # "null" in the text: the json module's form
        [],
    ],
)
def test_text_is_escaped_as_the_canonical_json_escapes_it(
    session: Session, skills: list[str]
) -> None:
    rnd = f.round_(session, status="closed")
    org = f.organisation(session)
    s = f.slot(session, round=rnd, organisation=org, required_skills=list(reversed(skills)))
    t = f.trainee(session, skills=skills)
    f.preference(session, trainee=t, slot=s, rank=1)
    content = _same(session, rnd.id or 0)
    assert content.isascii()
    assert json.loads(content)["trainees"][0]["skills"] == skills
    assert json.loads(content)["slots"][0]["required_skills"] == list(reversed(skills))


def test_header_numbers_follow_the_document(session: Session) -> None:
    """A weight Python writes in exponent form is written as the path of the whole file
    writes it: orjson's in an ASCII file, the json module's where a null or non-ASCII
    text sends the file that way."""
    rnd = f.round_(session, status="closed")
    org = f.organisation(session)
    s = f.slot(session, round=rnd, organisation=org)
    f.preference(session, trainee=f.trainee(session), slot=s, rank=1)
    weights = {"distance": 1e-05, "employer": 1e20}
    plain = _same(session, rnd.id or 0, weights=weights)
    f.preference(session, trainee=f.trainee(session, skills=["é"]), slot=s, rank=1)
    escaped = _same(session, rnd.id or 0, weights=weights)
    assert b'"distance":0.00001' in plain and b'"distance":1e-05' in escaped


def test_empty_and_unknown_rounds(session: Session) -> None:
    rnd = f.round_(session, status="draft")
    content = _same(session, rnd.id or 0)
    assert json.loads(content)["trainees"] == [] and json.loads(content)["slots"] == []
    with pytest.raises(NotFound):
        instance_json.instance_file(session=session, round_id=10**9)
    with pytest.raises(InvalidInput):
        instance_json.instance_file(session=session, round_id=rnd.id or 0, weights={"x": 1})


def test_export_file_is_for_coordinators(session: Session) -> None:
    rnd = _seeded_round(session, 4, n=12)
    coordinator = f.user(session, role="coordinator")
    content = export_instance_file(session=session, actor=coordinator, round_id=rnd.id or 0)
    assert content == canonical_instance(build(session=session, round_id=rnd.id or 0).data)
    for role in ("trainee", "employer"):
        with pytest.raises(Forbidden):
            export_instance_file(
                session=session, actor=f.user(session, role=role), round_id=rnd.id or 0
            )
    with pytest.raises(NotFound):
        export_instance_file(session=session, actor=coordinator, round_id=10**9)
