"""Slots called as services on SQLite and Postgres (placement/services/slots.py).

The rules: employers post and change only their own verified organisation's slots
(others' are "not found", not "forbidden", so ids reveal nothing), draft rounds' slots are
hidden from everyone but coordinators and their owners, slots change only while the round
is draft or open, and a slot's capacity never goes below its filled seats.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlmodel import Session, select

from placement.errors import Conflict, Forbidden, InvalidInput, NotFound, WrongState
from placement.models import (
    EmployerRanking,
    Organisation,
    Placement,
    Round,
    RoundStatus,
    Slot,
    Trainee,
    User,
)
from placement.services import slots
from tests import factories as f


def _id(row: Round | Slot | Trainee | Organisation) -> int:
    assert row.id is not None
    return row.id


def _values(**kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": "Assay technician",
        "capacity": 2,
        "starts_on": date(2027, 2, 1),
        "ends_on": date(2027, 5, 28),
    }
    values.update(kw)
    return values


def _employer(session: Session, **org: Any) -> tuple[User, Organisation]:
    employer = f.user(session, role="employer")
    return employer, f.organisation(session, owner_id=employer.id, **org)


@pytest.fixture
def coordinator(session: Session) -> User:
    return f.user(session, role="coordinator")


@pytest.fixture
def rnd(session: Session) -> Round:
    return f.round_(session, status=RoundStatus.OPEN)


# --- ownership -------------------------------------------------------------------------


def test_employers_post_for_their_own_verified_organisation(session: Session, rnd: Round) -> None:
    employer, org = _employer(session, postcode="CV4 7AL", latitude=52.38, longitude=-1.56)
    other = f.organisation(session)

    slot = slots.create_slot(session=session, actor=employer, round_id=_id(rnd), values=_values())

    assert (slot.organisation_id, slot.round_id) == (org.id, rnd.id)
    # No coordinates given: the slot sits at its organisation's address.
    assert (slot.postcode, slot.latitude, slot.longitude) == ("CV4 7AL", 52.38, -1.56)
    with pytest.raises(Forbidden, match="your own organisation"):
        slots.create_slot(
            session=session,
            actor=employer,
            round_id=_id(rnd),
            values=_values(organisation_id=other.id),
        )
    unverified, _ = _employer(session, verified=False)
    with pytest.raises(Forbidden, match="verified"):
        slots.create_slot(session=session, actor=unverified, round_id=_id(rnd), values=_values())
    homeless = f.user(session, role="employer")
    with pytest.raises(Forbidden, match="Create your organisation"):
        slots.create_slot(session=session, actor=homeless, round_id=_id(rnd), values=_values())
    with pytest.raises(Forbidden):
        slots.create_slot(
            session=session, actor=f.user(session), round_id=_id(rnd), values=_values()
        )


def test_coordinators_post_for_a_named_organisation(
    session: Session, coordinator: User, rnd: Round
) -> None:
    org = f.organisation(session)

    slot = slots.create_slot(
        session=session,
        actor=coordinator,
        round_id=_id(rnd),
        values=_values(organisation_id=org.id, latitude=51.5, longitude=-0.12),
    )

    assert slot.organisation_id == org.id and (slot.latitude, slot.longitude) == (51.5, -0.12)
    with pytest.raises(InvalidInput) as caught:
        slots.create_slot(session=session, actor=coordinator, round_id=_id(rnd), values=_values())
    assert set(caught.value.errors) == {"organisation_id"}
    with pytest.raises(InvalidInput) as caught:
        slots.create_slot(
            session=session,
            actor=coordinator,
            round_id=_id(rnd),
            values=_values(organisation_id=10**9),
        )
    assert set(caught.value.errors) == {"organisation_id"}
    nowhere = f.organisation(session, latitude=None, longitude=None)
    with pytest.raises(InvalidInput) as caught:
        slots.create_slot(
            session=session,
            actor=coordinator,
            round_id=_id(rnd),
            values=_values(organisation_id=nowhere.id),
        )
    # The host has a postcode but no coordinates, and this database knows no postcodes.
    assert set(caught.value.errors) == {"postcode"}
    with pytest.raises(NotFound):
        slots.create_slot(
            session=session,
            actor=coordinator,
            round_id=10**9,
            values=_values(organisation_id=org.id),
        )


def test_only_the_owner_or_a_coordinator_changes_a_slot(
    session: Session, coordinator: User, rnd: Round
) -> None:
    owner, org = _employer(session)
    rival, _ = _employer(session)
    slot = f.slot(session, round=rnd, organisation=org, title="Mine")

    # Another employer's slot is "not found"; a trainee may not change slots at all.
    for stranger, refusal in ((rival, NotFound), (f.user(session), Forbidden)):
        with pytest.raises(refusal):
            slots.update_slot(
                session=session, actor=stranger, slot_id=_id(slot), values={"title": "Theirs"}
            )
        with pytest.raises(refusal):
            slots.delete_slot(session=session, actor=stranger, slot_id=_id(slot))
    with pytest.raises(NotFound):
        slots.get_rankings(session=session, actor=rival, slot_id=_id(slot))
    with pytest.raises(NotFound):
        slots.list_applicants(session=session, actor=rival, slot_id=_id(slot))

    updated = slots.update_slot(
        session=session, actor=owner, slot_id=_id(slot), values={"title": "Still mine"}
    )
    assert updated.title == "Still mine"
    again = slots.update_slot(
        session=session, actor=coordinator, slot_id=_id(slot), values={"title": "Checked"}
    )
    assert again.title == "Checked"
    slots.delete_slot(session=session, actor=owner, slot_id=_id(slot))
    assert session.get(Slot, _id(slot)) is None


def test_draft_rounds_slots_are_seen_only_by_owners_and_coordinators(
    session: Session, coordinator: User
) -> None:
    owner, org = _employer(session)
    rival, _ = _employer(session)
    draft = f.round_(session, status=RoundStatus.DRAFT)
    hidden = f.slot(session, round=draft, organisation=org)

    assert slots.get_slot(session=session, actor=owner, slot_id=_id(hidden)).id == hidden.id
    assert slots.get_slot(session=session, actor=coordinator, slot_id=_id(hidden)).id == hidden.id
    for outsider in (rival, f.user(session)):
        with pytest.raises(NotFound):
            slots.get_slot(session=session, actor=outsider, slot_id=_id(hidden))
    with pytest.raises(NotFound):
        slots.get_slot(session=session, actor=coordinator, slot_id=10**9)


# --- round state -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [RoundStatus.CLOSED, RoundStatus.PUBLISHED])
def test_slots_change_only_while_the_round_is_draft_or_open(
    session: Session, coordinator: User, status: RoundStatus
) -> None:
    owner, org = _employer(session)
    rnd = f.round_(session, status=status)
    slot = f.slot(session, round=rnd, organisation=org, title="Fixed")

    with pytest.raises(WrongState):
        slots.create_slot(session=session, actor=owner, round_id=_id(rnd), values=_values())
    with pytest.raises(WrongState):
        slots.update_slot(
            session=session, actor=coordinator, slot_id=_id(slot), values={"title": "Moved"}
        )
    with pytest.raises(WrongState):
        slots.delete_slot(session=session, actor=owner, slot_id=_id(slot))
    with pytest.raises(WrongState):
        slots.set_rankings(session=session, actor=owner, slot_id=_id(slot), trainee_ids=[])
    session.expire_all()
    kept = session.get(Slot, _id(slot))
    assert kept is not None and kept.title == "Fixed"


def test_rankings_are_set_only_while_open_and_only_of_applicants(
    session: Session, coordinator: User
) -> None:
    owner, org = _employer(session)
    draft = f.round_(session, status=RoundStatus.DRAFT)
    rnd = f.round_(session, status=RoundStatus.OPEN)
    slot = f.slot(session, round=rnd, organisation=org)
    first, second, outsider = (f.trainee(session) for _ in range(3))
    f.preference(session, trainee=first, slot=slot, rank=1)
    f.preference(session, trainee=second, slot=slot, rank=1)
    session.commit()

    ranked = slots.set_rankings(
        session=session, actor=owner, slot_id=_id(slot), trainee_ids=[_id(second), _id(first)]
    )

    assert ranked.trainee_ids == [second.id, first.id]
    assert slots.get_rankings(session=session, actor=coordinator, slot_id=_id(slot)) == ranked
    with pytest.raises(InvalidInput) as caught:
        slots.set_rankings(
            session=session,
            actor=owner,
            slot_id=_id(slot),
            trainee_ids=[_id(first), _id(first), _id(outsider)],
        )
    assert len(caught.value.errors["trainee_ids"]) == 2
    with pytest.raises(Forbidden):
        slots.set_rankings(
            session=session, actor=coordinator, slot_id=_id(slot), trainee_ids=[_id(first)]
        )
    drafted = f.slot(session, round=draft, organisation=org)
    with pytest.raises(WrongState):
        slots.set_rankings(session=session, actor=owner, slot_id=_id(drafted), trainee_ids=[])
    stored = session.exec(
        select(EmployerRanking.trainee_id).where(EmployerRanking.slot_id == slot.id)
    ).all()
    assert sorted(stored) == sorted([first.id, second.id])


# --- capacity and dates ----------------------------------------------------------------


def test_capacity_never_goes_below_the_filled_seats(
    session: Session, coordinator: User, rnd: Round
) -> None:
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org, capacity=3, filled=2)
    session.commit()

    with pytest.raises(Conflict, match="2 seats are already filled"):
        slots.update_slot(
            session=session, actor=coordinator, slot_id=_id(slot), values={"capacity": 1}
        )

    session.expire_all()
    kept = session.get(Slot, _id(slot))
    assert kept is not None and kept.capacity == 3
    shrunk = slots.update_slot(
        session=session, actor=coordinator, slot_id=_id(slot), values={"capacity": 2}
    )
    assert (shrunk.capacity, shrunk.filled) == (2, 2)


def test_dates_and_coordinates_are_checked_on_change(
    session: Session, coordinator: User, rnd: Round
) -> None:
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org)
    session.commit()

    with pytest.raises(InvalidInput) as caught:
        slots.update_slot(
            session=session,
            actor=coordinator,
            slot_id=_id(slot),
            values={"ends_on": date(2027, 1, 1)},
        )
    assert set(caught.value.errors) == {"ends_on"}
    # The refused change is still on the object; the caller's error handling rolls back.
    session.rollback()
    with pytest.raises(InvalidInput) as caught:
        slots.update_slot(
            session=session, actor=coordinator, slot_id=_id(slot), values={"latitude": None}
        )
    assert set(caught.value.errors) == {"latitude"}
    session.rollback()
    with pytest.raises(InvalidInput):
        slots.create_slot(
            session=session,
            actor=coordinator,
            round_id=_id(rnd),
            values=_values(organisation_id=org.id, starts_on=date(2027, 6, 1)),
        )


def test_a_slot_with_placements_is_not_deleted(
    session: Session, coordinator: User, rnd: Round
) -> None:
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org)
    session.add(Placement(round_id=_id(rnd), trainee_id=_id(f.trainee(session)), slot_id=_id(slot)))
    session.commit()

    with pytest.raises(Conflict, match="withdraw them first"):
        slots.delete_slot(session=session, actor=coordinator, slot_id=_id(slot))

    assert session.get(Slot, _id(slot)) is not None


@pytest.mark.parametrize("capacity", [0, 101])
def test_capacity_outside_one_to_a_hundred_is_refused_by_the_service(
    session: Session, coordinator: User, rnd: Round, capacity: int
) -> None:
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org, capacity=3)
    session.commit()

    with pytest.raises(InvalidInput) as caught:
        slots.update_slot(
            session=session, actor=coordinator, slot_id=_id(slot), values={"capacity": capacity}
        )
    assert set(caught.value.errors) == {"capacity"}
    session.rollback()
    kept = session.get(Slot, _id(slot))
    assert kept is not None and kept.capacity == 3
