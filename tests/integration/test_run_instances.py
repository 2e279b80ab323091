"""Each run keeps the instance it solved, on SQLite and Postgres: solving that instance
offline gives the run's proposals, explanations read it rather than the round as it is
now, and it can be fetched (service, CLI) and checked against its SHA-256.

The HTTP route is exercised in tests/api/test_runs.py (with a real worker) and in the
authorisation matrix.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import Session, col, select

from placement import matching
from placement.config import Settings
from placement.db import get_engine
from placement.errors import Forbidden, NotFound
from placement.models import MatchRun, Proposal, Slot, Trainee, UnplacedTrainee, User, utcnow
from placement.services.instances import build_instance
from placement.services.runs import claims, execution, explanations, stored
from placement.services.trainees import update_own_profile
from tests import factories as f
from tests.conftest import ROOT, Backend
from tests.integration.runs_support import coordinator as _coordinator
from tests.integration.runs_support import fetch_run as _run
from tests.integration.runs_support import run_settings
from tests.integration.runs_support import seed as _seed
from tests.integration.runs_support import start as _start


@pytest.fixture
def settings_(committed_backend: Backend, tmp_path: Path) -> Settings:
    return run_settings(committed_backend, tmp_path)


def _stored(settings: Settings, run_id: int) -> stored.InstanceFile:
    with Session(get_engine(settings)) as session:
        return stored.stored_instance(session=session, run_id=run_id)


def _outcome(settings: Settings, run_id: int) -> tuple[set[Any], set[Any]]:
    """The run's proposals and unplaced trainees as written in the database."""
    with Session(get_engine(settings)) as session:
        proposals = session.execute(
            sa_select(
                col(Proposal.trainee_id),
                col(Proposal.slot_id),
                col(Proposal.rank),
                col(Proposal.cost),
                col(Proposal.terms),
            ).where(col(Proposal.run_id) == run_id)
        ).all()
        unplaced = session.exec(
            select(UnplacedTrainee.trainee_id, UnplacedTrainee.reason).where(
                UnplacedTrainee.run_id == run_id
            )
        ).all()
    placed = {
        (str(t), str(s), r, c, tuple(sorted(terms.items()))) for t, s, r, c, terms in proposals
    }
    return placed, {(str(t), reason) for t, reason in unplaced}


def _solved(document: dict[str, Any]) -> tuple[set[Any], set[Any]]:
    """The engine's result on an instance document, in the same shape as `_outcome`."""
    result = matching.solve(matching.load_instance(document))
    placed = {
        (
            str(a.trainee_id),
            str(a.slot_id),
            a.rank,
            float(a.cost),
            tuple(sorted((k, float(v)) for k, v in a.terms.items())),
        )
        for a in result.assignments
        if not a.locked
    }
    return placed, {(str(u.trainee_id), u.reason) for u in result.unplaced}


def _give_login(settings: Settings, trainee_id: int) -> User:
    """Attach a trainee login to an imported trainee (as registering with their email does)."""
    with Session(get_engine(settings), expire_on_commit=False) as session:
        user = f.user(session, role="trainee")
        trainee = session.get(Trainee, trainee_id)
        assert trainee is not None
        trainee.user_id = user.id
        session.commit()
        return user


# --- what is stored ---------------------------------------------------------------------


def test_the_stored_instance_reproduces_the_runs_proposals_exactly(settings_: Settings) -> None:
    loaded = _seed(settings_, 300)
    run_id = _start(settings_, loaded, weights={"employer": 0.5, "distance": 0.2})
    execution.execute_run(run_id, settings=settings_)
    run = _run(settings_, run_id)
    assert run.status == "succeeded"

    kept = _stored(settings_, run_id)
    # The SHA-256 names the uncompressed canonical JSON.
    assert run.instance_sha256 == kept.sha256 == hashlib.sha256(kept.content).hexdigest()
    document = kept.data()
    assert stored.canonical_instance(document) == kept.content
    assert document["format"] == "placement-instance/1"
    assert document["weights"] == run.weights
    assert document["allow_unranked"] is False
    assert len(document["trainees"]) == 300

    # Solved offline, with no database: exactly the proposals and unplaced the run wrote,
    # ranks, costs and terms included.
    proposals, unplaced = _outcome(settings_, run_id)
    assert _solved(document) == (proposals, unplaced)
    assert len(proposals) + len(unplaced) + len(document["locked"]) == 300

    # The compressed column really is gzip of those bytes.
    import gzip

    with Session(get_engine(settings_)) as session:
        packed = session.exec(select(MatchRun.instance_gz).where(MatchRun.id == run_id)).one()
    assert packed is not None and gzip.decompress(packed) == kept.content
    assert len(packed) < len(kept.content) / 3

    # Reading a run does not load the instance with it.
    with Session(get_engine(settings_)) as session:
        fresh = session.get(MatchRun, run_id)
        assert fresh is not None and "instance_gz" not in fresh.__dict__


