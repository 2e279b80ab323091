"""Approving, rejecting and withdrawing, called as services on SQLite and Postgres.

The rules live in placement/services/approvals.py: a seat is taken only while the slot
has one free, a trainee holds at most one live placement in a round, "approve all" decides
cheapest first, and a rejected pair is excluded from later runs. The API tests drive the
same rules over HTTP; these call the functions themselves.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, col, select

from placement.errors import AlreadyPlaced, Conflict, Forbidden, NotFound, SlotFull, WrongState
from placement.models import (
    AuditEvent,
    Exclusion,
    MatchRun,
    Placement,
    PlacementStatus,
    Proposal,
    ProposalStatus,
    Round,
    RoundStatus,
    Slot,
    Trainee,
    User,
)
from placement.services import approvals
from tests import factories as f


def _id(row: Round | Slot | Trainee | MatchRun | Proposal | Placement) -> int:
    assert row.id is not None
    return row.id


def _run(session: Session, rnd: Round) -> MatchRun:
    run = MatchRun(round_id=_id(rnd), weights={}, status="succeeded")
    session.add(run)
    session.flush()
    return run


def _proposal(
    session: Session, run: MatchRun, trainee: Trainee, slot: Slot, cost: float = 1.0
) -> Proposal:
    proposal = Proposal(
        run_id=_id(run), trainee_id=_id(trainee), slot_id=_id(slot), rank=1, cost=cost
    )
    session.add(proposal)
    session.flush()
    return proposal


def _placed(session: Session, trainee: Trainee) -> list[Placement]:
    return list(
        session.exec(
            select(Placement).where(
                Placement.trainee_id == trainee.id, Placement.status == PlacementStatus.LIVE
            )
        ).all()
    )


def _status(session: Session, proposal: Proposal) -> str:
    session.expire_all()
    stored = session.get(Proposal, proposal.id)
    assert stored is not None
    return stored.status


def _filled(session: Session, slot: Slot) -> int:
    session.expire_all()
    stored = session.get(Slot, slot.id)
    assert stored is not None
    return stored.filled


@pytest.fixture
def coordinator(session: Session) -> User:
    return f.user(session, role="coordinator")


@pytest.fixture
def closed_round(session: Session) -> Round:
    return f.round_(session, status=RoundStatus.CLOSED)


def test_approve_takes_a_seat_and_supersedes_other_runs(
    session: Session, coordinator: User, closed_round: Round
) -> None:
    org = f.organisation(session)
    slot, other_slot = (f.slot(session, round=closed_round, organisation=org) for _ in "ab")
    trainee = f.trainee(session)
    older, newer = _run(session, closed_round), _run(session, closed_round)
    stale = _proposal(session, older, trainee, other_slot)
    chosen = _proposal(session, newer, trainee, slot)
    session.commit()

    placement = approvals.approve_proposal(
        session=session,
        actor=coordinator,
        proposal_id=_id(chosen),
    )

    assert placement.id is not None and placement.status == PlacementStatus.LIVE
    assert (placement.trainee_id, placement.slot_id) == (trainee.id, slot.id)
    assert placement.approved_by == coordinator.id
    assert _status(session, chosen) == ProposalStatus.APPROVED
    assert _status(session, stale) == ProposalStatus.SUPERSEDED
    assert _filled(session, slot) == 1 and _filled(session, other_slot) == 0


def test_approve_refuses_a_full_slot(
    session: Session, coordinator: User, closed_round: Round
) -> None:
    org = f.organisation(session)
    slot = f.slot(session, round=closed_round, organisation=org, capacity=1)
    first, second = f.trainee(session), f.trainee(session)
    run = _run(session, closed_round)
    taken = _proposal(session, run, first, slot)
    refused = _proposal(session, run, second, slot)
    session.commit()
    approvals.approve_proposal(session=session, actor=coordinator, proposal_id=_id(taken))

    with pytest.raises(SlotFull) as caught:
        approvals.approve_proposal(session=session, actor=coordinator, proposal_id=_id(refused))

    assert isinstance(caught.value, Conflict) and caught.value.status == 409
    assert _status(session, refused) == ProposalStatus.PROPOSED
    assert _filled(session, slot) == 1
    assert _placed(session, second) == []


def test_approve_refuses_a_trainee_already_placed(
    session: Session, coordinator: User, closed_round: Round
) -> None:
    org = f.organisation(session)
    placed_in, wanted = (f.slot(session, round=closed_round, organisation=org) for _ in "ab")
    trainee = f.trainee(session)
    # Placed by hand (not through a proposal of this round's runs), so nothing superseded
    # the open proposal below.
    session.add(
        Placement(round_id=_id(closed_round), trainee_id=_id(trainee), slot_id=_id(placed_in))
    )
    proposal = _proposal(session, _run(session, closed_round), trainee, wanted)
    session.commit()

    with pytest.raises(AlreadyPlaced) as caught:
        approvals.approve_proposal(session=session, actor=coordinator, proposal_id=_id(proposal))

    assert isinstance(caught.value, Conflict)
    assert _status(session, proposal) == ProposalStatus.PROPOSED
    assert _filled(session, wanted) == 0
    assert [p.slot_id for p in _placed(session, trainee)] == [placed_in.id]


def test_approve_refuses_a_decided_proposal_and_checks_who_and_when(
    session: Session, coordinator: User, closed_round: Round
) -> None:
    org = f.organisation(session)
    slot = f.slot(session, round=closed_round, organisation=org)
    run = _run(session, closed_round)
    proposal = _proposal(session, run, f.trainee(session), slot)
    open_round = f.round_(session, status=RoundStatus.OPEN)
    early = _proposal(
        session,
        _run(session, open_round),
        f.trainee(session),
        f.slot(session, round=open_round, organisation=org),
    )
    employer = f.user(session, role="employer")
    session.commit()

    with pytest.raises(Forbidden):
        approvals.approve_proposal(session=session, actor=employer, proposal_id=_id(proposal))
    with pytest.raises(NotFound):
        approvals.approve_proposal(session=session, actor=coordinator, proposal_id=10**9)
    with pytest.raises(WrongState):
        approvals.approve_proposal(session=session, actor=coordinator, proposal_id=_id(early))
    approvals.approve_proposal(session=session, actor=coordinator, proposal_id=_id(proposal))
    with pytest.raises(Conflict, match="already approved"):
        approvals.approve_proposal(session=session, actor=coordinator, proposal_id=_id(proposal))
    assert _filled(session, slot) == 1


def test_approve_all_decides_cheapest_first(
    session: Session, coordinator: User, closed_round: Round
) -> None:
    org = f.organisation(session)
    single = f.slot(session, round=closed_round, organisation=org, capacity=1)
    roomy = f.slot(session, round=closed_round, organisation=org, capacity=3)
    dear, cheap, placed, free = (f.trainee(session) for _ in range(4))
    session.add(Placement(round_id=_id(closed_round), trainee_id=_id(placed), slot_id=_id(roomy)))
    session.flush()
    run = _run(session, closed_round)
    # The dearer proposal has the lower id: only the cost may decide the order.
    lost = _proposal(session, run, dear, single, cost=9.0)
    won = _proposal(session, run, cheap, single, cost=2.0)
    already = _proposal(session, run, placed, single, cost=1.0)
    fits = _proposal(session, run, free, roomy, cost=5.0)
    session.commit()

    result = approvals.approve_all(session=session, actor=coordinator, run_id=_id(run))

    assert (result.approved, result.conflicts) == (2, 2)
    reasons = {r.proposal_id: r.reason for r in result.refused}
    assert reasons == {
        lost.id: SlotFull.default_message,
        already.id: AlreadyPlaced.default_message,
    }
    assert _status(session, won) == ProposalStatus.APPROVED
    assert _status(session, fits) == ProposalStatus.APPROVED
    assert _status(session, lost) == ProposalStatus.PROPOSED
    assert _status(session, already) == ProposalStatus.PROPOSED
    assert [p.slot_id for p in _placed(session, cheap)] == [single.id]
    assert [p.slot_id for p in _placed(session, free)] == [roomy.id]
    assert _placed(session, dear) == []
    assert _filled(session, single) == 1
    # The hand-made placement did not go through the counter; approve_all added one.
    assert _filled(session, roomy) == 1


def test_approve_all_needs_a_deciding_round(
    session: Session, coordinator: User, closed_round: Round
) -> None:
    open_round = f.round_(session, status=RoundStatus.OPEN)
    run = _run(session, open_round)
    session.commit()
    with pytest.raises(WrongState):
        approvals.approve_all(session=session, actor=coordinator, run_id=_id(run))
    with pytest.raises(NotFound):
        approvals.approve_all(session=session, actor=coordinator, run_id=10**9)
    with pytest.raises(Forbidden):
        approvals.approve_all(session=session, actor=f.user(session), run_id=_id(run))


def test_reject_records_the_reason_and_excludes_the_pair(
    session: Session, coordinator: User, closed_round: Round
) -> None:
    org = f.organisation(session)
    slot = f.slot(session, round=closed_round, organisation=org)
    trainee = f.trainee(session)
    proposal = _proposal(session, _run(session, closed_round), trainee, slot)
    session.commit()

    rejected = approvals.reject_proposal(
        session=session,
        actor=coordinator,
        proposal_id=_id(proposal),
        reason="Needs a DBS check first",
    )

    assert rejected.status == ProposalStatus.REJECTED
    assert rejected.reason == "Needs a DBS check first"
    assert rejected.decided_by == coordinator.id and rejected.decided_at is not None
    exclusion = session.exec(select(Exclusion).where(col(Exclusion.trainee_id) == trainee.id)).one()
    assert (exclusion.slot_id, exclusion.round_id) == (slot.id, closed_round.id)
    assert exclusion.reason == "Needs a DBS check first"
    assert _filled(session, slot) == 0 and _placed(session, trainee) == []
    with pytest.raises(Conflict, match="already rejected"):
        approvals.reject_proposal(
            session=session,
            actor=coordinator,
            proposal_id=_id(proposal),
            reason="again",
        )
    with pytest.raises(Conflict, match="already rejected"):
        approvals.approve_proposal(session=session, actor=coordinator, proposal_id=_id(proposal))


def test_withdraw_frees_the_seat_once(
    session: Session, coordinator: User, closed_round: Round
) -> None:
    org = f.organisation(session)
    slot = f.slot(session, round=closed_round, organisation=org, capacity=1)
    trainee = f.trainee(session)
    proposal = _proposal(session, _run(session, closed_round), trainee, slot)
    session.commit()
    placement = approvals.approve_proposal(
        session=session,
        actor=coordinator,
        proposal_id=_id(proposal),
    )

    withdrawn = approvals.withdraw_placement(
        session=session,
        actor=coordinator,
        placement_id=_id(placement),
    )

    assert withdrawn.status == PlacementStatus.WITHDRAWN and withdrawn.withdrawn_at is not None
    assert _filled(session, slot) == 0
    with pytest.raises(Conflict, match="already withdrawn"):
        approvals.withdraw_placement(
            session=session,
            actor=coordinator,
            placement_id=_id(placement),
        )
    assert _filled(session, slot) == 0


@pytest.mark.parametrize("status", [RoundStatus.CLOSED, RoundStatus.PUBLISHED])
def test_approve_all_writes_what_one_by_one_approvals_write(
    session: Session, coordinator: User, status: RoundStatus
) -> None:
    """The set-wise writing (statements over arrays on Postgres) leaves the rows a single
    approval leaves: the placement with its offer on a published round, the decision, the
    trainee's other open proposals superseded, and an audit event naming the placement."""
    rnd = f.round_(session, status=status)
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org, capacity=2)
    first, second = f.trainee(session), f.trainee(session)
    earlier, run = _run(session, rnd), _run(session, rnd)
    moot = _proposal(session, earlier, first, slot)
    one = _proposal(session, run, first, slot, cost=1.0)
    two = _proposal(session, run, second, slot, cost=2.0)
    session.commit()

    result = approvals.approve_all(session=session, actor=coordinator, run_id=_id(run))

    assert (result.approved, result.conflicts) == (2, 0)
    session.expire_all()
    assert _status(session, moot) == ProposalStatus.SUPERSEDED
    for proposal, trainee in ((one, first), (two, second)):
        stored = session.get(Proposal, proposal.id)
        assert stored is not None
        assert (stored.status, stored.decided_by) == (ProposalStatus.APPROVED, coordinator.id)
        (placement,) = _placed(session, trainee)
        assert (placement.proposal_id, placement.approved_by) == (proposal.id, coordinator.id)
        assert placement.created_at == stored.decided_at
        if status == RoundStatus.PUBLISHED:
            assert placement.offer_status == "offered" and placement.offered_at is not None
            assert placement.offer_expires_at is not None
        else:
            assert placement.offer_status is None and placement.offer_expires_at is None
        event = session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "proposal.approve", AuditEvent.object_id == str(proposal.id)
            )
        ).one()
        assert (event.actor_id, event.round_id, event.trainee_id) == (
            coordinator.id,
            rnd.id,
            trainee.id,
        )
        assert event.at == placement.created_at
        assert event.detail == {
            "placement_id": placement.id,
            "slot_id": slot.id,
            "run_id": run.id,
            "via": "approve_all",
            "changes": {
                "status": {"before": "proposed", "after": "approved"},
                "decided_by": {"before": None, "after": coordinator.id},
                "decided_at": {"before": None, "after": placement.created_at.isoformat()},
            },
        }
    assert _filled(session, slot) == 2


