"""People decide: approving, rejecting and withdrawing what the matcher proposed.

Invariants hold under concurrency because the database enforces them: a seat is taken by
a conditional UPDATE (`filled < capacity`, the slot row locked until commit) in the same
transaction as the placement insert, and the partial unique index on live placements
refuses a trainee's second one.

Every approval first locks its round's row (`offers.lock_round`), so approvals in one round take
their turn: a single approval and an "approve all" never wait on each other's proposals
and slots in opposite orders (no deadlock), and "approve all" can decide a whole run from
one consistent reading of seats and placements, then write it set-wise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from placement.errors import AlreadyPlaced, Conflict, InvalidInput, NotFound, SlotFull
from placement.models import (
    Exclusion,
    MatchRun,
    OfferStatus,
    Placement,
    Proposal,
    Round,
    RoundStatus,
    Slot,
    User,
    utcnow,
)
from placement.services import notifications
from placement.services.approval_writes import write_approvals
from placement.services.common import audit, changes, require_role, snapshot
from placement.services.offers import free_seats, lock_round, offer_values, tell_offer_made
from placement.services.rounds import require_status

DECIDING_STATES = (RoundStatus.CLOSED, RoundStatus.PUBLISHED)
# The longest reason a rejection may give, for the API and the pages alike.
REASON_MAX = 1000
# What a decision changes on a proposal (the audit event's before/after).
DECISION_FIELDS = ("status", "reason", "decided_by", "decided_at")


@dataclass(frozen=True)
class Refusal:
    proposal_id: int
    trainee_id: int
    slot_id: int
    reason: str


@dataclass(frozen=True)
class ApproveAllResult:
    approved: int
    conflicts: int
    refused: list[Refusal] = field(default_factory=list)


def _proposal(session: Session, proposal_id: int) -> tuple[Proposal, Round]:
    """The proposal and its round, the round locked first, then the proposal."""
    found = session.execute(
        sa_select(col(MatchRun.round_id))
        .join(Proposal, col(Proposal.run_id) == col(MatchRun.id))
        .where(col(Proposal.id) == proposal_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("No such proposal.")
    rnd = lock_round(session, found)
    proposal = session.exec(
        select(Proposal)
        .where(Proposal.id == proposal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return proposal, rnd


def _take_seat(session: Session, actor: User, proposal: Proposal, rnd: Round) -> Placement:
    """Approve one open proposal inside the caller's transaction (no commit)."""
    if proposal.status != "proposed":
        raise Conflict(f"The proposal is already {proposal.status}.")
    live = session.exec(
        select(Placement.id).where(
            Placement.round_id == rnd.id,
            Placement.trainee_id == proposal.trainee_id,
            Placement.status == "live",
        )
    ).first()
    if live is not None:
        raise AlreadyPlaced()
    taken = session.execute(
        update(Slot)
        .where(col(Slot.id) == proposal.slot_id, col(Slot.filled) < col(Slot.capacity))
        .values(filled=col(Slot.filled) + 1)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise SlotFull()
    assert rnd.id is not None
    now = utcnow()
    # On a published round (a clearing run's or a late approval) the placement is an offer
    # at once: nobody waits for another publication.
    placement = Placement(
        round_id=rnd.id,
        trainee_id=proposal.trainee_id,
        slot_id=proposal.slot_id,
        proposal_id=proposal.id,
        approved_by=actor.id,
        created_at=now,
        **offer_values(rnd, now),
    )
    try:
        with session.begin_nested():
            session.add(placement)
    except IntegrityError as exc:
        # Another coordinator placed the trainee between our check and our insert.
        raise AlreadyPlaced() from exc
    before = snapshot(proposal, fields=DECISION_FIELDS)
    proposal.status = "approved"
    proposal.decided_by = actor.id
    proposal.decided_at = now
    # The trainee's open proposals from other runs of the round are moot now.
    session.execute(
        update(Proposal)
        .where(
            col(Proposal.trainee_id) == proposal.trainee_id,
            col(Proposal.status) == "proposed",
            col(Proposal.id) != proposal.id,
            col(Proposal.run_id).in_(select(MatchRun.id).where(MatchRun.round_id == rnd.id)),
        )
        .values(status="superseded", decided_at=now)
        .execution_options(synchronize_session=False)
    )
    audit(
        session,
        actor=actor,
        action="proposal.approve",
        object_type="proposal",
        object_id=proposal.id,
        round_id=rnd.id,
        trainee_id=proposal.trainee_id,
        placement_id=placement.id,
        slot_id=proposal.slot_id,
        changes=changes(before, proposal),
    )
    if placement.offer_status is not None:
        tell_offer_made(session, placement)
    return placement


def approve_proposal(*, session: Session, actor: User, proposal_id: int) -> Placement:
    """Turn a proposal into a live placement: 409 SlotFull / AlreadyPlaced when it no
    longer fits."""
    require_role(actor, "coordinator")
    try:
        proposal, rnd = _proposal(session, proposal_id)
        require_status(rnd, *DECIDING_STATES, doing="approve proposals")
        placement = _take_seat(session, actor, proposal, rnd)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return placement


def reject_proposal(*, session: Session, actor: User, proposal_id: int, reason: str) -> Proposal:
    require_role(actor, "coordinator")
    if len(reason) > REASON_MAX:
        raise InvalidInput(errors={"reason": [f"must be at most {REASON_MAX} characters"]})
    proposal, rnd = _proposal(session, proposal_id)
    require_status(rnd, *DECIDING_STATES, doing="reject proposals")
    if proposal.status != "proposed":
        raise Conflict(f"The proposal is already {proposal.status}.")
    before = snapshot(proposal, fields=DECISION_FIELDS)
    proposal.status = "rejected"
    proposal.reason = reason
    proposal.decided_by = actor.id
    proposal.decided_at = utcnow()
    # A rejected pair is excluded from later runs of the round, or re-running would
    # propose it again.
    excluded = session.exec(
        select(Exclusion.id).where(
            Exclusion.slot_id == proposal.slot_id, Exclusion.trainee_id == proposal.trainee_id
        )
    ).first()
    if excluded is None:
        assert rnd.id is not None
        session.add(
            Exclusion(
                round_id=rnd.id,
                slot_id=proposal.slot_id,
                trainee_id=proposal.trainee_id,
                reason=reason,
                created_by=actor.id,
            )
        )
    audit(
        session,
        actor=actor,
        action="proposal.reject",
        object_type="proposal",
        object_id=proposal.id,
        round_id=rnd.id,
        trainee_id=proposal.trainee_id,
        slot_id=proposal.slot_id,
        changes=changes(before, proposal),
    )
    session.commit()
    return proposal


def approve_all(
    *,
    session: Session,
    actor: User,
    run_id: int,
    progress: Callable[[int, int], None] | None = None,
) -> ApproveAllResult:
    """Approve every open proposal of a run that still fits, cheapest first; the rest are
    reported as conflicts and stay open.

    `progress(done, total)`, when given, is called as the steps end (decided, written,
    committed: `total` is 3), for a background job's progress bar.

    One reading of the run's open proposals, the seats of their slots and the round's live
    placements (all under the round lock, the slots also row-locked) decides every proposal
    as `approve_proposal` would have one by one; the decisions are then written set-wise,
    so a national run of 100,000 proposals is approved in seconds, not in hours.
    """
    require_role(actor, "coordinator")
    assert actor.id is not None
    run = session.get(MatchRun, run_id)
    if run is None:
        raise NotFound("No such run.")
    rnd = lock_round(session, run.round_id)
    require_status(rnd, *DECIDING_STATES, doing="approve proposals")
    open_proposals = session.execute(
        sa_select(col(Proposal.id), col(Proposal.trainee_id), col(Proposal.slot_id))
        .where(col(Proposal.run_id) == run.id, col(Proposal.status) == "proposed")
        .order_by(col(Proposal.cost), col(Proposal.id))
    ).all()
    # The seats of every slot with an open proposal, those slots locked (in id order).
    rows = session.execute(
        sa_select(col(Slot.id), col(Slot.capacity), col(Slot.filled))
        .where(
            col(Slot.id).in_(
                sa_select(col(Proposal.slot_id)).where(
                    col(Proposal.run_id) == run.id, col(Proposal.status) == "proposed"
                )
            )
        )
        .order_by(col(Slot.id))
        .with_for_update()
    ).all()
    free = {slot_id: capacity - filled for slot_id, capacity, filled in rows}
    placed = set(
        session.execute(
            sa_select(col(Placement.trainee_id)).where(
                col(Placement.round_id) == rnd.id, col(Placement.status) == "live"
            )
        ).scalars()
    )
    approved: list[tuple[int, int, int]] = []
    refused: list[Refusal] = []
    for proposal_id, trainee_id, slot_id in open_proposals:
        if trainee_id in placed:
            refused.append(Refusal(proposal_id, trainee_id, slot_id, AlreadyPlaced.default_message))
        elif free.get(slot_id, 0) <= 0:
            refused.append(Refusal(proposal_id, trainee_id, slot_id, SlotFull.default_message))
        else:
            free[slot_id] -= 1
            placed.add(trainee_id)
            approved.append((proposal_id, trainee_id, slot_id))
    if progress is not None:
        progress(1, 3)
    # Written in proposal id order (a run writes its proposals in trainee order): each
    # placement's foreign-key checks and index entries then land next to the previous
    # one's, about a third less work for Postgres than in the order of decision.
    approved.sort()
    if approved:
        write_approvals(session, actor, run, rnd, approved)
    if progress is not None:
        progress(2, 3)
    audit(
        session,
        actor=actor,
        action="run.approve_all",
        object_type="run",
        object_id=run.id,
        round_id=rnd.id,
        approved=len(approved),
        conflicts=len(refused),
    )
    session.commit()
    if progress is not None:
        progress(3, 3)
    return ApproveAllResult(approved=len(approved), conflicts=len(refused), refused=refused)


def withdraw_placement(*, session: Session, actor: User, placement_id: int) -> Placement:
    """Withdraw a live placement (an accepted or open offer included); its seat is free
    again and the row is kept."""
    require_role(actor, "coordinator")
    round_id = session.execute(
        sa_select(col(Placement.round_id)).where(col(Placement.id) == placement_id)
    ).scalar_one_or_none()
    if round_id is None:
        raise NotFound("No such placement.")
    lock_round(session, round_id)
    placement = session.exec(
        select(Placement)
        .where(Placement.id == placement_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if placement.status != "live":
        raise Conflict("The placement is already withdrawn.")
    before = snapshot(placement)
    now = utcnow()
    placement.status = "withdrawn"
    placement.withdrawn_at = now
    if placement.offer_status is not None:
        placement.offer_status = OfferStatus.WITHDRAWN
        placement.offer_decided_at = now
    free_seats(session, Counter([placement.slot_id]))
    audit(
        session,
        actor=actor,
        action="placement.withdraw",
        object_type="placement",
        object_id=placement.id,
        round_id=placement.round_id,
        trainee_id=placement.trainee_id,
        slot_id=placement.slot_id,
        changes=changes(before, placement),
    )
    notifications.placement_withdrawn(session, placement)
    session.commit()
    return placement