def test_a_run_keeps_its_instance_when_the_round_changes(settings_: Settings) -> None:
    loaded = _seed(settings_, 120)
    run_id = _start(settings_, loaded)
    execution.execute_run(run_id, settings=settings_)
    before = _stored(settings_, run_id)
    coordinator = _coordinator(settings_)
    with Session(get_engine(settings_)) as session:
        assert stored.run_instance(session=session, actor=coordinator, run_id=run_id) == (
            before.data()
        )

    # After the run: a slot grows, a trainee moves and narrows their reach, another joins.
    slot_id = next(iter(loaded.slot_ids.values()))
    trainee_id = next(iter(loaded.trainee_ids.values()))
    with Session(get_engine(settings_)) as session:
        session.execute(update(Slot).where(col(Slot.id) == slot_id).values(capacity=50))
        session.execute(
            update(Trainee)
            .where(col(Trainee.id) == trainee_id)
            .values(latitude=54.9, longitude=-1.6, max_travel_km=1.0)
        )
        session.commit()
        now = build_instance(
            session=session, round_id=loaded.round_id, weights=_run(settings_, run_id).weights
        )
    assert stored.canonical_instance(now) != before.content

    with Session(get_engine(settings_)) as session:
        again = stored.run_instance(session=session, actor=coordinator, run_id=run_id)
    after = _stored(settings_, run_id)
    assert after == before and again == before.data()
    assert _run(settings_, run_id).instance_sha256 == before.sha256
    # And it still reproduces the run, which the round as it is now does not.
    assert _solved(again) == _outcome(settings_, run_id)
    assert _solved(now) != _outcome(settings_, run_id)


def test_explanations_do_not_change_when_a_trainee_edits_their_profile(
    settings_: Settings,
) -> None:
    loaded = _seed(settings_, 200)
    run_id = _start(settings_, loaded)
    execution.execute_run(run_id, settings=settings_)
    coordinator = _coordinator(settings_)
    with Session(get_engine(settings_)) as session:
        proposal = session.exec(
            select(Proposal)
            .where(Proposal.run_id == run_id, col(Proposal.rank) > 1)
            .order_by(col(Proposal.rank).desc(), col(Proposal.id))
        ).first()
        assert proposal is not None and proposal.id is not None
        before = explanations.explain_proposal(
            session=session, actor=coordinator, proposal_id=proposal.id
        )
        reasons_before = explanations.explain_trainee(
            session=session, actor=coordinator, run_id=run_id, trainee_id=proposal.trainee_id
        )
    assert before["reasons"] and reasons_before == before["reasons"]

    # The trainee moves far away, can hardly travel, loses their DBS check and skills.
    login = _give_login(settings_, proposal.trainee_id)
    with Session(get_engine(settings_), expire_on_commit=False) as session:
        update_own_profile(
            session=session,
            actor=login,
            values={
                "latitude": 50.1,
                "longitude": -5.5,
                "max_travel_km": 0.5,
                "skills": [],
            },
        )
        # DBS clearance is the coordinator's record, not the profile's: it lapses here.
        session.execute(
            update(Trainee)
            .where(col(Trainee.id) == proposal.trainee_id)
            .values(dbs_cleared=False, dbs_checked_on=None)
        )
        session.commit()

    with Session(get_engine(settings_)) as session:
        after = explanations.explain_proposal(
            session=session, actor=coordinator, proposal_id=proposal.id
        )
        reasons_after = explanations.explain_trainee(
            session=session, actor=coordinator, run_id=run_id, trainee_id=proposal.trainee_id
        )
    assert after == before and reasons_after == reasons_before

    # What the explanation would have been had it been judged on the round as it is now
    # (runs made before instances were stored still fall back to that).
    with Session(get_engine(settings_)) as session:
        session.execute(
            update(MatchRun)
            .where(col(MatchRun.id) == run_id)
            .values(instance_gz=None, instance_sha256=None)
        )
        session.commit()
        rebuilt = explanations.explain_proposal(
            session=session, actor=coordinator, proposal_id=proposal.id
        )
    assert rebuilt["reasons"] != before["reasons"]
    assert {r.get("rule") for r in rebuilt["reasons"]} == {"distance"}


