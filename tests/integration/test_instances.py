"""The round as an instance file, on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from placement import matching
from placement.errors import Forbidden, InvalidInput, NotFound
from placement.models import EmployerRanking, Exclusion, Placement, Round, RoundTrainee, utcnow
from placement.services.instances import build, build_instance, export_instance
from tests import factories as f


def _round(session: Session, **kw: Any) -> tuple[Round, Any]:
    return f.round_(session, status="closed", **kw), f.organisation(session)


@contextmanager
def _count_queries(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    conn = session.connection()

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(conn, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(conn, "before_cursor_execute", record)


def test_instance_document(session: Session) -> None:
    rnd, org = _round(session, max_preferences=3)
    s1 = f.slot(session, round=rnd, organisation=org, capacity=2, required_skills=["PCR"])
    s2 = f.slot(session, round=rnd, organisation=org, remote=True, requires_dbs=True)
    t1, t2, t3 = (f.trainee(session) for _ in range(3))
    # Ranks written out of order: the document lists them by rank.
    f.preference(session, trainee=t1, slot=s2, rank=2)
    f.preference(session, trainee=t1, slot=s1, rank=1)
    f.preference(session, trainee=t2, slot=s1, rank=1)
    session.add(RoundTrainee(round_id=rnd.id, trainee_id=t3.id))
    session.add(EmployerRanking(slot_id=s1.id, trainee_id=t2.id, rank=1))
    session.add(EmployerRanking(slot_id=s1.id, trainee_id=t1.id, rank=2))
    session.add(Exclusion(round_id=rnd.id, slot_id=s2.id, trainee_id=t2.id))
    session.add(Placement(round_id=rnd.id, trainee_id=t3.id, slot_id=s1.id))
    session.flush()

    doc = build_instance(session=session, round_id=rnd.id)  # type: ignore[arg-type]

    assert doc["format"] == "placement-instance/1"
    assert doc["max_preferences"] == 3
    assert doc["allow_unranked"] is False
    assert doc["weights"] == {k: float(v) for k, v in matching.DEFAULT_WEIGHTS.items()}
    by_id = {t["id"]: t for t in doc["trainees"]}
    assert list(by_id) == [str(t1.id), str(t2.id), str(t3.id)]
    assert by_id[str(t1.id)]["preferences"] == [str(s1.id), str(s2.id)]
    assert by_id[str(t3.id)]["preferences"] == []
    assert by_id[str(t1.id)] | {"preferences": None} == {
        "id": str(t1.id),
        "level": 4,
        "skills": ["pipetting"],
        "latitude": 52.48,
        "longitude": -1.89,
        "max_travel_km": 40.0,
        "available_from": "2027-01-04",
        "available_to": "2027-07-02",
        "dbs_cleared": True,
        "preferences": None,
    }
    slots = {s["id"]: s for s in doc["slots"]}
    assert slots[str(s1.id)]["rankings"] == [str(t2.id), str(t1.id)]
    assert slots[str(s1.id)]["required_skills"] == ["PCR"]
    assert slots[str(s2.id)]["remote"] is True and slots[str(s2.id)]["requires_dbs"] is True
    assert slots[str(s1.id)]["starts_on"] == "2027-02-01"
    assert doc["locked"] == [{"trainee_id": str(t3.id), "slot_id": str(s1.id)}]
    assert doc["excluded"] == [{"trainee_id": str(t2.id), "slot_id": str(s2.id)}]
    # The engine accepts it as it is.
    matching.load_instance(doc)


def test_weights_and_allow_unranked(session: Session) -> None:
    rnd, _ = _round(session)
    doc = build_instance(
        session=session,
        round_id=rnd.id,  # type: ignore[arg-type]
        weights={"employer": 0, "distance": 2.5},
        allow_unranked=True,
    )
    assert doc["weights"]["employer"] == 0.0 and doc["weights"]["distance"] == 2.5
    assert doc["weights"]["preference"] == matching.DEFAULT_WEIGHTS["preference"]
    assert doc["allow_unranked"] is True


@pytest.mark.parametrize(
    ("weights", "field"),
    [
        ({"speed": 1}, "weights.speed"),
        ({"skills": -1}, "weights.skills"),
        ({"distance": float("nan")}, "weights.distance"),
        ({"distance": float("inf")}, "weights.distance"),
        ({"preference": True}, "weights.preference"),
        ({"preference": "1"}, "weights.preference"),
    ],
)
def test_bad_weights_name_the_field(session: Session, weights: dict[str, Any], field: str) -> None:
    rnd, _ = _round(session)
    with pytest.raises(InvalidInput) as caught:
        build_instance(session=session, round_id=rnd.id, weights=weights)  # type: ignore[arg-type]
    assert field in caught.value.errors


def test_incomplete_and_erased_trainees_are_left_out_and_counted(session: Session) -> None:
    rnd, org = _round(session)
    s1 = f.slot(session, round=rnd, organisation=org, capacity=2)
    s2 = f.slot(session, round=rnd, organisation=org, capacity=1)
    s3 = f.slot(session, round=rnd, organisation=org, capacity=1)
    ok = f.trainee(session)
    no_level = f.trainee(session, level=None)
    no_home = f.trainee(session, latitude=None, longitude=None)
    erased = f.trainee(session, erased_at=utcnow())
    for t in (ok, no_level, no_home, erased):
        f.preference(session, trainee=t, slot=s1, rank=1)
    f.preference(session, trainee=ok, slot=s3, rank=2)
    f.preference(session, trainee=ok, slot=s2, rank=3)
    # Seats held by left-out trainees still count: s1 keeps one seat, s3 has none left.
    session.add(Placement(round_id=rnd.id, trainee_id=erased.id, slot_id=s1.id))
    session.add(Placement(round_id=rnd.id, trainee_id=no_level.id, slot_id=s3.id))
    session.flush()

    built = build(session=session, round_id=rnd.id)  # type: ignore[arg-type]

    assert [t["id"] for t in built.data["trainees"]] == [str(ok.id)]
    assert built.left_out == {"erased": 1, "incomplete_profile": 2, "full_slots": 1}
    slots = {s["id"]: s for s in built.data["slots"]}
    assert slots[str(s1.id)]["capacity"] == 1
    assert str(s3.id) not in slots
    assert built.data["trainees"][0]["preferences"] == [str(s1.id), str(s2.id)]
    assert built.data["locked"] == []
    matching.load_instance(built.data)


def test_preferences_beyond_max_preferences_are_cut(session: Session) -> None:
    rnd, org = _round(session, max_preferences=2)
    slots = [f.slot(session, round=rnd, organisation=org) for _ in range(3)]
    t = f.trainee(session)
    for rank, s in enumerate(slots, start=1):
        f.preference(session, trainee=t, slot=s, rank=rank)
    built = build(session=session, round_id=rnd.id)  # type: ignore[arg-type]
    assert built.data["trainees"][0]["preferences"] == [str(slots[0].id), str(slots[1].id)]
    assert built.left_out == {"preferences_truncated": 1}


def test_withdrawn_placements_are_not_locked_and_other_rounds_stay_out(session: Session) -> None:
    rnd, org = _round(session)
    other, _ = _round(session)
    s = f.slot(session, round=rnd, organisation=org)
    elsewhere = f.slot(session, round=other, organisation=org)
    t = f.trainee(session)
    f.preference(session, trainee=t, slot=s, rank=1)
    f.preference(session, trainee=f.trainee(session), slot=elsewhere, rank=1)
    session.add(Placement(round_id=rnd.id, trainee_id=t.id, slot_id=s.id, status="withdrawn"))
    session.flush()
    doc = build_instance(session=session, round_id=rnd.id)  # type: ignore[arg-type]
    assert doc["locked"] == []
    assert [t_["id"] for t_ in doc["trainees"]] == [str(t.id)]
    assert [s_["id"] for s_ in doc["slots"]] == [str(s.id)]


def _populate(session: Session, rnd: Round, org: Any, n: int) -> None:
    slots = [f.slot(session, round=rnd, organisation=org) for _ in range(max(2, n // 3))]
    for i in range(n):
        t = f.trainee(session)
        f.preference(session, trainee=t, slot=slots[i % len(slots)], rank=1)
        f.preference(session, trainee=t, slot=slots[(i + 1) % len(slots)], rank=2)
        session.add(EmployerRanking(slot_id=slots[i % len(slots)].id, trainee_id=t.id, rank=i + 1))
        session.add(
            Exclusion(round_id=rnd.id, slot_id=slots[(i + 1) % len(slots)].id, trainee_id=t.id)
        )
    session.flush()


def test_loading_is_set_wise(session: Session) -> None:
    small, org = _round(session)
    big, _ = _round(session)
    _populate(session, small, org, 3)
    _populate(session, big, org, 40)
    with _count_queries(session) as small_queries:
        build_instance(session=session, round_id=small.id)  # type: ignore[arg-type]
    with _count_queries(session) as big_queries:
        doc = build_instance(session=session, round_id=big.id)  # type: ignore[arg-type]
    assert len(doc["trainees"]) == 40
    assert len(big_queries) == len(small_queries) <= 8


def test_export_is_for_coordinators(session: Session) -> None:
    rnd, org = _round(session)
    f.preference(
        session,
        trainee=f.trainee(session),
        slot=f.slot(session, round=rnd, organisation=org),
        rank=1,
    )
    coordinator = f.user(session, role="coordinator")
    doc = export_instance(session=session, actor=coordinator, round_id=rnd.id)  # type: ignore[arg-type]
    assert len(doc["trainees"]) == 1
    for role in ("trainee", "employer"):
        with pytest.raises(Forbidden):
            export_instance(session=session, actor=f.user(session, role=role), round_id=rnd.id)  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        export_instance(session=session, actor=None, round_id=rnd.id)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        export_instance(session=session, actor=coordinator, round_id=10**9)


def test_draft_round_exports_for_coordinators(session: Session) -> None:
    rnd = f.round_(session, status="draft", starts_on=date(2027, 1, 4))
    coordinator = f.user(session, role="coordinator")
    doc = export_instance(session=session, actor=coordinator, round_id=rnd.id)  # type: ignore[arg-type]
    assert doc["trainees"] == [] and doc["slots"] == []
    matching.load_instance(doc)
