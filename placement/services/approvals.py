"""People decide: approving, rejecting and withdrawing what the matcher proposed.

Invariants hold under concurrency because the database enforces them: a seat is taken by
a conditional UPDATE (`filled < capacity`, the slot row locked until commit) in the same
transaction as the placement insert, and the partial unique index on live placements
refuses a trainee's second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from placement.errors import AlreadyPlaced, Conflict, NotFound, SlotFull
from placement.models import Exclusion, MatchRun, Placement, Proposal, Round, Slot, User
from placement.services.common import audit, require_role, utcnow
from placement.services.rounds import require_status

DECIDING_STATES = ("closed", "published")


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
    placements: list[Placement] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def _proposal(session: Session, proposal_id: int, *, lock: bool) -> tuple[Proposal, Round]:
    statement = select(Proposal).where(Proposal.id == proposal_id)
    if lock:
        statement = statement.with_for_update()
    proposal = session.exec(statement).first()
    if proposal is None:
        raise NotFound("No such proposal.")
    run = session.get(MatchRun, proposal.run_id)
    assert run is not None
    rnd = session.get(Round, run.round_id)
    assert rnd is not None
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
    placement = Placement(
        round_id=rnd.id,
        trainee_id=proposal.trainee_id,
        slot_id=proposal.slot_id,
        proposal_id=proposal.id,
        approved_by=actor.id,
    )
    try:
        with session.begin_nested():
            session.add(placement)
    except IntegrityError as exc:
        # Another coordinator placed the trainee between our check and our insert.
        raise AlreadyPlaced() from exc
    now = utcnow()
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
        action="proposal_approved",
        object_type="proposal",
        object_id=proposal.id,
        placement_id=placement.id,
        slot_id=proposal.slot_id,
        trainee_id=proposal.trainee_id,
    )
    return placement


def approve_proposal(*, session: Session, actor: User, proposal_id: int) -> Placement:
    """Turn a proposal into a live placement: 409 SlotFull / AlreadyPlaced when it no
    longer fits."""
    require_role(actor, "coordinator")
    try:
        proposal, rnd = _proposal(session, proposal_id, lock=True)
        require_status(rnd, *DECIDING_STATES, doing="approve proposals")
        placement = _take_seat(session, actor, proposal, rnd)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return placement


def reject_proposal(*, session: Session, actor: User, proposal_id: int, reason: str) -> Proposal:
    require_role(actor, "coordinator")
    proposal, rnd = _proposal(session, proposal_id, lock=True)
    require_status(rnd, *DECIDING_STATES, doing="reject proposals")
    if proposal.status != "proposed":
        raise Conflict(f"The proposal is already {proposal.status}.")
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
        action="proposal_rejected",
        object_type="proposal",
        object_id=proposal.id,
        reason=reason,
    )
    session.commit()
    return proposal


def approve_all(*, session: Session, actor: User, run_id: int) -> ApproveAllResult:
    """Approve every open proposal of a run that still fits, cheapest first; the rest are
    reported as conflicts and stay open."""
    require_role(actor, "coordinator")
    run = session.get(MatchRun, run_id)
    if run is None:
        raise NotFound("No such run.")
    rnd = session.get(Round, run.round_id)
    assert rnd is not None
    require_status(rnd, *DECIDING_STATES, doing="approve proposals")
    proposals = session.exec(
        select(Proposal)
        .where(Proposal.run_id == run.id, Proposal.status == "proposed")
        .order_by(Proposal.cost, Proposal.id)  # type: ignore[arg-type]
    ).all()
    placements: list[Placement] = []
    refused: list[Refusal] = []
    for proposal in proposals:
        assert proposal.id is not None
        try:
            with session.begin_nested():
                session.refresh(proposal, with_for_update=True)
                placements.append(_take_seat(session, actor, proposal, rnd))
        except Conflict as exc:
            refused.append(Refusal(proposal.id, proposal.trainee_id, proposal.slot_id, exc.message))
    audit(
        session,
        actor=actor,
        action="run_approved_all",
        object_type="run",
        object_id=run.id,
        approved=len(placements),
        conflicts=len(refused),
    )
    session.commit()
    return ApproveAllResult(
        approved=len(placements), conflicts=len(refused), placements=placements, refused=refused
    )


def withdraw_placement(*, session: Session, actor: User, placement_id: int) -> Placement:
    """Withdraw a live placement; its seat is free again."""
    require_role(actor, "coordinator")
    placement = session.exec(
        select(Placement).where(Placement.id == placement_id).with_for_update()
    ).first()
    if placement is None:
        raise NotFound("No such placement.")
    if placement.status != "live":
        raise Conflict("The placement is already withdrawn.")
    placement.status = "withdrawn"
    placement.withdrawn_at = utcnow()
    session.execute(
        update(Slot)
        .where(col(Slot.id) == placement.slot_id, col(Slot.filled) > 0)
        .values(filled=col(Slot.filled) - 1)
    )
    audit(
        session,
        actor=actor,
        action="placement_withdrawn",
        object_type="placement",
        object_id=placement.id,
        slot_id=placement.slot_id,
        trainee_id=placement.trainee_id,
    )
    session.commit()
    return placement