def test_fanned_out_pieces_solve_the_stored_instance_not_the_round_as_it_is_now(
    settings_: Settings,
) -> None:
    loaded = _seed(settings_, 600, local_share=1.0)
    run_id = _start(settings_, loaded)
    sent: list[tuple[int, int, list[list[int]]]] = []
    os.environ[execution.FANOUT_ENV] = "30"
    try:
        execution.execute_run(
            run_id, settings=settings_, fan_out=lambda r, a, g: sent.append((r, a, g))
        )
    finally:
        del os.environ[execution.FANOUT_ENV]
    (_, attempt, groups), kept = sent[0], _stored(settings_, run_id)

    # Between the fan-out and its pieces, a third of the trainees can no longer travel.
    moved = list(loaded.trainee_ids.values())[::3]
    with Session(get_engine(settings_)) as session:
        session.execute(update(Trainee).where(col(Trainee.id).in_(moved)).values(max_travel_km=0.1))
        session.commit()

    results = [execution.solve_components(run_id, attempt, g, settings=settings_) for g in groups]
    execution.finish_components(results, run_id, attempt, settings=settings_)
    run = _run(settings_, run_id)
    assert run.status == "succeeded" and run.instance_sha256 == kept.sha256
    assert _solved(kept.data()) == _outcome(settings_, run_id)


# --- attempts -----------------------------------------------------------------------------


def test_a_redone_run_stores_the_instance_of_the_attempt_that_finished(
    settings_: Settings,
) -> None:
    loaded = _seed(settings_, 60)
    run_id = _start(settings_, loaded)
    # A first attempt stored something, then its worker died.
    bogus, bogus_sha = stored.pack_instance({"format": "placement-instance/1", "trainees": []})
    with Session(get_engine(settings_)) as session:
        session.execute(
            update(MatchRun)
            .where(col(MatchRun.id) == run_id)
            .values(
                status="running",
                attempts=1,
                heartbeat_at=utcnow() - timedelta(seconds=600),
                instance_gz=bogus,
                instance_sha256=bogus_sha,
            )
        )
        session.commit()
    execution.execute_run(run_id, settings=settings_)
    run = _run(settings_, run_id)
    assert (run.status, run.attempts) == ("succeeded", 2)
    kept = _stored(settings_, run_id)
    assert kept.sha256 == run.instance_sha256 != bogus_sha
    assert _solved(kept.data()) == _outcome(settings_, run_id)

    # A redelivered task for the finished run leaves the instance alone.
    execution.execute_run(run_id, settings=settings_)
    assert _stored(settings_, run_id) == kept


def test_an_attempt_that_lost_its_claim_cannot_store_an_instance(settings_: Settings) -> None:
    loaded = _seed(settings_, 20)
    run_id = _start(settings_, loaded)
    run = _run(settings_, run_id)
    engine = get_engine(settings_)
    with Session(engine) as session:
        session.execute(
            update(MatchRun)
            .where(col(MatchRun.id) == run_id)
            .values(status="running", attempts=2, heartbeat_at=utcnow())
        )
        session.commit()
    document = {"format": "placement-instance/1"}
    content = stored.canonical_instance(document)
    sha256 = hashlib.sha256(content).hexdigest()
    stale = claims.Claim(run_id, 1, run.round_id, dict(run.weights), run.allow_unranked)
    with pytest.raises(claims.LostClaim):
        execution.store_attempt_instance(engine, stale, content)
    assert _run(settings_, run_id).instance_sha256 is None
    current = claims.Claim(run_id, 2, run.round_id, dict(run.weights), run.allow_unranked)
    execution.store_attempt_instance(engine, current, content)
    assert _run(settings_, run_id).instance_sha256 == sha256


# --- who may read it, and what when there is none ----------------------------------------


