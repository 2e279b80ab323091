"""Read models of the trainee's pages: finding slots, one slot, and their ranked choices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from placement.errors import NotFound
from placement.matching.geo import distance_km
from placement.models import Organisation, Round, RoundStatus, Slot, Trainee, User
from placement.services import postcodes, preferences, vetting
from placement.services.common import trainee_of
from placement.services.pages.lookups import SlotLabel, rounds_with_status, slot_labels

VISIBLE = (RoundStatus.OPEN, RoundStatus.CLOSED, RoundStatus.PUBLISHED)


@dataclass(frozen=True)
class SlotListing:
    slot: Slot
    organisation: Organisation
    round: Round
    distance_km: float | None
    free_seats: int


def _distance(trainee: Trainee | None, slot: Slot) -> float | None:
    if slot.remote:
        return 0.0
    if trainee is None or trainee.latitude is None or trainee.longitude is None:
        return None
    return distance_km(trainee.latitude, trainee.longitude, slot.latitude, slot.longitude)


def browse_slots(
    session: Session,
    *,
    trainee: Trainee | None,
    round_id: int | None = None,
    discipline: str | None = None,
    host_kind: str | None = None,
    within_km: float | None = None,
    keywords: str | None = None,
) -> list[SlotListing]:
    """Slots of open rounds at verified hosts, nearest first when the trainee's home is
    known; `within_km` keeps those no further than that from home (remote slots always);
    `keywords` keeps those whose title, host, discipline or skills hold every word."""
    words = (keywords or "").casefold().split()
    statement = (
        select(Slot, Organisation, Round)
        .join(Organisation, col(Organisation.id) == Slot.organisation_id)
        .join(Round, col(Round.id) == Slot.round_id)
        .where(Round.status == RoundStatus.OPEN, col(Organisation.verified).is_(True))
    )
    if round_id is not None:
        statement = statement.where(Slot.round_id == round_id)
    if discipline:
        statement = statement.where(Slot.discipline == discipline)
    if host_kind:
        statement = statement.where(Organisation.kind == host_kind)
    listings = []
    for slot, org, rnd in session.exec(statement.order_by(col(Slot.title), col(Slot.id))).all():
        km = _distance(trainee, slot)
        if within_km is not None and km is not None and km > within_km:
            continue
        if words and not _matches(words, slot, org):
            continue
        listings.append(SlotListing(slot, org, rnd, km, max(slot.capacity - slot.filled, 0)))
    listings.sort(key=lambda s: (s.distance_km is None, s.distance_km or 0.0))
    return listings


def _matches(words: list[str], slot: Slot, org: Organisation) -> bool:
    haystack = " ".join(
        [slot.title, org.name, slot.discipline or "", " ".join(slot.required_skills or [])]
    ).casefold()
    return all(word in haystack for word in words)


def slot_listing(session: Session, slot_id: int, trainee: Trainee | None) -> SlotListing | None:
    row = session.exec(
        select(Slot, Organisation, Round)
        .join(Organisation, col(Organisation.id) == Slot.organisation_id)
        .join(Round, col(Round.id) == Slot.round_id)
        .where(Slot.id == slot_id)
    ).first()
    if row is None:
        return None
    slot, org, rnd = row
    return SlotListing(
        slot, org, rnd, _distance(trainee, slot), max(slot.capacity - slot.filled, 0)
    )


def _chosen_ids(session: Session, actor: User, open_rounds: list[Round]) -> set[int]:
    chosen: set[int] = set()
    for rnd in open_rounds:
        assert rnd.id is not None
        prefs = preferences.get_preferences(session=session, actor=actor, round_id=rnd.id)
        chosen.update(prefs.slot_ids)
    return chosen


@dataclass(frozen=True)
class BrowseQuery:
    round_id: int | None = None
    discipline: str | None = None
    host_kind: str | None = None
    within_km: float | None = None
    keywords: str | None = None


@dataclass(frozen=True)
class BrowsePage:
    listings: list[SlotListing]
    open_rounds: list[Round]
    disciplines: list[str]
    home_known: bool
    chosen: set[int]


def browse_page(session: Session, actor: User, query: BrowseQuery | None) -> BrowsePage:
    """Slots the trainee can choose (none when `query` is None: its filters were bad)."""
    me = trainee_of(session, actor)
    listings = []
    if query is not None:
        listings = browse_slots(
            session,
            trainee=me,
            round_id=query.round_id,
            discipline=query.discipline,
            host_kind=query.host_kind,
            within_km=query.within_km,
            keywords=query.keywords,
        )
    disciplines = session.exec(
        select(Slot.discipline)
        .join(Round, col(Round.id) == Slot.round_id)
        .where(Round.status == RoundStatus.OPEN, Slot.discipline != "")
        .distinct()
        .order_by(col(Slot.discipline))
    ).all()
    open_rounds = rounds_with_status(session, RoundStatus.OPEN)
    return BrowsePage(
        listings=listings,
        open_rounds=open_rounds,
        disciplines=[str(d) for d in disciplines],
        home_known=me.latitude is not None and me.longitude is not None,
        chosen=_chosen_ids(session, actor, open_rounds),
    )


@dataclass(frozen=True)
class SlotPage:
    listing: SlotListing
    chosen: bool
    standards: list[vetting.Standard]  # the host's accreditations, current or not
    warning: str | None = None  # why the matcher could not place this trainee here
    # Which of the places the distance is measured between are only a district's centre.
    location_notes: list[str] = field(default_factory=list)


def _visible_listing(session: Session, slot_id: int, trainee: Trainee | None) -> SlotListing:
    """A slot trainees may see: in a round past its draft, at a verified host."""
    listing = slot_listing(session, slot_id, trainee)
    if (
        listing is None
        or listing.round.status == RoundStatus.DRAFT
        or not listing.organisation.verified
    ):
        raise NotFound("No such slot.")
    return listing


def slot_page(session: Session, actor: User, slot_id: int) -> SlotPage:
    me = trainee_of(session, actor)
    listing = _visible_listing(session, slot_id, me)
    open_rounds = rounds_with_status(session, RoundStatus.OPEN)
    org_id = listing.organisation.id or 0
    warned = preferences.eligibility_warnings(session, me, [slot_id])
    return SlotPage(
        listing=listing,
        chosen=slot_id in _chosen_ids(session, actor, open_rounds),
        standards=vetting.standards_of(session, [org_id])[org_id],
        warning=warned[0]["message"] if warned else None,
        location_notes=_location_notes(session, listing, me),
    )


def _location_notes(session: Session, listing: SlotListing, me: Trainee) -> list[str]:
    slot = listing.slot
    if slot.remote:
        return []
    place = slot if slot.postcode else listing.organisation
    notes = postcodes.approximate_notes(session, [place])
    mine = postcodes.approximate_note(session, me)
    return [
        *notes.values(),
        *(
            [mine.replace("Location approximate:", "Your home location is approximate:")]
            if mine
            else []
        ),
    ]


@dataclass(frozen=True)
class ChoiceSlot:
    title: str
    round_id: int


def choice_slot(session: Session, actor: User, slot_id: int) -> ChoiceSlot:
    """A slot a trainee may add to their choices: one of a round past its draft."""
    trainee_of(session, actor)
    listing = slot_listing(session, slot_id, None)
    if listing is None or listing.round.status == RoundStatus.DRAFT:
        raise NotFound("No such slot.")
    return ChoiceSlot(title=listing.slot.title, round_id=listing.slot.round_id)


@dataclass(frozen=True)
class ChoiceAdded:
    round_id: int
    position: int | None  # None: it was already among the choices
    warning: str | None = None  # why the matcher cannot place them there, if it cannot


def add_choice(session: Session, actor: User, slot_id: int) -> ChoiceAdded:
    """Put a slot last on the trainee's list of its round (no change if it is there)."""
    round_id = choice_slot(session, actor, slot_id).round_id
    current = preferences.get_preferences(session=session, actor=actor, round_id=round_id)
    if slot_id in current.slot_ids:
        return ChoiceAdded(round_id, None)
    saved = preferences.set_preferences(
        session=session, actor=actor, round_id=round_id, slot_ids=[*current.slot_ids, slot_id]
    )
    warning = next((w["message"] for w in saved.warnings if w["slot_id"] == slot_id), None)
    return ChoiceAdded(round_id, len(saved.slot_ids), warning)


