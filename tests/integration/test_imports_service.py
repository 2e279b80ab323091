"""CSV imports called as services on SQLite and Postgres (placement/services/imports.py).

The rules: the whole file is checked before anything is written (all or nothing), every
problem names its row as a spreadsheet numbers it (the header is row 1) and its field, a
UTF-8 byte-order mark is fine, and rows naming an existing trainee or slot update it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from placement.errors import Forbidden, InvalidInput, NotFound, WrongState
from placement.models import (
    Organisation,
    Preference,
    Round,
    RoundStatus,
    RoundTrainee,
    Slot,
    Trainee,
    User,
)
from placement.services import imports
from tests import factories as f

BOM = b"\xef\xbb\xbf"


def _id(row: Round | Slot | Trainee | Organisation) -> int:
    assert row.id is not None
    return row.id


def _csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def _problems(caught: pytest.ExceptionInfo[InvalidInput]) -> set[tuple[Any, Any]]:
    """(row, field) of every reported problem."""
    return {(e["row"], e["field"]) for e in caught.value.errors}


def _count(session: Session, model: Any, *where: Any) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


@pytest.fixture
def coordinator(session: Session) -> User:
    return f.user(session, role="coordinator")


@pytest.fixture
def rnd(session: Session) -> Round:
    return f.round_(session, status=RoundStatus.OPEN)


# --- trainees --------------------------------------------------------------------------


def test_trainees_are_created_enrolled_and_given_preferences(
    session: Session, coordinator: User, rnd: Round
) -> None:
    org = f.organisation(session)
    first = f.slot(session, round=rnd, organisation=org, title="Assay lab")
    second = f.slot(session, round=rnd, organisation=org)
    data = _csv(
        "name,email,level,skills,preferences",
        f"Ada Lovelace,ada@learners.test,4,pipetting; microscopy,Assay lab;{_id(second)}",
        "Grace Hopper,GRACE@learners.test,5,,",
    )

    result = imports.import_trainees(
        session=session, actor=coordinator, round_id=_id(rnd), data=data
    )

    assert (result.created, result.updated) == (2, 0)
    ada = session.exec(select(Trainee).where(Trainee.email == "ada@learners.test")).one()
    assert (ada.name, ada.level, ada.skills) == ("Ada Lovelace", 4, ["pipetting", "microscopy"])
    grace = session.exec(select(Trainee).where(Trainee.email == "grace@learners.test")).one()
    assert grace.level == 5
    ranked = session.exec(
        select(Preference.slot_id)
        .where(Preference.trainee_id == ada.id)
        .order_by(col(Preference.rank))
    ).all()
    assert ranked == [first.id, second.id]
    assert _count(session, RoundTrainee, RoundTrainee.round_id == rnd.id) == 2


def test_a_bad_row_imports_nothing_and_every_problem_names_its_row(
    session: Session, coordinator: User, rnd: Round
) -> None:
    data = _csv(
        "name,email,level,preferences",
        "Good One,good1@learners.test,4,",
        "No Email,,4,",  # row 3
        "",  # a blank line still counts as a row
        "Bad Level,bad@learners.test,3,",  # row 5
        "Good Two,good1@learners.test,5,",  # row 6: repeats row 2's email
        "Wishful,wish@learners.test,4,No such slot",  # row 7
    )

    with pytest.raises(InvalidInput) as caught:
        imports.import_trainees(session=session, actor=coordinator, round_id=_id(rnd), data=data)

    assert _problems(caught) == {
        (3, "email"),
        (5, "level"),
        (6, "email"),
        (7, "preferences"),
    }
    assert "nothing was imported" in caught.value.message
    messages = {(e["row"], e["field"]): e["message"] for e in caught.value.errors}
    assert messages[(6, "email")] == "repeats the email of row 2"
    assert _count(session, Trainee) == 0
    assert _count(session, RoundTrainee) == 0


def test_header_problems_are_row_one(session: Session, coordinator: User, rnd: Round) -> None:
    data = _csv("name,colour,name", "Ada,blue,Ada")

    with pytest.raises(InvalidInput) as caught:
        imports.import_trainees(session=session, actor=coordinator, round_id=_id(rnd), data=data)

    assert _problems(caught) == {(1, "colour"), (1, "name"), (1, "email")}


def test_not_utf8_or_empty_is_refused_with_a_reason(
    session: Session, coordinator: User, rnd: Round
) -> None:
    with pytest.raises(InvalidInput) as caught:
        imports.import_trainees(
            session=session,
            actor=coordinator,
            round_id=_id(rnd),
            data=b"name,email\r\nZo\xeb,zoe@learners.test\r\n",
        )
    [problem] = caught.value.errors
    assert problem["row"] == 2 and "not UTF-8" in problem["message"]

    with pytest.raises(InvalidInput) as caught:
        imports.import_trainees(
            session=session, actor=coordinator, round_id=_id(rnd), data=b"  \r\n"
        )
    assert _problems(caught) == {(None, "file")}


def test_a_byte_order_mark_is_not_part_of_the_first_column(
    session: Session, coordinator: User, rnd: Round
) -> None:
    data = BOM + _csv("name,email", "Zoë Brown,zoe@learners.test")

    result = imports.import_trainees(
        session=session, actor=coordinator, round_id=_id(rnd), data=data
    )

    assert result.created == 1
    zoe = session.exec(select(Trainee).where(Trainee.email == "zoe@learners.test")).one()
    assert zoe.name == "Zoë Brown"


def test_known_trainees_are_updated_by_email_or_id(
    session: Session, coordinator: User, rnd: Round
) -> None:
    by_email = f.trainee(session, email="kept@learners.test", name="Old Name", level=4)
    by_id = f.trainee(session, email="same@learners.test", name="Old Too", level=4)
    org = f.organisation(session)
    old_choice, new_choice = (f.slot(session, round=rnd, organisation=org) for _ in "ab")
    f.preference(session, trainee=by_email, slot=old_choice, rank=1)
    f.preference(session, trainee=by_id, slot=old_choice, rank=1)
    session.commit()
    data = _csv(
        "id,name,email,level,preferences",
        f",New Name,KEPT@learners.test,5,{_id(new_choice)}",
        f"{_id(by_id)},Renamed,same@learners.test,5,",
        ",Fresh Face,fresh@learners.test,4,",
    )

    result = imports.import_trainees(
        session=session, actor=coordinator, round_id=_id(rnd), data=data
    )

    assert (result.created, result.updated) == (1, 2)
    session.expire_all()
    kept = session.get(Trainee, by_email.id)
    renamed = session.get(Trainee, by_id.id)
    assert kept is not None and (kept.name, kept.level) == ("New Name", 5)
    assert renamed is not None and (renamed.name, renamed.level) == ("Renamed", 5)
    assert _count(session, Trainee) == 3

    def ranked(trainee: Trainee) -> list[int]:
        return list(
            session.exec(select(Preference.slot_id).where(Preference.trainee_id == trainee.id))
        )

    # A `preferences` cell replaces the list; a blank one leaves it alone.
    assert ranked(by_email) == [new_choice.id]
    assert ranked(by_id) == [old_choice.id]


def test_a_trainee_named_by_id_may_change_email(
    session: Session, coordinator: User, rnd: Round
) -> None:
    trainee = f.trainee(session, email="old@learners.test")
    session.commit()
    data = _csv("id,name,email", f"{_id(trainee)},Moved,new@learners.test")

    result = imports.import_trainees(
        session=session, actor=coordinator, round_id=_id(rnd), data=data
    )

    assert (result.created, result.updated) == (0, 1)
    session.expire_all()
    moved = session.get(Trainee, trainee.id)
    assert moved is not None and moved.email == "new@learners.test"


def test_an_unknown_trainee_id_is_a_row_error(
    session: Session, coordinator: User, rnd: Round
) -> None:
    data = _csv("id,name,email", "999999,Ghost,ghost@learners.test", "x,Typo,typo@learners.test")

    with pytest.raises(InvalidInput) as caught:
        imports.import_trainees(session=session, actor=coordinator, round_id=_id(rnd), data=data)

    assert _problems(caught) == {(2, "id"), (3, "id")}
    assert _count(session, Trainee) == 0


def test_who_and_when(session: Session, coordinator: User) -> None:
    data = _csv("name,email", "Ada,ada@learners.test")
    published = f.round_(session, status=RoundStatus.PUBLISHED)
    employer = f.user(session, role="employer")

    with pytest.raises(Forbidden):
        imports.import_trainees(session=session, actor=employer, round_id=_id(published), data=data)
    with pytest.raises(NotFound):
        imports.import_trainees(session=session, actor=coordinator, round_id=10**9, data=data)
    with pytest.raises(WrongState):
        imports.import_trainees(
            session=session, actor=coordinator, round_id=_id(published), data=data
        )
    closed = f.round_(session, status=RoundStatus.CLOSED)
    with pytest.raises(WrongState):
        imports.import_slots(session=session, actor=coordinator, round_id=_id(closed), data=data)
    # The CLI imports as the system, with no actor.
    result = imports.import_trainees(
        session=session, actor=None, round_id=_id(closed), data=data, system=True
    )
    assert result.created == 1


# --- slots -----------------------------------------------------------------------------

SLOT_HEADER = "id,round_id,organisation_id,title,capacity,starts_on,ends_on"


def test_slots_are_created_at_their_organisation_unless_placed_elsewhere(
    session: Session, coordinator: User, rnd: Round
) -> None:
    org = f.organisation(session, postcode="B15 2TT", latitude=52.45, longitude=-1.93)
    data = _csv(
        SLOT_HEADER + ",latitude,longitude",
        f",,{_id(org)},Assay lab,3,2027-02-01,2027-05-28,,",
        f",{_id(rnd)},{_id(org)},Field service,1,2027-03-01,2027-04-30,51.5,-0.12",
    )

    result = imports.import_slots(session=session, actor=coordinator, round_id=_id(rnd), data=data)

    assert (result.created, result.updated) == (2, 0)
    slots = {s.title: s for s in session.exec(select(Slot).where(Slot.round_id == rnd.id))}
    assert (slots["Assay lab"].capacity, slots["Assay lab"].postcode) == (3, "B15 2TT")
    assert (slots["Assay lab"].latitude, slots["Assay lab"].longitude) == (52.45, -1.93)
    assert (slots["Field service"].latitude, slots["Field service"].longitude) == (51.5, -0.12)


def test_slot_rows_are_checked_before_anything_is_written(
    session: Session, coordinator: User, rnd: Round
) -> None:
    org = f.organisation(session)
    nowhere = f.organisation(session, latitude=None, longitude=None, postcode=None)
    other_round = f.round_(session)
    data = _csv(
        SLOT_HEADER,
        f",,{_id(org)},Good,2,2027-02-01,2027-05-28",
        f",,{_id(org)},Backwards,2,2027-05-01,2027-02-01",  # row 3
        f",,{_id(org)},Crowded,101,2027-02-01,2027-05-28",  # row 4
        f",{_id(other_round)},{_id(org)},Elsewhere,1,2027-02-01,2027-05-28",  # row 5
        ",,999999,Orphan,1,2027-02-01,2027-05-28",  # row 6
        f",,{_id(nowhere)},No place,1,2027-02-01,2027-05-28",  # row 7
    )

    with pytest.raises(InvalidInput) as caught:
        imports.import_slots(session=session, actor=coordinator, round_id=_id(rnd), data=data)

    assert _problems(caught) == {
        (3, "ends_on"),
        (4, "capacity"),
        (5, "round_id"),
        (6, "organisation_id"),
        (7, "postcode"),  # neither the row nor its host says where the slot is
    }
    assert _count(session, Slot) == 0


def test_slot_rows_with_an_id_update_the_rounds_slot(
    session: Session, coordinator: User, rnd: Round
) -> None:
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org, title="Old title", capacity=2, filled=2)
    stranger = f.slot(session, round=f.round_(session), organisation=org)
    session.commit()
    ok = _csv(SLOT_HEADER, f"{_id(slot)},,{_id(org)},New title,4,2027-02-01,2027-05-28")
    shrink = _csv(SLOT_HEADER, f"{_id(slot)},,{_id(org)},New title,1,2027-02-01,2027-05-28")
    foreign = _csv(SLOT_HEADER, f"{_id(stranger)},,{_id(org)},Mine now,1,2027-02-01,2027-05-28")

    result = imports.import_slots(session=session, actor=coordinator, round_id=_id(rnd), data=ok)

    assert (result.created, result.updated) == (0, 1)
    session.expire_all()
    stored = session.get(Slot, slot.id)
    assert stored is not None and (stored.title, stored.capacity) == ("New title", 4)
    with pytest.raises(InvalidInput) as caught:
        imports.import_slots(session=session, actor=coordinator, round_id=_id(rnd), data=shrink)
    assert _problems(caught) == {(2, "capacity")}
    with pytest.raises(InvalidInput) as caught:
        imports.import_slots(session=session, actor=coordinator, round_id=_id(rnd), data=foreign)
    assert _problems(caught) == {(2, "id")}
    session.expire_all()
    kept = session.get(Slot, stranger.id)
    assert kept is not None and kept.title != "Mine now"


def test_slots_name_their_host_by_name(session: Session) -> None:
    from placement.services.imports import import_slots

    coordinator = f.user(session, role="coordinator")
    rnd = f.round_(session, status="open")
    host = f.organisation(session, name="Tame Valley Test Laboratories")
    f.organisation(session, name="Twin Labs")
    f.organisation(session, name="twin labs")
    good = (
        b"organisation,title,starts_on,ends_on\n"
        b"tame valley test laboratories,Calibration,2027-02-01,2027-05-28\n"
    )
    done = import_slots(session=session, actor=coordinator, round_id=f.pk(rnd), data=good)
    assert done.created == 1
    slot = session.exec(select(Slot).where(Slot.round_id == rnd.id)).one()
    assert slot.organisation_id == host.id
    bad = (
        b"organisation,title,starts_on,ends_on\n"
        b"Nobody Ltd,A,2027-02-01,2027-05-28\n"
        b"Twin Labs,B,2027-02-01,2027-05-28\n"
    )
    with pytest.raises(InvalidInput) as refused:
        import_slots(session=session, actor=coordinator, round_id=f.pk(rnd), data=bad)
    problems = {(p["row"], p["field"], p["message"]) for p in refused.value.errors}
    assert (2, "organisation", "no host is called “Nobody Ltd”") in problems
    assert any(r == 3 and "2 hosts are called" in m for r, _, m in problems)
    assert all(field == "organisation" for _, field, _ in problems)
    neither = b"title,starts_on,ends_on\nA,2027-02-01,2027-05-28\n"
    with pytest.raises(InvalidInput):
        import_slots(session=session, actor=coordinator, round_id=f.pk(rnd), data=neither)


def test_problems_come_in_file_order_whichever_check_finds_them(
    session: Session, coordinator: User, rnd: Round
) -> None:
    """The schema's, the preferences' and the repeated-email problems of each row come
    together, row by row, as a per-row loop gave them (the first 1000 are kept)."""
    good = [f"Good {n},good{n}@learners.test,4," for n in range(40)]
    data = _csv(
        "name,email,level,preferences",
        *good,  # rows 2-41 take the fast path
        "Bad Level,,3,",  # row 42: level (a row the schema refused is not checked further)
        "Again,good1@learners.test,5,Nowhere",  # row 43: preferences and a repeated email
        "Fine,fine@learners.test,4,",
        ",x@learners.test,4,",  # row 45: no name
    )

    with pytest.raises(InvalidInput) as caught:
        imports.import_trainees(session=session, actor=coordinator, round_id=_id(rnd), data=data)

    assert [(e["row"], e["field"]) for e in caught.value.errors] == [
        (42, "level"),
        (43, "preferences"),
        (43, "email"),
        (45, "name"),
    ]
    assert caught.value.errors[2]["message"] == "repeats the email of row 3"


def test_a_blank_cell_in_a_column_some_rows_fill_takes_the_default(
    session: Session, coordinator: User, rnd: Round
) -> None:
    data = _csv(
        "name,email,share_needs,needs",
        "Ada,ada@learners.test,yes,step-free access",
        "Grace,grace@learners.test,,",
    )

    result = imports.import_trainees(
        session=session, actor=coordinator, round_id=_id(rnd), data=data
    )

    assert result.created == 2
    rows = session.exec(select(Trainee).order_by(col(Trainee.email))).all()
    assert [(t.email, t.share_needs, t.needs) for t in rows] == [
        ("ada@learners.test", True, "step-free access"),
        ("grace@learners.test", False, ""),
    ]


def test_updates_apply_in_file_order(session: Session, coordinator: User, rnd: Round) -> None:
    """Two rows may name one trainee (one by id, one by the email it has now): both apply,
    the later last, as before the updates were written set-wise."""
    trainee = f.trainee(session, email="now@learners.test", name="Before", level=4)
    session.commit()
    data = _csv(
        "id,name,email,level",
        f"{_id(trainee)},By Id,moved@learners.test,5",
        ",By Email,now@learners.test,",
    )

    result = imports.import_trainees(
        session=session, actor=coordinator, round_id=_id(rnd), data=data
    )

    assert (result.created, result.updated) == (0, 2)
    session.expire_all()
    stored = session.get(Trainee, trainee.id)
    assert stored is not None
    assert (stored.name, stored.email, stored.level) == ("By Email", "now@learners.test", 5)
