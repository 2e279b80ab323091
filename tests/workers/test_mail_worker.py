"""Mail through a real `placement worker` (and `placement beat`) to a real SMTP server.

The SMTP server (aiosmtpd) runs in the test process; the worker is a subprocess on the
embedded broker (SQLite database and broker) or on Postgres and Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from placement import jobs, migrate
from placement.config import Settings
from placement.db import make_engine, session_scope
from placement.models import OutboxMessage, utcnow
from placement.services.mail import SEND_MAIL_TASK, queue_mail
from tests import factories as f
from tests.conftest import ROOT, create_postgres_database, require, service_env
from tests.mail_support import SmtpServer

WorkerFactory = Callable[..., Any]
CONTEXT = {"recipient_name": "Ava", "round_name": "Spring 2027", "reason": "None fit."}


class Env:
    def __init__(self, url: str, instance_dir: Path, smtp: SmtpServer, redis: str | None = None):
        migrate.upgrade(url)
        self.env = service_env(url, instance_dir, redis)
        self.env.update(
            MAIL_URL=smtp.url,
            MAIL_FROM="Placement <no-reply@placement.test>",
            MAIL_RETRY_BASE_SECONDS="1",
            MAIL_SWEEP_SECONDS="1",
        )
        self.settings = Settings.from_env(self.env)
        self.engine: Engine = make_engine(url)

    def queue(self, to: str = "ava@example.test", *, enqueue: bool = True) -> int:
        """Queue one mail and commit; the commit enqueues it unless `enqueue` is False
        (a session without settings: as if the broker had lost it)."""
        if enqueue:
            with session_scope(self.settings) as session:
                return self._queue(session, to)
        with Session(self.engine) as session:
            outbox_id = self._queue(session, to)
            session.commit()
            return outbox_id

    @staticmethod
    def _queue(session: Session, to: str) -> int:
        user = f.user(session, email=to)
        message = queue_mail(
            session, to=to, kind="results_unplaced", context=CONTEXT, user_id=user.id
        )
        session.flush()
        assert message.id is not None
        return message.id

    def row(self, outbox_id: int) -> OutboxMessage:
        with Session(self.engine) as session:
            message = session.get(OutboxMessage, outbox_id)
            assert message is not None
            return message

    def wait_sent(self, outbox_id: int, timeout: float = 60) -> OutboxMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.row(outbox_id)
            if message.status == "sent":
                return message
            time.sleep(0.1)
        raise AssertionError(f"mail {outbox_id} not sent after {timeout}s: {self.row(outbox_id)}")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def workers(worker_factory: WorkerFactory) -> Iterator[WorkerFactory]:
    """Workers SIGKILLed at the end: these throw-away queues need no warm shutdown."""
    started: list[Any] = []

    def factory(env: dict[str, str], *extra: str) -> Any:
        worker = worker_factory(env, *extra)
        started.append(worker)
        return worker

    yield factory
    for worker in started:
        worker.kill(signal.SIGKILL)


@pytest.fixture
def embedded(tmp_path: Path, smtp: SmtpServer) -> Iterator[Env]:
    env = Env(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "instance", smtp)
    yield env
    env.engine.dispose()


@pytest.fixture
def on_redis(tmp_path: Path, smtp: SmtpServer, redis_url: str) -> Iterator[Env]:
    require("postgres")
    env = Env(create_postgres_database("mail_worker"), tmp_path / "i", smtp, redis_url)
    yield env
    env.engine.dispose()


def _sent_once(env: Env, smtp: SmtpServer, outbox_id: int) -> None:
    sent = env.wait_sent(outbox_id)
    (got,) = smtp.inbox.wait_for(1)
    assert got.message["Message-ID"] == sent.message_id
    assert got.message["Subject"] == "Results of Spring 2027: no placement this time"
    assert got.rcpt_tos == ["ava@example.test"]


def test_the_commit_enqueues_and_a_worker_sends_once_embedded(
    embedded: Env, smtp: SmtpServer, workers: WorkerFactory
) -> None:
    worker = workers(embedded.env)
    outbox_id = embedded.queue()
    _sent_once(embedded, smtp, outbox_id)
    # The broker delivers the same task again: the worker finds the row sent, sends nothing.
    jobs.enqueue(embedded.settings, SEND_MAIL_TASK, outbox_id)
    deadline = time.monotonic() + 30
    while "not sent by this task: it is sent" not in worker.output():
        assert time.monotonic() < deadline, worker.output()[-3000:]
        time.sleep(0.1)
    assert len(smtp.inbox.received) == 1
    assert embedded.row(outbox_id).attempts == 1


def test_smtp_down_then_up_is_retried_by_the_worker_on_redis(
    on_redis: Env, workers: WorkerFactory, tmp_path: Path
) -> None:
    down = SmtpServer()
    env = dict(on_redis.env, MAIL_URL=down.url)
    settings = Settings.from_env(env)
    workers(env)
    with session_scope(settings) as session:
        outbox_id = Env._queue(session, "ava@example.test")
    deadline = time.monotonic() + 30
    while on_redis.row(outbox_id).last_error is None:  # the first attempt has failed
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert "ConnectionRefusedError" in (on_redis.row(outbox_id).last_error or "")
    down.start()
    try:
        sent = on_redis.wait_sent(outbox_id)
        (got,) = down.inbox.wait_for(1)
    finally:
        down.stop()
    assert sent.attempts >= 2
    assert got.message["Message-ID"] == sent.message_id


@pytest.mark.slow
def test_beat_sweeps_mail_the_broker_lost(
    embedded: Env, smtp: SmtpServer, workers: WorkerFactory, tmp_path: Path
) -> None:
    outbox_id = embedded.queue(enqueue=False)
    with Session(embedded.engine) as session:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == outbox_id)
            .values(next_attempt_at=utcnow().replace(year=2020))
        )
        session.commit()
    workers(embedded.env)
    beat = _start_beat(embedded.env, tmp_path / "beat.log")
    try:
        _sent_once(embedded, smtp, outbox_id)
    finally:
        os.killpg(beat.pid, signal.SIGKILL)
        beat.wait(timeout=30)
    log = (tmp_path / "beat.log").read_text()
    assert "workers.tasks.sweep_outbox" in log
    with Session(embedded.engine) as session:
        assert session.exec(select(OutboxMessage.status)).all() == ["sent"]


def _start_beat(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "placement.cli", "beat", "--loglevel=INFO"]
    handle = log.open("wb")
    process = subprocess.Popen(
        command, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )
    handle.close()
    deadline = time.monotonic() + 60
    while "beat: Starting" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"beat did not start:\n{log.read_text()}")
        time.sleep(0.2)
    return process