def test_run_instance_is_for_coordinators_and_needs_a_stored_instance(
    settings_: Settings,
) -> None:
    loaded = _seed(settings_, 20)
    run_id = _start(settings_, loaded)
    coordinator = _coordinator(settings_)
    with Session(get_engine(settings_)) as session:
        # Queued: nothing loaded yet (and runs from before instances were stored look alike).
        with pytest.raises(NotFound, match="No instance is stored"):
            stored.run_instance(session=session, actor=coordinator, run_id=run_id)
        with pytest.raises(NotFound, match="No such run"):
            stored.run_instance(session=session, actor=coordinator, run_id=10**9)
    execution.execute_run(run_id, settings=settings_)
    with Session(get_engine(settings_)) as session:
        for role in ("trainee", "employer"):
            with pytest.raises(Forbidden):
                stored.run_instance(
                    session=session, actor=f.user(session, role=role), run_id=run_id
                )
        with pytest.raises(Forbidden):
            stored.run_instance(session=session, actor=None, run_id=run_id)
        doc = stored.run_instance(session=session, actor=coordinator, run_id=run_id)
        session.rollback()
    assert doc["format"] == "placement-instance/1" and len(doc["trainees"]) == 20


# --- the command line ---------------------------------------------------------------------


def _cli(settings: Settings, *args: str, stdin: bytes | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(
        DATABASE_URL=settings.database_url,
        PLACEMENT_INSTANCE_DIR=str(settings.instance_dir),
        SECRET_KEY="test-secret-key",
    )
    return subprocess.run(
        [sys.executable, "-m", "placement.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )


def test_export_instance_of_a_run_feeds_placement_solve(settings_: Settings) -> None:
    loaded = _seed(settings_, 40)
    run_id = _start(settings_, loaded)
    execution.execute_run(run_id, settings=settings_)
    exported = _cli(settings_, "export-instance", "--run", str(run_id))
    assert exported.returncode == 0, exported.stderr
    # Byte for byte the stored file: its SHA-256 is the run's.
    assert hashlib.sha256(exported.stdout).hexdigest() == _run(settings_, run_id).instance_sha256

    solved = _cli(settings_, "solve", "-", stdin=exported.stdout)
    assert solved.returncode == 0, solved.stderr
    result = json.loads(solved.stdout)
    proposals, unplaced = _outcome(settings_, run_id)
    assert {
        (a["trainee_id"], a["slot_id"], a["rank"]) for a in result["assignments"] if not a["locked"]
    } == {(t, s, r) for t, s, r, _, _ in proposals}
    assert {(u["trainee_id"], u["reason"]) for u in result["unplaced"]} == unplaced

    missing = _cli(settings_, "export-instance", "--run", "999999")
    assert missing.returncode == 2 and b"No such run" in missing.stderr and not missing.stdout
    both = _cli(settings_, "export-instance", "--run", str(run_id), "--round", "1")
    assert both.returncode == 2 and b"exactly one of --round and --run" in both.stderr
    neither = _cli(settings_, "export-instance")
    assert neither.returncode == 2 and not neither.stdout


def test_erasure_rewrites_the_stored_instances_that_hold_the_trainee(
    settings_: Settings,
) -> None:
    from placement.models import AuditEvent
    from placement.services.privacy import erase_trainee

    loaded = _seed(settings_, 40)
    run_id = _start(settings_, loaded)
    execution.execute_run(run_id, settings=settings_)
    sha256 = _run(settings_, run_id).instance_sha256
    before = _stored(settings_, run_id).data()
    trainee_id = int(before["trainees"][0]["id"])
    with Session(get_engine(settings_), expire_on_commit=False) as session:
        erase_trainee(session=session, actor=_coordinator(settings_), trainee_id=trainee_id)
    run = _run(settings_, run_id)
    after = _stored(settings_, run_id)
    # Everyone else stays; the hash is that of the file now stored (checked on reading), and
    # the erasure's audit event names the hash it replaced.
    assert {t["id"] for t in after.data()["trainees"]} == {t["id"] for t in before["trainees"][1:]}
    assert run.instance_sha256 == after.sha256 != sha256
    with Session(get_engine(settings_)) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "trainee.erase")).one()
        assert event.detail["runs_rewritten"] == {str(run_id): sha256}
