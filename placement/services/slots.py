"""Placement slots, their applicants and the employers' rankings of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from placement.errors import Conflict, Forbidden, InvalidInput, NotFound
from placement.models import (
    EmployerRanking,
    Organisation,
    Placement,
    Preference,
    Round,
    Slot,
    Trainee,
    User,
)
from placement.services.common import (
    Page,
    audit,
    get_round,
    organisation_of,
    paginate,
    require_role,
)
from placement.services.rounds import require_status

EDITABLE = (
    "title",
    "discipline",
    "description",
    "required_skills",
    "min_level",
    "capacity",
    "postcode",
    "latitude",
    "longitude",
    "remote",
    "requires_dbs",
    "starts_on",
    "ends_on",
)
CHANGEABLE_STATES = ("draft", "open")


@dataclass(frozen=True)
class Applicant:
    """What an employer may see of a trainee who ranked their slot: no contact details,
    no location, no safeguarding status, and not where the trainee put the slot in their
    own list (`rank` is for coordinators only), so no employer can press a trainee over it.
    """

    id: int
    name: str
    level: int | None
    skills: list[str]
    provider: str
    rank: int | None
    employer_rank: int | None


@dataclass(frozen=True)
class Rankings:
    slot_id: int
    trainee_ids: list[int]


def _owns(session: Session, actor: User, slot: Slot) -> bool:
    org = organisation_of(session, actor)
    return org is not None and org.id == slot.organisation_id


def _visible(session: Session, actor: User, slot_id: int) -> tuple[Slot, Round]:
    """A slot the actor may read: any slot of a non-draft round, and employers' own."""
    slot = session.get(Slot, slot_id)
    if slot is None:
        raise NotFound("No such slot.")
    rnd = session.get(Round, slot.round_id)
    assert rnd is not None
    if actor.role == "coordinator" or rnd.status != "draft" or _owns(session, actor, slot):
        return slot, rnd
    raise NotFound("No such slot.")


def _changeable(session: Session, actor: User, slot_id: int) -> tuple[Slot, Round]:
    """A slot the actor may change: the owner employer's or, for a coordinator, any."""
    require_role(actor, "employer", "coordinator")
    slot, rnd = _visible(session, actor, slot_id)
    if actor.role == "employer" and not _owns(session, actor, slot):
        raise NotFound("No such slot.")
    return slot, rnd


MAX_CAPACITY = 100  # the models' check constraint


def _check_slot(slot: Slot) -> None:
    if not 1 <= slot.capacity <= MAX_CAPACITY:
        raise InvalidInput(errors={"capacity": [f"must be between 1 and {MAX_CAPACITY}"]})
    if slot.starts_on > slot.ends_on:
        raise InvalidInput(errors={"ends_on": ["must not be before starts_on"]})


def create_slot(*, session: Session, actor: User, round_id: int, values: dict[str, Any]) -> Slot:
    """Employers post for their own verified organisation; coordinators for any."""
    require_role(actor, "employer", "coordinator")
    values = dict(values)
    rnd = session.get(Round, round_id)
    if rnd is None:
        raise NotFound("No such round.")
    org: Organisation | None
    if actor.role == "employer":
        org = organisation_of(session, actor)
        if org is None:
            raise Forbidden("Create your organisation before posting slots.")
        if values.get("organisation_id", org.id) != org.id:
            raise Forbidden("You can only post slots for your own organisation.")
        if not org.verified:
            raise Forbidden("Your organisation must be verified by a coordinator first.")
    else:
        if values.get("organisation_id") is None:
            raise InvalidInput(errors={"organisation_id": ["Missing data for required field."]})
        org = session.get(Organisation, values["organisation_id"])
        if org is None:
            raise InvalidInput(errors={"organisation_id": ["No such organisation."]})
    require_status(rnd, *CHANGEABLE_STATES, doing="add slots")
    values["organisation_id"] = org.id
    _default_location(values, org)
    assert rnd.id is not None
    slot = Slot(round_id=rnd.id, **values)
    _check_slot(slot)
    session.add(slot)
    session.flush()
    audit(session, actor=actor, action="slot.create", object_type="slot", object_id=slot.id)
    session.commit()
    return slot


def _default_location(values: dict[str, Any], org: Organisation) -> None:
    """A slot without coordinates sits at its organisation's address."""
    missing: dict[str, list[str]] = {}
    for key in ("latitude", "longitude"):
        if values.get(key) is None:
            fallback = getattr(org, key)
            if fallback is None:
                missing[key] = ["is required (the organisation has no coordinates)"]
            values[key] = fallback
    if values.get("postcode") is None and org.postcode:
        values["postcode"] = org.postcode
    if missing:
        raise InvalidInput(errors=missing)


def list_slots(
    *,
    session: Session,
    actor: User,
    round_id: int,
    discipline: str | None = None,
    organisation_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Slot]:
    require_role(actor, "trainee", "employer", "coordinator")
    get_round(session, round_id, actor=actor)
    statement = select(Slot).where(Slot.round_id == round_id)
    if discipline:
        statement = statement.where(Slot.discipline == discipline)
    if organisation_id is not None:
        statement = statement.where(Slot.organisation_id == organisation_id)
    return paginate(session, statement.order_by(col(Slot.id)), page, per_page)


