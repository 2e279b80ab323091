"""Read models of the employer's pages: their organisation's slots, one slot's form, its
applicants, and deleting it. A slot of another organisation is not found."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from placement.errors import NotFound
from placement.matching.geo import distance_km
from placement.models import Organisation, Round, RoundStatus, Slot, Trainee, User
from placement.services import slots
from placement.services.common import organisation_of, require_role
from placement.services.pages.lookups import rounds_with_status
from placement.services.slots import Applicant

SHOWN = (RoundStatus.OPEN, RoundStatus.CLOSED, RoundStatus.PUBLISHED)


def own_organisation(session: Session, actor: User) -> Organisation | None:
    require_role(actor, "employer")
    return organisation_of(session, actor)


def _own_slot(session: Session, actor: User, slot_id: int) -> tuple[Organisation, Slot, Round]:
    """One of the employer's own slots, with its round."""
    org = own_organisation(session, actor)
    slot = slots.get_slot(session=session, actor=actor, slot_id=slot_id)
    if org is None or slot.organisation_id != org.id:
        raise NotFound("No such slot.")
    rnd = session.get(Round, slot.round_id)
    assert rnd is not None
    return org, slot, rnd


@dataclass(frozen=True)
class SlotsPage:
    org: Organisation | None
    grouped: list[tuple[Round, list[Slot]]]  # rounds with the organisation's slots


def slots_page(session: Session, actor: User) -> SlotsPage:
    """The organisation's slots by round: every round it has slots in, and open rounds."""
    org = own_organisation(session, actor)
    if org is None:
        return SlotsPage(org=None, grouped=[])
    assert org.id is not None
    grouped = []
    for rnd in rounds_with_status(session, *SHOWN):
        assert rnd.id is not None
        page = slots.list_slots(
            session=session, actor=actor, round_id=rnd.id, organisation_id=org.id, per_page=500
        )
        if page.items or rnd.status == RoundStatus.OPEN:
            grouped.append((rnd, list(page.items)))
    return SlotsPage(org=org, grouped=grouped)


@dataclass(frozen=True)
class SlotForm:
    org: Organisation | None  # None: the employer has not described it yet
    slot: Slot | None  # None: a new slot
    open_rounds: list[Round]


def slot_form(session: Session, actor: User, slot_id: int | None) -> SlotForm:
    """What the slot form needs: the slot (the organisation's own), or the open rounds a
    new one can go in."""
    org = own_organisation(session, actor)
    if org is None:
        return SlotForm(org=None, slot=None, open_rounds=[])
    slot = _own_slot(session, actor, slot_id)[1] if slot_id is not None else None
    return SlotForm(org=org, slot=slot, open_rounds=rounds_with_status(session, RoundStatus.OPEN))


@dataclass(frozen=True)
class ApplicantFacts:
    """What helps an employer decide, without revealing where the trainee lives or how
    they ranked the slot: level, skills matched, a distance band, availability."""

    level: str
    skills: str
    distance: str
    availability: str


@dataclass(frozen=True)
class ApplicantsPage:
    slot: Slot
    round: Round
    by_id: dict[int, Applicant]
    facts: dict[int, ApplicantFacts]
    ranked: list[int]  # the saved ranking, first = most wanted
    unranked: list[int]  # applicants not ranked yet, by name: not an order
    editable: bool


DISTANCE_BANDS = ((10, "under 10 km"), (25, "10 to 25 km"), (50, "25 to 50 km"))


def distance_band(km: float | None) -> str:
    if km is None:
        return "distance not known"
    for limit, text in DISTANCE_BANDS:
        if km < limit:
            return text
    return "over 50 km"


def _facts(slot: Slot, trainee: Trainee) -> ApplicantFacts:
    wanted = {s.casefold() for s in slot.required_skills or []}
    have = {s.casefold() for s in trainee.skills or []}
    if wanted:
        skills = f"{len(wanted & have)} of {len(wanted)} skills wanted"
    else:
        skills = "no skills asked for"
    if slot.remote:
        distance = "remote placement"
    elif trainee.latitude is None or trainee.longitude is None:
        distance = distance_band(None)
    else:
        km = distance_km(trainee.latitude, trainee.longitude, slot.latitude, slot.longitude)
        distance = distance_band(km)
    if trainee.available_from is None or trainee.available_to is None:
        availability = "availability not given"
    elif trainee.available_from <= slot.starts_on and trainee.available_to >= slot.ends_on:
        availability = "available for all of it"
    else:
        availability = "not available for all of it"
    level = f"level {trainee.level}" if trainee.level else "level not given"
    return ApplicantFacts(level, skills, distance, availability)


def applicants_page(session: Session, actor: User, slot_id: int) -> ApplicantsPage:
    slot = slots.get_slot(session=session, actor=actor, slot_id=slot_id)
    page = slots.list_applicants(session=session, actor=actor, slot_id=slot_id, per_page=500)
    ranked = slots.get_rankings(session=session, actor=actor, slot_id=slot_id).trainee_ids
    rnd = session.get(Round, slot.round_id)
    assert rnd is not None
    by_id = {a.id: a for a in page.items}
    trainees = session.exec(select(Trainee).where(col(Trainee.id).in_(list(by_id)))).all()
    facts = {t.id: _facts(slot, t) for t in trainees if t.id is not None}
    saved = [t for t in ranked if t in by_id]
    unranked = sorted((t for t in by_id if t not in saved), key=lambda t: by_id[t].name)
    return ApplicantsPage(
        slot=slot,
        round=rnd,
        by_id=by_id,
        facts=facts,
        ranked=saved,
        unranked=unranked,
        editable=rnd.status == RoundStatus.OPEN,
    )


@dataclass(frozen=True)
class DeleteSlotPage:
    slot: Slot
    round: Round
    ranked_by: int  # trainees who chose it


def delete_slot_page(session: Session, actor: User, slot_id: int) -> DeleteSlotPage:
    _, slot, rnd = _own_slot(session, actor, slot_id)
    ranked_by = slots.list_applicants(
        session=session, actor=actor, slot_id=slot_id, per_page=1
    ).total
    return DeleteSlotPage(slot=slot, round=rnd, ranked_by=ranked_by)
