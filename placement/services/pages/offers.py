"""Read models of the offer pages: the trainee's placement page (offers to answer, what
they accepted, why they are not placed), the host's offers, and a round's report."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from placement.errors import NotFound
from placement.models import (
    MatchRun,
    OfferStatus,
    Placement,
    PlacementStatus,
    Preference,
    Round,
    RoundStatus,
    RoundTrainee,
    RunStatus,
    UnplacedTrainee,
    User,
    utcnow,
)
from placement.services import offers, placements
from placement.services.common import trainee_of
from placement.services.notifications import NO_APPROVED_PLACEMENT, UNPLACED_REASONS
from placement.services.pages.lookups import rounds_with_status
from placement.services.pages.trainee import SlotListing, slot_listing
from placement.services.placements import PlacementView, RoundReport

STATUS_WORDS = {
    OfferStatus.OFFERED: "Offered: waiting for an answer",
    OfferStatus.ACCEPTED: "Accepted",
    OfferStatus.DECLINED: "Declined",
    OfferStatus.EXPIRED: "Lapsed: not answered in time",
    OfferStatus.WITHDRAWN: "Withdrawn by the coordinator",
}


def status_words(status: str | None) -> str:
    return STATUS_WORDS.get(OfferStatus(status), status) if status else "Not yet offered"


@dataclass(frozen=True)
class Offer:
    """One of the trainee's offers, open, answered or ended."""

    view: PlacementView
    listing: SlotListing
    choice: int | None  # their rank of the slot; None: not on their list
    deadline: str  # in UK time, for the page
    answerable: bool  # offered and not past its deadline
    host_contact: str | None  # the host's account holder, once accepted
    host_contact_email: str | None

    @property
    def status_words(self) -> str:
        return status_words(self.view.offer_status)


@dataclass(frozen=True)
class NotPlaced:
    """A published round where the trainee holds no open or accepted offer."""

    round: Round
    why: str


@dataclass(frozen=True)
class TraineePlacementsPage:
    offers: list[Offer]
    not_placed: list[NotPlaced]


def _choice_ranks(session: Session, trainee_id: int) -> dict[tuple[int, int], int]:
    rows = session.exec(
        select(Preference.round_id, Preference.slot_id, Preference.rank).where(
            Preference.trainee_id == trainee_id
        )
    ).all()
    return {(r, s): rank for r, s, rank in rows}


def _latest_reason(session: Session, round_id: int, trainee_id: int) -> str | None:
    """Why the latest succeeded run of the round that left the trainee out did so."""
    row = session.exec(
        select(UnplacedTrainee.reason)
        .join(MatchRun, col(MatchRun.id) == col(UnplacedTrainee.run_id))
        .where(
            MatchRun.round_id == round_id,
            MatchRun.status == RunStatus.SUCCEEDED,
            UnplacedTrainee.trainee_id == trainee_id,
        )
        .order_by(col(MatchRun.id).desc())
    ).first()
    return str(row) if row is not None else None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _why_not_placed(ended: list[Offer], reason: str | None) -> str:
    """The plain-words reason a trainee holds nothing in a round: their own last offer's
    end if they had one, else the match's reason."""
    if ended:
        last = ended[-1]
        what = f"{last.listing.slot.title} at {last.listing.organisation.name}"
        status = last.view.offer_status
        if status == OfferStatus.DECLINED:
            return f"You declined the offer of {what}."
        if status == OfferStatus.EXPIRED:
            return f"Your offer of {what} lapsed because it was not answered by {last.deadline}."
        return f"Your coordinator withdrew your placement at {what}."
    return _sentence(UNPLACED_REASONS.get(reason or "", NO_APPROVED_PLACEMENT))


