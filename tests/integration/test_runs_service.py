"""Match-run services on SQLite and Postgres: starting, reading, executing in-process
(claims, idempotency, takeover, failure, fan-out pieces) and the reconciler.

The job path through a real broker and a real worker is in tests/workers/.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from placement import matching
from placement.config import Settings
from placement.db import get_engine
from placement.errors import Forbidden, InvalidInput, NotFound, WrongState
from placement.models import (
    AuditEvent,
    MatchRun,
    Placement,
    PlacementStatus,
    Proposal,
    Slot,
    Trainee,
    UnplacedTrainee,
    User,
    utcnow,
)
from placement.services.instances import build_instance
from placement.services.runs import claims, execution, explanations, reading, stored
from tests import factories as f
from tests.conftest import Backend
from tests.integration.runs_support import fetch_run as _run
from tests.integration.runs_support import run_settings
from tests.integration.runs_support import seed as _seed
from tests.integration.runs_support import start as _start

# --- starting and reading (per-test rollback) -------------------------------------------


def test_start_run_queues_a_run(session: Session, settings: Settings) -> None:
    rnd = f.round_(session, status="closed")
    coordinator = f.user(session, role="coordinator")
    run = reading.start_run(
        session=session,
        actor=coordinator,
        round_id=f.pk(rnd),
        weights={"employer": 0},
        settings=settings,
    )
    assert run.id is not None and run.status == "queued" and run.phase == "queued"
    assert run.progress == 0 and run.attempts == 0 and run.enqueued_at is not None
    assert run.weights == {**matching.DEFAULT_WEIGHTS, "employer": 0.0}
    assert run.created_by == coordinator.id
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "run.start")).one()
    assert event.object_id == str(run.id)


def test_start_run_checks_role_round_and_weights(session: Session, settings: Settings) -> None:
    coordinator = f.user(session, role="coordinator")
    closed = f.round_(session, status="closed")
    for role in ("trainee", "employer"):
        with pytest.raises(Forbidden):
            reading.start_run(
                session=session,
                actor=f.user(session, role=role),
                round_id=f.pk(closed),
                settings=settings,
            )
    with pytest.raises(NotFound):
        reading.start_run(session=session, actor=coordinator, round_id=10**9, settings=settings)
    for status in ("draft", "open"):  # published: a clearing run
        rnd = f.round_(session, status=status)
        with pytest.raises(WrongState):
            reading.start_run(
                session=session,
                actor=coordinator,
                round_id=f.pk(rnd),
                settings=settings,
            )
    with pytest.raises(InvalidInput) as caught:
        reading.start_run(
            session=session,
            actor=coordinator,
            round_id=f.pk(closed),
            weights={"preference": -1, "colour": 2},
            settings=settings,
        )
    assert set(caught.value.errors) == {"weights.preference", "weights.colour"}
    assert session.exec(select(MatchRun).where(MatchRun.round_id == closed.id)).all() == []


def test_reading_runs_proposals_and_unplaced(session: Session) -> None:
    rnd, org = f.round_(session, status="closed"), f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org)
    t1, t2 = f.trainee(session), f.trainee(session)
    coordinator = f.user(session, role="coordinator")
    older = f.match_run(session, round=rnd)
    newer = f.match_run(session, round=rnd)
    f.proposal(session, run=newer, trainee=t1, slot=slot, rank=1, cost=1.0)
    f.proposal(session, run=newer, trainee=t2, slot=slot, rank=2, cost=4.0, status="rejected")
    f.unplaced(session, run=older, trainee=t1, reason="outcompeted")

    page = reading.list_runs(session=session, actor=coordinator, round_id=f.pk(rnd))
    assert [r.id for r in page.items] == [newer.id, older.id] and page.total == 2
    assert reading.get_run(session=session, actor=coordinator, run_id=f.pk(newer)).id == newer.id
    props = reading.list_proposals(session=session, actor=coordinator, run_id=f.pk(newer))
    assert [p.trainee_id for p in props.items] == [t1.id, t2.id]
    rejected = reading.list_proposals(
        session=session,
        actor=coordinator,
        run_id=f.pk(newer),
        status="rejected",
    )
    assert [p.trainee_id for p in rejected.items] == [t2.id]
    paged = reading.list_proposals(
        session=session,
        actor=coordinator,
        run_id=f.pk(newer),
        page=2,
        per_page=1,
    )
    assert paged.total == 2 and [p.trainee_id for p in paged.items] == [t2.id]
    with pytest.raises(InvalidInput):
        reading.list_proposals(
            session=session,
            actor=coordinator,
            run_id=f.pk(newer),
            status="maybe",
        )
    unplaced = reading.list_unplaced(session=session, actor=coordinator, run_id=f.pk(older))
    assert [(u.trainee_id, u.reason) for u in unplaced.items] == [(t1.id, "outcompeted")]
    with pytest.raises(NotFound):
        reading.get_run(session=session, actor=coordinator, run_id=10**9)
    employer = f.user(session, role="employer")
    with pytest.raises(Forbidden):
        reading.get_run(session=session, actor=employer, run_id=f.pk(newer))
    with pytest.raises(Forbidden):
        reading.list_runs(session=session, actor=employer, round_id=f.pk(rnd))


# --- executing in-process (committed data: the service opens its own sessions) --------


@pytest.fixture
def committed_settings(committed_backend: Backend, tmp_path: Path) -> Settings:
    return run_settings(committed_backend, tmp_path)


def _expected(settings: Settings, run_id: int) -> tuple[set[Any], set[Any]]:
    """The engine's own result on the round's exported instance (with the run's weights)."""
    run = _run(settings, run_id)
    with Session(get_engine(settings)) as session:
        doc = build_instance(
            session=session,
            round_id=run.round_id,
            weights=run.weights,
            allow_unranked=run.allow_unranked,
        )
    result = matching.solve(matching.load_instance(doc))
    placed = {
        (int(a.trainee_id), int(a.slot_id), a.rank, round(a.cost, 6))
        for a in result.assignments
        if not a.locked
    }
    return placed, {(int(u.trainee_id), u.reason) for u in result.unplaced}


def _stored(settings: Settings, run_id: int) -> tuple[list[Any], list[Any]]:
    with Session(get_engine(settings)) as session:
        proposals = session.exec(
            select(Proposal.trainee_id, Proposal.slot_id, Proposal.rank, Proposal.cost).where(
                Proposal.run_id == run_id
            )
        ).all()
        unplaced = session.exec(
            select(UnplacedTrainee.trainee_id, UnplacedTrainee.reason).where(
                UnplacedTrainee.run_id == run_id
            )
        ).all()
    return [(t, s, r, round(c, 6)) for t, s, r, c in proposals], [tuple(u) for u in unplaced]


def _assert_matches_engine(settings: Settings, run_id: int) -> None:
    proposals, unplaced = _stored(settings, run_id)
    placed, not_placed = _expected(settings, run_id)
    assert len(proposals) == len(set(proposals)) == len(placed)
    assert set(proposals) == placed
    assert set(unplaced) == not_placed


def test_execute_run_writes_the_engines_result_once(committed_settings: Settings) -> None:
    loaded = _seed(committed_settings)
    run_id = _start(committed_settings, loaded)
    execution.execute_run(run_id, settings=committed_settings)
    run = _run(committed_settings, run_id)
    assert (run.status, run.phase, run.progress, run.attempts) == ("succeeded", "done", 100, 1)
    assert run.error is None and run.finished_at is not None and run.started_at is not None
    stats = run.stats or {}
    for key in (
        "placed",
        "unplaced",
        "objective",
        "first_choice",
        "top3",
        "mean_rank",
        "worst_rank",
        "blocking_pairs",
        "solve_seconds",
        "total_seconds",
        "load_seconds",
        "build_seconds",
        "write_seconds",
    ):
        assert key in stats, key
    _assert_matches_engine(committed_settings, run_id)
    before = _stored(committed_settings, run_id)
    # The run keeps the instance it solved (tests/integration/test_run_instances.py).
    sha256 = run.instance_sha256
    assert sha256 is not None and len(sha256) == 64
    assert "store_seconds" in stats and stats["trainees"] == 300
    # Seat values and explanations are written in the same transaction but timed on their
    # own lines, outside `write_seconds` (the proposals people wait for).
    assert stats["seat_values_write_seconds"] >= 0 and stats["explanations_write_seconds"] >= 0
    assert stats["write_seconds"] >= 0

    # A redelivered task for a finished run does nothing.
    execution.execute_run(run_id, settings=committed_settings)
    assert _run(committed_settings, run_id).attempts == 1
    assert _run(committed_settings, run_id).instance_sha256 == sha256
    assert _stored(committed_settings, run_id) == before


def test_a_run_with_a_fresh_heartbeat_belongs_to_its_worker(committed_settings: Settings) -> None:
    loaded = _seed(committed_settings, 50)
    run_id = _start(committed_settings, loaded)
    with Session(get_engine(committed_settings)) as session:
        session.execute(
            update(MatchRun)
            .where(col(MatchRun.id) == run_id)
            .values(status="running", attempts=1, heartbeat_at=utcnow())
        )
        session.commit()
    execution.execute_run(run_id, settings=committed_settings)
    run = _run(committed_settings, run_id)
    assert (run.status, run.attempts) == ("running", 1)
    assert _stored(committed_settings, run_id) == ([], [])


def test_a_run_left_running_by_a_dead_worker_is_redone(committed_settings: Settings) -> None:
    loaded = _seed(committed_settings, 80)
    run_id = _start(committed_settings, loaded)
    long_ago = utcnow() - timedelta(seconds=600)
    with Session(get_engine(committed_settings)) as session:
        session.execute(
            update(MatchRun)
            .where(col(MatchRun.id) == run_id)
            .values(status="running", attempts=1, heartbeat_at=long_ago, progress=40)
        )
        session.commit()
    execution.execute_run(run_id, settings=committed_settings)
    run = _run(committed_settings, run_id)
    assert (run.status, run.attempts, run.progress) == ("succeeded", 2, 100)
    _assert_matches_engine(committed_settings, run_id)


def test_after_three_attempts_the_run_fails(committed_settings: Settings) -> None:
    loaded = _seed(committed_settings, 30)
    run_id = _start(committed_settings, loaded)
    long_ago = utcnow() - timedelta(seconds=600)
    with Session(get_engine(committed_settings)) as session:
        session.execute(
            update(MatchRun)
            .where(col(MatchRun.id) == run_id)
            .values(status="running", attempts=3, heartbeat_at=long_ago, enqueued_at=long_ago)
        )
        session.commit()
    execution.execute_run(run_id, settings=committed_settings)
    run = _run(committed_settings, run_id)
    assert run.status == "failed" and run.attempts == 3
    assert run.error is not None and run.error.startswith("Gave up after 3 attempts")
    assert _stored(committed_settings, run_id) == ([], [])


def test_an_invalid_instance_fails_the_run_with_no_proposals(
    committed_settings: Settings,
) -> None:
    loaded = _seed(committed_settings, 40)
    engine = get_engine(committed_settings)
    with Session(engine) as session:
        # Two live placements on a one-seat slot (written behind the counter's back):
        # more locked pairs than seats, which the engine rejects.
        slot_id = next(iter(loaded.slot_ids.values()))
        session.execute(update(Placement).values(status=PlacementStatus.WITHDRAWN))
        session.execute(update(Slot).where(col(Slot.id) == slot_id).values(capacity=1, filled=0))
        for tid in list(loaded.trainee_ids.values())[:2]:
            session.add(Placement(round_id=loaded.round_id, trainee_id=tid, slot_id=slot_id))
        session.commit()
    run_id = _start(committed_settings, loaded)
    execution.execute_run(run_id, settings=committed_settings)
    run = _run(committed_settings, run_id)
    assert run.status == "failed" and run.attempts == 1
    assert run.error is not None and "invalid instance" in run.error and "locked" in run.error
    assert _stored(committed_settings, run_id) == ([], [])
    # The instance that failed is kept, so the failure can be reproduced offline.
    with Session(get_engine(committed_settings)) as session:
        doc = stored.stored_instance(session=session, run_id=run_id).data()
    with pytest.raises(matching.InstanceError, match="locked"):
        matching.load_instance(doc)


def test_fanned_out_components_merge_to_the_single_task_result(
    committed_settings: Settings,
) -> None:
    # Strictly regional choices: the candidate graph splits by region.
    loaded = _seed(committed_settings, 600, local_share=1.0)
    # One trainee whose profile lacks a level is left out, and the merged run says so.
    with Session(get_engine(committed_settings)) as session:
        first = next(iter(loaded.trainee_ids.values()))
        session.execute(update(Trainee).where(col(Trainee.id) == first).values(level=None))
        session.commit()
    run_id = _start(committed_settings, loaded)
    sent: list[tuple[int, int, list[list[int]]]] = []

    def fan_out(run: int, attempt: int, groups: list[list[int]]) -> None:
        sent.append((run, attempt, groups))

    import os

    os.environ[execution.FANOUT_ENV] = "30"
    try:
        execution.execute_run(run_id, settings=committed_settings, fan_out=fan_out)
    finally:
        del os.environ[execution.FANOUT_ENV]
    assert len(sent) == 1
    _, attempt, groups = sent[0]
    assert len(groups) >= 3 and attempt == 1
    assert _run(committed_settings, run_id).status == "running"
    results = [
        execution.solve_components(run_id, attempt, group, settings=committed_settings)
        for group in groups
    ]
    assert all(r is not None for r in results)
    # A stale attempt's pieces are ignored.
    assert (
        execution.solve_components(run_id, attempt + 1, groups[0], settings=committed_settings)
        is None
    )
    execution.finish_components(results, run_id, attempt, settings=committed_settings)
    run = _run(committed_settings, run_id)
    assert (run.status, run.progress) == ("succeeded", 100)
    stats = run.stats or {}
    assert stats["components_fanned_out"] == len(groups)
    assert stats["left_out"] == {"incomplete_profile": 1}
    assert stats["trainees"] == 599 and stats["load_seconds"] > 0
    _assert_matches_engine(committed_settings, run_id)


def test_plan_fanout_groups_large_components() -> None:
    parts = [100, 5, 300, 2, 150]
    assert execution.plan_fanout(parts, min_trainees=100) == [[0], [2], [4], [1, 3]]
    assert execution.plan_fanout(parts, min_trainees=200) == []
    assert execution.plan_fanout(parts[:2], min_trainees=1) == [[0], [1]]


def test_reconcile_requeues_lost_runs_once(committed_settings: Settings) -> None:
    settings = dataclasses.replace(committed_settings, requeue_after=5)
    loaded = _seed(settings, 20)
    fresh, old_queued, stale_running, live_running, exhausted = (
        _start(settings, loaded) for _ in range(5)
    )
    long_ago = utcnow() - timedelta(seconds=60)
    with Session(get_engine(settings)) as session:
        session.execute(
            update(MatchRun).where(col(MatchRun.id) == old_queued).values(enqueued_at=long_ago)
        )
        for run_id, attempts, beat in (
            (stale_running, 1, long_ago),
            (live_running, 1, utcnow()),
            (exhausted, 3, long_ago),
        ):
            session.execute(
                update(MatchRun)
                .where(col(MatchRun.id) == run_id)
                .values(
                    status="running", attempts=attempts, heartbeat_at=beat, enqueued_at=long_ago
                )
            )
        session.commit()

    assert claims.reconcile(settings=settings) == [old_queued, stale_running]
    # enqueued_at moved: the next pass (or another worker's) leaves them alone.
    assert claims.reconcile(settings=settings) == []
    assert _run(settings, fresh).status == "queued"
    assert _run(settings, live_running).status == "running"
    failed = _run(settings, exhausted)
    assert failed.status == "failed" and (failed.error or "").startswith("Gave up")


def test_explanations(committed_settings: Settings) -> None:
    loaded = _seed(committed_settings, 200)
    run_id = _start(committed_settings, loaded)
    execution.execute_run(run_id, settings=committed_settings)
    with Session(get_engine(committed_settings)) as session:
        coordinator = session.exec(select(User).where(User.role == "coordinator")).first()
        proposal = session.exec(
            select(Proposal).where(Proposal.run_id == run_id, col(Proposal.rank) > 1)
        ).first()
        assert coordinator is not None and proposal is not None and proposal.rank is not None
        explained = explanations.explain_proposal(
            session=session,
            actor=coordinator,
            proposal_id=f.pk(proposal),
        )
        assert explained["trainee_id"] == proposal.trainee_id
        # Approving the proposal later does not change why the run proposed it.
        session.add(
            Placement(
                round_id=loaded.round_id,
                trainee_id=proposal.trainee_id,
                slot_id=proposal.slot_id,
                proposal_id=proposal.id,
            )
        )
        session.flush()
        again = explanations.explain_proposal(
            session=session,
            actor=coordinator,
            proposal_id=f.pk(proposal),
        )
        assert again == explained
        assert set(explained["terms"]) == {"preference", "employer", "skills", "distance"}
        # One reason for each choice ranked above the proposal's.
        assert len(explained["reasons"]) == proposal.rank - 1
        assert all("reason" in r for r in explained["reasons"])
        unplaced = session.exec(
            select(UnplacedTrainee).where(UnplacedTrainee.run_id == run_id)
        ).first()
        assert unplaced is not None
        reasons = explanations.explain_trainee(
            session=session,
            actor=coordinator,
            run_id=run_id,
            trainee_id=unplaced.trainee_id,
        )
        assert isinstance(reasons, list)
        with pytest.raises(NotFound):
            explanations.explain_trainee(
                session=session, actor=coordinator, run_id=run_id, trainee_id=0
            )
        with pytest.raises(NotFound):
            explanations.explain_proposal(session=session, actor=coordinator, proposal_id=10**9)
        with pytest.raises(Forbidden):
            explanations.explain_proposal(
                session=session,
                actor=f.user(session, role="trainee"),
                proposal_id=f.pk(proposal),
            )
