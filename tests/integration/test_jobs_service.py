"""Background jobs as the database records them: a job whose worker died is taken back by
the reconciler and finished by the next attempt, one that used its attempts fails, the
owner alone reads it, and the retention purge removes old finished jobs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from placement.config import Settings
from placement.db import make_engine
from placement.errors import NotFound
from placement.models import Job, utcnow
from placement.services import jobs, retention
from tests import factories as f
from tests.conftest import Backend, service_env

CSV = b"name,email\nAda,ada@jobs.test\nGrace,grace@jobs.test\n"


def _settings(backend: Backend, tmp_path: Path) -> Settings:
    env = service_env(backend.url, tmp_path / "instance")
    # Long enough that two reconcile calls in a row fall inside it even on a loaded
    # machine; the stale job's heartbeat is ten minutes old.
    env["PLACEMENT_REQUEUE_AFTER"] = "60"
    return Settings.from_env(env)


def test_a_job_whose_worker_died_is_reconciled_and_finished(
    committed_backend: Backend, tmp_path: Path
) -> None:
    settings = _settings(committed_backend, tmp_path)
    engine = make_engine(committed_backend.url)
    long_ago = utcnow() - timedelta(minutes=10)
    try:
        with Session(engine, expire_on_commit=False) as session:
            owner = f.user(session, role="coordinator")
            rnd = f.round_(session, status="open")
            # A worker claimed this import, then died: it is running with a stale heartbeat.
            stale = Job(
                kind="import_trainees",
                owner_id=f.pk(owner),
                round_id=f.pk(rnd),
                payload=CSV,
                status="running",
                attempts=1,
                progress=0.5,
                enqueued_at=long_ago,
                started_at=long_ago,
                heartbeat_at=long_ago,
            )
            # This one died on its last attempt.
            spent = Job(
                kind="export_instance",
                owner_id=f.pk(owner),
                round_id=f.pk(rnd),
                status="running",
                attempts=jobs.MAX_ATTEMPTS,
                enqueued_at=long_ago,
                heartbeat_at=long_ago,
            )
            fresh = Job(
                kind="export_instance",
                owner_id=f.pk(owner),
                round_id=f.pk(rnd),
                status="running",
                attempts=1,
                enqueued_at=utcnow(),
                heartbeat_at=utcnow() + timedelta(minutes=5),
            )
            session.add_all([stale, spent, fresh])
            session.commit()
            ids = (f.pk(stale), f.pk(spent), f.pk(fresh))

        assert jobs.reconcile(settings=settings) == [ids[0]]
        # A second reconciler right after does not send it again.
        assert jobs.reconcile(settings=settings) == []
        assert jobs.execute_job(ids[0], settings=settings) == "succeeded"
        # Redelivered after it finished: nothing to do.
        assert jobs.execute_job(ids[0], settings=settings) is None

        with Session(engine) as session:
            done = session.get(Job, ids[0])
            assert done is not None
            assert done.status == "succeeded" and done.attempts == 2 and done.progress == 1
            assert done.result == {"created": 2, "updated": 0} and done.code == 201
            assert done.payload is None  # the uploaded file is not kept
            gone = session.get(Job, ids[1])
            assert gone is not None and gone.status == "failed" and gone.code == 500
            assert gone.error is not None and gone.error.startswith("Gave up after 3 attempts")
            running = session.get(Job, ids[2])
            assert running is not None and running.status == "running"

            other = f.user(session, role="coordinator")
            owner_row = session.get(type(other), done.owner_id)
            assert owner_row is not None
            assert jobs.get_job(session=session, actor=owner_row, job_id=ids[0]).id == ids[0]
            with pytest.raises(NotFound):
                jobs.get_job(session=session, actor=other, job_id=ids[0])
            session.rollback()
    finally:
        engine.dispose()


def test_retention_removes_old_finished_jobs_only(
    committed_backend: Backend, tmp_path: Path
) -> None:
    settings = _settings(committed_backend, tmp_path)
    engine = make_engine(committed_backend.url)
    old = utcnow() - timedelta(days=jobs.KEEP_FINISHED_DAYS + 1)
    try:
        with Session(engine, expire_on_commit=False) as session:
            owner = f.user(session, role="coordinator")
            rnd = f.round_(session)
            common = {"kind": "export_instance", "owner_id": f.pk(owner), "round_id": f.pk(rnd)}
            session.add_all(
                [
                    Job(**common, status="succeeded", finished_at=old, result={"x": 1}),
                    Job(**common, status="failed", finished_at=old),
                    Job(**common, status="succeeded", finished_at=utcnow()),
                    Job(**common, status="running", started_at=old, heartbeat_at=old),
                ]
            )
            session.commit()
        with Session(engine) as session:
            report = retention.purge(session=session, settings=settings)
            assert report.jobs == 2
            assert "finished background jobs removed: 2" in report.lines()
            left = sorted(j.status for j in session.exec(select(Job)).all())
            assert left == ["running", "succeeded"]
    finally:
        engine.dispose()