def get_slot(*, session: Session, actor: User, slot_id: int) -> Slot:
    require_role(actor, "trainee", "employer", "coordinator")
    return _visible(session, actor, slot_id)[0]


def update_slot(*, session: Session, actor: User, slot_id: int, values: dict[str, Any]) -> Slot:
    slot, rnd = _changeable(session, actor, slot_id)
    require_status(rnd, *CHANGEABLE_STATES, doing="change slots")
    if "capacity" in values and values["capacity"] < slot.filled:
        raise Conflict(f"{slot.filled} seats are already filled; capacity cannot go below that.")
    for key in ("latitude", "longitude"):
        if key in values and values[key] is None:
            raise InvalidInput(errors={key: ["Field may not be null."]})
    for key, value in values.items():
        if key in EDITABLE:
            setattr(slot, key, value)
    _check_slot(slot)
    audit(
        session,
        actor=actor,
        action="slot.update",
        object_type="slot",
        object_id=slot.id,
        fields=sorted(values),
    )
    session.commit()
    return slot


def delete_slot(*, session: Session, actor: User, slot_id: int) -> None:
    slot, rnd = _changeable(session, actor, slot_id)
    require_status(rnd, *CHANGEABLE_STATES, doing="delete slots")
    placed = session.exec(
        select(func.count()).select_from(Placement).where(Placement.slot_id == slot.id)
    ).one()
    if placed:
        raise Conflict("The slot has placements; withdraw them first.")
    audit(
        session,
        actor=actor,
        action="slot.delete",
        object_type="slot",
        object_id=slot.id,
        title=slot.title,
    )
    session.delete(slot)
    session.commit()


def list_applicants(
    *, session: Session, actor: User, slot_id: int, page: int = 1, per_page: int = 50
) -> Page[Applicant]:
    """Trainees who ranked the slot, as the owner employer or a coordinator sees them.

    Ordered by the employer's ranking, then (unranked) by name for employers and by the
    trainee's own rank for coordinators, so the order itself tells employers nothing."""
    slot, _ = _changeable(session, actor, slot_id)
    sees_trainee_rank = actor.role == "coordinator"
    unranked_order = col(Preference.rank) if sees_trainee_rank else col(Trainee.name)
    statement = (
        select(Trainee, Preference.rank, EmployerRanking.rank)
        .join(Preference, col(Preference.trainee_id) == col(Trainee.id))
        .outerjoin(
            EmployerRanking,
            (col(EmployerRanking.slot_id) == slot.id)
            & (col(EmployerRanking.trainee_id) == col(Trainee.id)),
        )
        .where(Preference.slot_id == slot.id)
        .order_by(
            col(EmployerRanking.rank).is_(None),
            col(EmployerRanking.rank),
            unranked_order,
            col(Trainee.id),
        )
    )
    raw = paginate(session, statement, page, per_page)
    items = [
        Applicant(
            id=t.id,
            name=t.name,
            level=t.level,
            skills=list(t.skills),
            provider=t.provider,
            rank=rank if sees_trainee_rank else None,
            employer_rank=employer_rank,
        )
        for t, rank, employer_rank in raw.items
        if t.id is not None
    ]
    return Page(items=items, total=raw.total, page=raw.page, per_page=raw.per_page)


def get_rankings(*, session: Session, actor: User, slot_id: int) -> Rankings:
    slot, _ = _changeable(session, actor, slot_id)
    ids = session.exec(
        select(EmployerRanking.trainee_id)
        .where(EmployerRanking.slot_id == slot.id)
        .order_by(col(EmployerRanking.rank))
    ).all()
    assert slot.id is not None
    return Rankings(slot_id=slot.id, trainee_ids=list(ids))


def set_rankings(
    *, session: Session, actor: User, slot_id: int, trainee_ids: list[int]
) -> Rankings:
    """The owner employer's order of the slot's applicants (first = most wanted)."""
    require_role(actor, "employer")
    slot, rnd = _changeable(session, actor, slot_id)
    require_status(rnd, "open", doing="rank applicants")
    errors: dict[str, list[str]] = {}
    if len(set(trainee_ids)) != len(trainee_ids):
        errors.setdefault("trainee_ids", []).append("must not repeat a trainee")
    applicants = set(
        session.exec(select(Preference.trainee_id).where(Preference.slot_id == slot.id)).all()
    )
    strangers = [t for t in trainee_ids if t not in applicants]
    if strangers:
        errors.setdefault("trainee_ids", []).append(
            "only applicants to this slot can be ranked; not applicants: "
            + ", ".join(map(str, strangers[:20]))
        )
    if errors:
        raise InvalidInput(errors=errors)
    session.execute(delete(EmployerRanking).where(col(EmployerRanking.slot_id) == slot.id))
    session.flush()
    assert slot.id is not None
    for rank, trainee_id in enumerate(trainee_ids, start=1):
        session.add(EmployerRanking(slot_id=slot.id, trainee_id=trainee_id, rank=rank))
    audit(
        session,
        actor=actor,
        action="ranking.set",
        object_type="slot",
        object_id=slot.id,
        count=len(trainee_ids),
    )
    session.commit()
    assert slot.id is not None
    return Rankings(slot_id=slot.id, trainee_ids=list(trainee_ids))
