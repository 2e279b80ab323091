"""Read models of the pages that decide proposals and show placements: approving one or
all of a run's proposals, a round's placements, withdrawing one. (What a trainee or a host
sees once their round is published is in pages/offers.py.)"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from placement.errors import NotFound
from placement.models import (
    MatchRun,
    Organisation,
    Placement,
    PlacementStatus,
    Round,
    RoundStatus,
    Slot,
    User,
)
from placement.services import approvals, placements, rounds
from placement.services.common import Page, require_role
from placement.services.pages.lookups import (
    SlotLabel,
    slot_labels,
    trainee_names,
)
from placement.services.pages.runs import _run_and_round, open_count
from placement.services.placements import PlacementView


@dataclass(frozen=True)
class Decided:
    """A proposal approved or a placement withdrawn, with the trainee's name to say so."""

    placement: Placement
    trainee_name: str


def approve(session: Session, actor: User, proposal_id: int) -> Decided:
    placement = approvals.approve_proposal(session=session, actor=actor, proposal_id=proposal_id)
    names = trainee_names(session, [placement.trainee_id])
    return Decided(placement, names.get(placement.trainee_id, "the trainee"))


def withdraw(session: Session, actor: User, placement_id: int) -> Decided:
    placement = approvals.withdraw_placement(
        session=session, actor=actor, placement_id=placement_id
    )
    names = trainee_names(session, [placement.trainee_id])
    return Decided(placement, names.get(placement.trainee_id, "the trainee"))


@dataclass(frozen=True)
class ApproveAllPage:
    run: MatchRun
    round: Round
    open_count: int
    problem: str | None  # why nothing can be approved now, if so


def approve_all_page(session: Session, actor: User, run_id: int) -> ApproveAllPage:
    """What approving all of a run's open proposals would do, or why it cannot now."""
    run, rnd = _run_and_round(session, actor, run_id)
    count = open_count(session, actor, run_id)
    problem = None
    if rnd.status not in approvals.DECIDING_STATES:
        problem = f"The round is {rnd.status}; proposals are decided once it is closed."
    elif not count:
        problem = "This run has no open proposals left."
    return ApproveAllPage(run=run, round=rnd, open_count=count, problem=problem)


@dataclass(frozen=True)
class RoundPlacements:
    round: Round
    page: Page[PlacementView]
    slot_labels: dict[int, SlotLabel]


def round_placements(
    session: Session,
    actor: User,
    round_id: int,
    *,
    status: PlacementStatus | None,
    page: int,
    per_page: int,
) -> RoundPlacements:
    rnd = rounds.get_round_for(session=session, actor=actor, round_id=round_id)
    found = placements.list_placements(
        session=session,
        actor=actor,
        round_id=round_id,
        status=status,
        page=page,
        per_page=per_page,
    )
    return RoundPlacements(
        round=rnd, page=found, slot_labels=slot_labels(session, [p.slot_id for p in found.items])
    )


@dataclass(frozen=True)
class WithdrawPage:
    placement: Placement
    trainee_name: str
    slot: Slot
    organisation: str
    round: Round
    live: bool
    published: bool


def withdraw_page(session: Session, actor: User, placement_id: int) -> WithdrawPage:
    """A placement with what its withdrawal page names: trainee, slot, host, round."""
    require_role(actor, "coordinator")
    row = session.exec(
        select(Placement, Slot, Organisation, Round)
        .join(Slot, col(Slot.id) == col(Placement.slot_id))
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .join(Round, col(Round.id) == col(Placement.round_id))
        .where(col(Placement.id) == placement_id)
    ).first()
    if row is None:
        raise NotFound("No such placement.")
    placement, slot, org, rnd = row
    names = trainee_names(session, [placement.trainee_id])
    return WithdrawPage(
        placement=placement,
        trainee_name=names.get(placement.trainee_id, "the trainee"),
        slot=slot,
        organisation=org.name,
        round=rnd,
        live=placement.status == PlacementStatus.LIVE,
        published=rnd.status == RoundStatus.PUBLISHED,
    )