def trainee_placements_page(session: Session, actor: User) -> TraineePlacementsPage:
    me = trainee_of(session, actor)
    assert me.id is not None
    ranks = _choice_ranks(session, me.id)
    now = utcnow()
    found: list[Offer] = []
    for rnd in rounds_with_status(session, RoundStatus.PUBLISHED):
        assert rnd.id is not None
        for view in placements.list_placements(
            session=session, actor=actor, round_id=rnd.id, per_page=500
        ).items:
            listing = slot_listing(session, view.slot_id, None)
            if listing is None:
                continue
            accepted = view.offer_status == OfferStatus.ACCEPTED
            owner = (
                session.get(User, listing.organisation.owner_id)
                if accepted and listing.organisation.owner_id is not None
                else None
            )
            found.append(
                Offer(
                    view=view,
                    listing=listing,
                    choice=ranks.get((rnd.id, view.slot_id)),
                    deadline=offers.uk_time(view.offer_expires_at),
                    answerable=view.offer_status == OfferStatus.OFFERED
                    and view.offer_expires_at is not None
                    and view.offer_expires_at > now,
                    host_contact=owner.name if owner is not None else None,
                    host_contact_email=owner.email if owner is not None else None,
                )
            )
    joined = set(
        session.exec(select(RoundTrainee.round_id).where(RoundTrainee.trainee_id == me.id)).all()
    )
    not_placed = []
    for rnd in rounds_with_status(session, RoundStatus.PUBLISHED):
        mine = [o for o in found if o.view.round_id == rnd.id]
        if any(o.view.status == PlacementStatus.LIVE for o in mine):
            continue
        if rnd.id not in joined and not mine:
            continue
        assert rnd.id is not None
        why = _why_not_placed(mine, _latest_reason(session, rnd.id, me.id))
        not_placed.append(NotPlaced(round=rnd, why=why))
    # Open offers first, then accepted, then the ended ones, newest first within each.
    order = {OfferStatus.OFFERED: 0, OfferStatus.ACCEPTED: 1}
    found.sort(
        key=lambda o: (order.get(OfferStatus(o.view.offer_status or "withdrawn"), 2), -o.view.id)
    )
    return TraineePlacementsPage(offers=found, not_placed=not_placed)


@dataclass(frozen=True)
class AnswerPage:
    offer: Offer


def answer_page(session: Session, actor: User, placement_id: int) -> AnswerPage:
    """One of the trainee's offers, for the decline page (anyone else's is a 404)."""
    for offer in trainee_placements_page(session, actor).offers:
        if offer.view.id == placement_id:
            return AnswerPage(offer)
    raise NotFound("No such placement.")


@dataclass(frozen=True)
class Answered:
    placement: Placement
    slot_title: str
    organisation: str


def accept(session: Session, actor: User, placement_id: int) -> Answered:
    placement = offers.accept_offer(session=session, actor=actor, placement_id=placement_id)
    return _answered(session, placement)


def decline(session: Session, actor: User, placement_id: int, reason: str | None) -> Answered:
    placement = offers.decline_offer(
        session=session, actor=actor, placement_id=placement_id, reason=reason
    )
    return _answered(session, placement)


def _answered(session: Session, placement: Placement) -> Answered:
    listing = slot_listing(session, placement.slot_id, None)
    assert listing is not None
    return Answered(placement, listing.slot.title, listing.organisation.name)


@dataclass(frozen=True)
class HostOffer:
    view: PlacementView
    listing: SlotListing
    deadline: str

    @property
    def status_words(self) -> str:
        return status_words(self.view.offer_status)


def host_offers(session: Session, actor: User) -> list[HostOffer]:
    """The offers at the host's slots in published rounds, open, answered or ended."""
    rows: list[HostOffer] = []
    for rnd in rounds_with_status(session, RoundStatus.PUBLISHED):
        assert rnd.id is not None
        for view in placements.list_placements(
            session=session, actor=actor, round_id=rnd.id, per_page=500
        ).items:
            listing = slot_listing(session, view.slot_id, None)
            if listing is not None:
                rows.append(HostOffer(view, listing, offers.uk_time(view.offer_expires_at)))
    rows.sort(key=lambda r: (r.listing.round.starts_on, r.listing.slot.title, r.view.id))
    return rows


@dataclass(frozen=True)
class ReportPage:
    report: RoundReport
    round: Round
    status_words: dict[str, str]
    # Live placements not yet offered (before publication).
    not_offered: int


def report_page(session: Session, actor: User, round_id: int) -> ReportPage:
    report = placements.round_report(session=session, actor=actor, round_id=round_id)
    rnd = session.get(Round, round_id)
    assert rnd is not None
    not_offered = session.exec(
        select(func.count())
        .select_from(Placement)
        .where(
            Placement.round_id == round_id,
            Placement.status == PlacementStatus.LIVE,
            col(Placement.offer_status).is_(None),
        )
    ).one()
    return ReportPage(
        report=report,
        round=rnd,
        status_words={s.value: status_words(s.value) for s in OfferStatus},
        not_offered=int(not_offered),
    )