def test_approve_all_decisions_touch_no_index_of_proposals(
    session: Session, coordinator: User, closed_round: Round
) -> None:
    """A decision rewrites status, decided_by and decided_at, a seat `filled`, none of them
    indexed: on Postgres every decision and seat update of "approve all" is a HOT update
    (the row stays in its page, no index entry is added), and both tables leave room in
    their pages for them."""
    columns = {
        column
        for index in inspect(session.connection()).get_indexes("proposals")
        for column in index["column_names"]
    }
    assert columns.isdisjoint({"status", "decided_by", "decided_at"})
    org = f.organisation(session)
    slot = f.slot(session, round=closed_round, organisation=org, capacity=5)
    run = _run(session, closed_round)
    for cost in range(5):
        _proposal(session, run, f.trainee(session), slot, cost=float(cost))
    session.commit()
    if session.connection().dialect.name != "postgresql":
        result = approvals.approve_all(session=session, actor=coordinator, run_id=_id(run))
        assert result.approved == 5
        return
    options = dict(
        session.execute(
            text("SELECT relname, reloptions FROM pg_class WHERE relname IN ('proposals', 'slots')")
        ).all()
    )
    assert options == {"proposals": ["fillfactor=45"], "slots": ["fillfactor=50"]}

    def updates(table: str) -> tuple[int, int]:
        row = session.execute(
            text(
                "SELECT pg_stat_get_xact_tuples_updated(CAST(:t AS regclass)),"
                " pg_stat_get_xact_tuples_hot_updated(CAST(:t AS regclass))"
            ),
            {"t": table},
        ).one()
        return int(row[0]), int(row[1])

    before = {table: updates(table) for table in ("proposals", "slots")}
    result = approvals.approve_all(session=session, actor=coordinator, run_id=_id(run))
    assert result.approved == 5
    after = {table: updates(table) for table in ("proposals", "slots")}
    # Five decisions and one seat update (the slot's five seats at once), all HOT.
    assert after["proposals"][0] - before["proposals"][0] == 5
    assert after["proposals"][1] - before["proposals"][1] == 5
    assert after["slots"][0] - before["slots"][0] == 1
    assert after["slots"][1] - before["slots"][1] == 1
