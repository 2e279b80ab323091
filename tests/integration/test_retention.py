"""Retention: `purge` removes old failed sign-ins, dead tokens and unpublished run instances,
and keeps a published run's instance; as a service on both databases, as `placement purge`,
and as the periodic task on a real worker."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from placement import jobs
from placement.config import ConfigError, Settings
from placement.db import make_engine
from placement.models import ApiToken, AuditEvent, MatchRun, Notification, utcnow
from placement.services.retention import purge
from placement.services.runs.stored import pack_instance
from tests import factories as f
from tests.conftest import ROOT, Backend, service_env

PACKED, SHA = pack_instance({"format": "placement-instance/1", "trainees": [], "slots": []})


def _world(session: Session) -> dict[str, int]:
    """Old and new rows of every kind purge looks at; their ids by name."""
    now = utcnow()
    old = now - timedelta(days=400)
    user = f.user(session, role="trainee")
    ids: dict[str, int] = {}
    for name, action, at in [
        ("old_fail", "login.fail", old),
        ("new_fail", "login.fail", now - timedelta(days=10)),
        ("old_other", "proposal.approve", old),
    ]:
        event = AuditEvent(action=action, at=at)
        session.add(event)
        session.flush()
        ids[name] = f.pk(event)
    for name, values in [
        ("revoked_long_ago", {"revoked_at": now - timedelta(days=60), "created_at": old}),
        ("revoked_lately", {"revoked_at": now - timedelta(days=2), "last_used_at": now}),
        ("idle_long_ago", {"created_at": now - timedelta(days=45)}),
        ("in_use", {"created_at": now - timedelta(days=3), "last_used_at": now}),
    ]:
        token = ApiToken(user_id=f.pk(user), token_hash=f"{name:0<64}"[:64], **values)
        session.add(token)
        session.flush()
        ids[name] = f.pk(token)

    for name, read_at in [
        ("read_long_ago", now - timedelta(days=200)),
        ("read_lately", now - timedelta(days=3)),
        ("unread", None),
    ]:
        note = Notification(
            user_id=f.pk(user), kind="round_opened", subject="s", body="b", read_at=read_at
        )
        note.created_at = old
        session.add(note)
        session.flush()
        ids[name] = f.pk(note)
    closed = f.round_(session, status="closed")
    published = f.round_(session, status="published")
    org = f.organisation(session)
    slot = f.slot(session, round=published, organisation=org)
    trainee = f.trainee(session)
    finished = {"finished_at": old, "instance_gz": PACKED, "instance_sha256": SHA}
    runs = {
        "old_unpublished": f.match_run(session, round=closed, status="succeeded", **finished),
        "old_failed": f.match_run(session, round=closed, status="failed", **finished),
        "recent_unpublished": f.match_run(
            session,
            round=closed,
            status="succeeded",
            finished_at=now - timedelta(days=5),
            instance_gz=PACKED,
            instance_sha256=SHA,
        ),
        "published_approved": f.match_run(session, round=published, status="succeeded", **finished),
        "published_experiment": f.match_run(
            session, round=published, status="succeeded", **finished
        ),
    }
    f.proposal(
        session, run=runs["published_approved"], trainee=trainee, slot=slot, status="approved"
    )
    ids.update({name: f.pk(run) for name, run in runs.items()})
    session.commit()
    return ids


def _check_purged(session: Session, ids: dict[str, int]) -> None:
    session.expire_all()
    events = set(session.exec(select(AuditEvent.id)).all())
    assert ids["old_fail"] not in events
    assert {ids["new_fail"], ids["old_other"]} <= events
    notes = set(session.exec(select(Notification.id)).all())
    assert notes == {ids["read_lately"], ids["unread"]}
    tokens = set(session.exec(select(ApiToken.id)).all())
    assert tokens == {ids["revoked_lately"], ids["in_use"]}
    stored = {
        run_id
        for run_id, gz in session.exec(select(MatchRun.id, MatchRun.instance_gz)).all()
        if gz is not None
    }
    assert stored == {ids["recent_unpublished"], ids["published_approved"]}
    # The runs themselves, and their hashes, stay.
    assert all(sha == SHA for sha in session.exec(select(MatchRun.instance_sha256)).all())
    purges = session.exec(select(AuditEvent).where(AuditEvent.action == "retention.purge")).all()
    assert purges and purges[-1].detail["run_instances"] == 3


def test_purge_removes_what_is_past_retention(session: Session, settings: Settings) -> None:
    ids = _world(session)
    report = purge(session=session, settings=settings)
    assert (report.failed_logins, report.tokens, report.run_instances) == (1, 2, 3)
    assert report.read_notifications == 1
    assert report.run_ids == sorted(
        [ids["old_unpublished"], ids["old_failed"], ids["published_experiment"]]
    )
    _check_purged(session, ids)
    again = purge(session=session, settings=settings)
    assert (again.failed_logins, again.tokens, again.run_instances) == (0, 0, 0)


def test_retention_ages_come_from_the_environment(tmp_path: Path) -> None:
    base = {"PLACEMENT_INSTANCE_DIR": str(tmp_path), "SECRET_KEY": "x"}
    settings = Settings.from_env({**base, "PLACEMENT_RETAIN_FAILED_LOGINS_DAYS": "7"})
    assert settings.retain_failed_logins_days == 7
    assert settings.retain_unpublished_instances_days == 90
    with pytest.raises(ConfigError, match="PLACEMENT_RETAIN_TOKENS_DAYS"):
        Settings.from_env({**base, "PLACEMENT_RETAIN_TOKENS_DAYS": "soon"})
    with pytest.raises(ConfigError, match="at least 1 day"):
        Settings.from_env({**base, "PLACEMENT_RETAIN_TOKENS_DAYS": "0"})


def test_placement_purge_command(committed_backend: Backend, tmp_path: Path) -> None:
    engine = make_engine(committed_backend.url)
    with Session(engine) as session:
        ids = _world(session)
    env = service_env(committed_backend.url, tmp_path / "instance")
    result = subprocess.run(
        [sys.executable, "-m", "placement.cli", "purge"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "failed sign-in events removed: 1" in result.stdout
    assert "revoked or expired API tokens and page sessions removed: 2" in result.stdout
    assert "stored instances of unpublished runs removed: 3" in result.stdout
    assert "read notifications removed: 1" in result.stdout
    with Session(engine) as session:
        _check_purged(session, ids)
    engine.dispose()


def test_purge_task_on_a_real_worker(tmp_path: Path, worker_factory) -> None:  # type: ignore[no-untyped-def]
    from placement import migrate

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        ids = _world(session)
    env = service_env(url, tmp_path / "instance")
    worker = worker_factory(env)
    result = jobs._producer(Settings.from_env(env)).send_task("workers.maintenance.purge")
    lines = result.get(timeout=60)
    assert "failed sign-in events removed: 1" in lines
    assert "workers.maintenance.purge" in worker.output()
    with Session(engine) as session:
        _check_purged(session, ids)
        assert session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "retention.purge")
        ).first()
    engine.dispose()
