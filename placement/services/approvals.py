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
from dataclasses import dataclass, field

from sqlalchemy import bindparam, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from placement.errors import AlreadyPlaced, Conflict, InvalidInput, NotFound, SlotFull
from placement.models import (
    AuditEvent,
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
from placement.services.common import audit, bulk_insert, changes, chunks, require_role, snapshot
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


def approve_all(*, session: Session, actor: User, run_id: int) -> ApproveAllResult:
    """Approve every open proposal of a run that still fits, cheapest first; the rest are
    reported as conflicts and stay open.

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
    if approved and session.connection().dialect.name == "postgresql":
        _write_approvals_pg(session, actor, run, rnd, approved)
    elif approved:
        _write_approvals(session, actor, run, rnd, approved)
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
    return ApproveAllResult(approved=len(approved), conflicts=len(refused), refused=refused)


def _write_approvals(
    session: Session,
    actor: User,
    run: MatchRun,
    rnd: Round,
    approved: list[tuple[int, int, int]],
) -> None:
    """Seats, placements, proposal decisions, superseded proposals and one audit event per
    approval, for proposals `approve_all` found to fit; bulk statements, no commit."""
    now = utcnow()
    offer = offer_values(rnd, now)
    taken = Counter(slot_id for _, _, slot_id in approved)
    slots = Slot.__table__  # type: ignore[attr-defined]
    # `CHECK (filled <= capacity)` still guards the counter.
    session.execute(
        update(slots)
        .where(slots.c.id == bindparam("slot_id"))
        .values(filled=slots.c.filled + bindparam("taken")),
        [{"slot_id": slot_id, "taken": n} for slot_id, n in taken.items()],
    )
    bulk_insert(
        session,
        Placement,
        [
            {
                "round_id": rnd.id,
                "trainee_id": trainee_id,
                "slot_id": slot_id,
                "proposal_id": proposal_id,
                "status": "live",
                "approved_by": actor.id,
                "created_at": now,
                "withdrawn_at": None,
                **offer,
            }
            for proposal_id, trainee_id, slot_id in approved
        ],
    )
    # Under the round lock, the round's placements made at `now` are these.
    made = session.execute(
        sa_select(col(Placement.proposal_id), col(Placement.id)).where(
            col(Placement.round_id) == rnd.id, col(Placement.created_at) == now
        )
    )
    placement_of = {proposal_id: placement_id for proposal_id, placement_id in made}
    runs_of_round = sa_select(col(MatchRun.id)).where(col(MatchRun.round_id) == rnd.id)
    for part in chunks(approved):
        session.execute(
            update(Proposal)
            .where(col(Proposal.id).in_([proposal_id for proposal_id, _, _ in part]))
            .values(status="approved", decided_by=actor.id, decided_at=now)
            .execution_options(synchronize_session=False)
        )
        # The trainees' open proposals from other runs of the round are moot now.
        session.execute(
            update(Proposal)
            .where(
                col(Proposal.trainee_id).in_([trainee_id for _, trainee_id, _ in part]),
                col(Proposal.status) == "proposed",
                col(Proposal.run_id).in_(runs_of_round),
            )
            .values(status="superseded", decided_at=now)
            .execution_options(synchronize_session=False)
        )
    bulk_insert(
        session,
        AuditEvent,
        [
            {
                "at": now,
                "actor_id": actor.id,
                "action": "proposal.approve",
                "object_type": "proposal",
                "object_id": str(proposal_id),
                "detail": {
                    "placement_id": placement_of[proposal_id],
                    "slot_id": slot_id,
                    "run_id": run.id,
                    "via": "approve_all",
                    "changes": {
                        "status": {"before": "proposed", "after": "approved"},
                        "decided_by": {"before": None, "after": actor.id},
                        "decided_at": {"before": None, "after": now.isoformat()},
                    },
                },
                "ip": None,
                "round_id": rnd.id,
                "trainee_id": trainee_id,
            }
            for proposal_id, trainee_id, slot_id in approved
        ],
    )
    session.expire_all()
    if offer["offer_status"] is not None:
        for placement_id in placement_of.values():
            placement = session.get(Placement, placement_id)
            assert placement is not None
            tell_offer_made(session, placement)


# Postgres writes the decisions of `approve_all` in four statements whatever their number:
# the seats, then the placements with their audit events (one statement, so each event
# names its placement), the decisions, and the trainees' other open proposals.
_TAKE_SEATS = """
UPDATE slots SET filled = slots.filled + taken.n
FROM unnest(CAST(:slot_ids AS integer[]), CAST(:counts AS integer[])) AS taken(id, n)
WHERE slots.id = taken.id
"""
_PLACE_AND_AUDIT = """
WITH decided AS (
    SELECT * FROM unnest(
        CAST(:proposal_ids AS integer[]),
        CAST(:trainee_ids AS integer[]),
        CAST(:slot_ids AS integer[])
    ) WITH ORDINALITY AS d(proposal_id, trainee_id, slot_id, n)
),
made AS (
    INSERT INTO placements (
        round_id, trainee_id, slot_id, proposal_id, status, approved_by, created_at,
        withdrawn_at, offer_status, offered_at, offer_expires_at
    )
    SELECT CAST(:round_id AS integer), trainee_id, slot_id, proposal_id, 'live',
        CAST(:actor_id AS integer), CAST(:now AS timestamptz), NULL,
        CAST(:offer_status AS varchar), CAST(:offered_at AS timestamptz),
        CAST(:offer_expires_at AS timestamptz)
    FROM decided ORDER BY n
    RETURNING id, proposal_id
)
INSERT INTO audit_events (
    at, actor_id, action, object_type, object_id, detail, ip, round_id, trainee_id
)
SELECT CAST(:now AS timestamptz), CAST(:actor_id AS integer), 'proposal.approve', 'proposal',
    CAST(d.proposal_id AS text),
    json_build_object(
        'placement_id', made.id,
        'slot_id', d.slot_id,
        'run_id', CAST(:run_id AS integer),
        'via', 'approve_all',
        'changes', json_build_object(
            'status', json_build_object('before', 'proposed', 'after', 'approved'),
            'decided_by', json_build_object('before', NULL, 'after', CAST(:actor_id AS integer)),
            'decided_at', json_build_object('before', NULL, 'after', CAST(:now_text AS text))
        )
    ),
    NULL, CAST(:round_id AS integer), d.trainee_id
FROM made JOIN decided AS d ON d.proposal_id = made.proposal_id
ORDER BY d.n
RETURNING CAST(detail ->> 'placement_id' AS integer)
"""
_DECIDE = """
UPDATE proposals SET status = 'approved', decided_by = :actor_id, decided_at = :now
FROM unnest(CAST(:proposal_ids AS integer[])) AS decided(id)
WHERE proposals.id = decided.id
"""
# The trainees' open proposals from other runs of the round are moot now.
_SUPERSEDE = """
UPDATE proposals SET status = 'superseded', decided_at = :now
FROM unnest(CAST(:trainee_ids AS integer[])) AS placed(id)
WHERE proposals.trainee_id = placed.id AND proposals.status = 'proposed'
    AND proposals.run_id IN (SELECT id FROM match_runs WHERE round_id = :round_id)
"""


def _write_approvals_pg(
    session: Session,
    actor: User,
    run: MatchRun,
    rnd: Round,
    approved: list[tuple[int, int, int]],
) -> None:
    """`_write_approvals` for Postgres: the same rows, set-wise from arrays, no commit."""
    now = utcnow()
    offer = offer_values(rnd, now)
    taken = Counter(slot_id for _, _, slot_id in approved)
    proposal_ids = [proposal_id for proposal_id, _, _ in approved]
    trainee_ids = [trainee_id for _, trainee_id, _ in approved]
    # `CHECK (filled <= capacity)` still guards the counter.
    session.execute(text(_TAKE_SEATS), {"slot_ids": list(taken), "counts": list(taken.values())})
    placement_ids = (
        session.execute(
            text(_PLACE_AND_AUDIT),
            {
                "proposal_ids": proposal_ids,
                "trainee_ids": trainee_ids,
                "slot_ids": [slot_id for _, _, slot_id in approved],
                "round_id": rnd.id,
                "run_id": run.id,
                "actor_id": actor.id,
                "now": now,
                "now_text": now.isoformat(),
                **offer,
            },
        )
        .scalars()
        .all()
    )
    session.execute(text(_DECIDE), {"proposal_ids": proposal_ids, "actor_id": actor.id, "now": now})
    session.execute(text(_SUPERSEDE), {"trainee_ids": trainee_ids, "now": now, "round_id": rnd.id})
    session.expire_all()
    if offer["offer_status"] is not None:
        for placement_id in placement_ids:
            placement = session.get(Placement, placement_id)
            assert placement is not None
            tell_offer_made(session, placement)


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
