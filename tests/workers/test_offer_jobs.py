"""The offer jobs through a real `placement worker` on the embedded broker: the expiry job
ends an offer past its deadline (its seat freed, the trainee mailed over real SMTP), the
reminder job reminds once; and beat's schedule carries both."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from placement import jobs, migrate
from placement.config import Settings
from placement.db import make_engine
from placement.models import OutboxMessage, Placement, Slot, utcnow
from placement.services.offers import EXPIRE_OFFERS_TASK, OFFER_REMINDERS_TASK
from tests import factories as f
from tests.conftest import service_env
from tests.mail_support import SmtpServer
from workers.celery_app import beat_schedule

WorkerFactory = Callable[..., Any]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def test_beat_runs_the_offer_jobs(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "SECRET_KEY": "k"}
    )
    schedule = beat_schedule(settings)
    assert schedule["expire-offers"]["task"] == EXPIRE_OFFERS_TASK
    assert schedule["expire-offers"]["schedule"] <= 60
    assert schedule["offer-reminders"]["task"] == OFFER_REMINDERS_TASK


def test_a_worker_expires_offers_and_sends_reminders(
    tmp_path: Path, smtp: SmtpServer, worker_factory: WorkerFactory
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(url)
    env = service_env(url, tmp_path / "instance")
    env.update(MAIL_URL=smtp.url, MAIL_FROM="Placement <no-reply@placement.test>")
    settings = Settings.from_env(env)
    engine = make_engine(url)
    try:
        now = utcnow()
        with Session(engine, expire_on_commit=False) as session:
            rnd = f.round_(session, status="published")
            host = f.organisation(session)
            made = []
            for expires_in in (timedelta(minutes=-1), timedelta(hours=30)):
                user = f.user(session, role="trainee")
                trainee = f.trainee(session, user_id=user.id, email=user.email)
                slot = f.slot(session, round=rnd, organisation=host, capacity=1, filled=1)
                placement = Placement(
                    round_id=f.pk(rnd),
                    trainee_id=f.pk(trainee),
                    slot_id=f.pk(slot),
                    offer_status="offered",
                    offered_at=now - timedelta(days=6),
                    offer_expires_at=now + expires_in,
                )
                session.add(placement)
                made.append((user.email, placement, f.pk(slot)))
            session.commit()
        worker = worker_factory(env)
        jobs.enqueue(settings, EXPIRE_OFFERS_TASK)
        jobs.enqueue(settings, OFFER_REMINDERS_TASK)
        got = smtp.inbox.wait_for(2, timeout=60)
        subjects = {m.rcpt_tos[0]: m.message["Subject"] for m in got}
        (lapsed_email, lapsed, lapsed_slot), (due_email, due, _) = made
        assert "has lapsed" in subjects[lapsed_email], subjects
        assert "Two days left" in subjects[due_email], subjects
        with Session(engine) as session:
            row = session.get(Placement, lapsed.id)
            assert row is not None and (row.status, row.offer_status) == ("withdrawn", "expired")
            slot = session.get(Slot, lapsed_slot)
            assert slot is not None and slot.filled == 0
            reminded = session.get(Placement, due.id)
            assert reminded is not None and reminded.offer_reminded_at is not None
            assert reminded.offer_status == "offered"
        # Both jobs again (as beat does every minute): nothing more is sent.
        jobs.enqueue(settings, EXPIRE_OFFERS_TASK)
        jobs.enqueue(settings, OFFER_REMINDERS_TASK)
        deadline = time.monotonic() + 30
        while worker.output().count(f"Task {OFFER_REMINDERS_TASK}") < 4:
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.2)
        with Session(engine) as session:
            kinds = sorted(m.kind for m in session.exec(select(OutboxMessage)).all())
        assert kinds == ["offer_expired", "offer_reminder"]
        assert len(smtp.inbox.received) == 2
        worker.kill(signal.SIGKILL)
    finally:
        engine.dispose()