@dataclass(frozen=True)
class ChoicesPage:
    round: Round | None  # None: no round to choose in
    rounds: list[Round]
    slot_ids: list[int]
    labels: dict[int, SlotLabel]
    saved_at: datetime | None
    editable: bool
    warnings: dict[int, str] = field(default_factory=dict)  # slot id -> why not eligible


def choices_page(
    session: Session, actor: User, round_id: int | None, *, slot_ids: list[int] | None = None
) -> ChoicesPage:
    """The trainee's ranked choices in a round (by default the first open one); with
    `slot_ids`, that unsaved list is shown instead of the saved one."""
    trainee_of(session, actor)
    visible = rounds_with_status(session, *VISIBLE)
    rnd: Round | None
    if round_id is not None:
        rnd = next((r for r in visible if r.id == round_id), None)
        if rnd is None:
            raise NotFound("No such round.")
    else:
        rnd = next((r for r in visible if r.status == RoundStatus.OPEN), None)
    if rnd is None:
        return ChoicesPage(None, visible, [], {}, None, False)
    assert rnd.id is not None
    saved = preferences.get_preferences(session=session, actor=actor, round_id=rnd.id)
    shown = list(saved.slot_ids) if slot_ids is None else slot_ids
    labels = slot_labels(session, shown)
    warnings = {w["slot_id"]: w["message"] for w in saved.warnings}
    return ChoicesPage(
        round=rnd,
        rounds=visible,
        slot_ids=[s for s in shown if s in labels],
        labels=labels,
        saved_at=saved.updated_at,
        editable=rnd.status == RoundStatus.OPEN,
        warnings=warnings,
    )
