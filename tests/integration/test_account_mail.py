"""The verification and reset links really arrive by SMTP (aiosmtpd in the test process),
and the link as received works, on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from placement import create_app
from placement.config import Settings
from placement.db import session_scope
from placement.models import OutboxMessage
from placement.services.mail import Outcome, deliver
from tests import factories as f
from tests.accounts_support import LINK_TOKEN
from tests.conftest import Backend
from tests.mail_support import SmtpServer, parts

API = "/api/v1"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def send_queued(settings: Settings, to: str) -> None:
    """What the worker's task does for each queued message (tests/workers covers the task)."""
    with session_scope(settings, readonly=True) as session:
        ids = session.exec(
            select(OutboxMessage.id)
            .where(OutboxMessage.to_address == to, OutboxMessage.status == "queued")
            .order_by(col(OutboxMessage.id))
        ).all()
    assert ids
    for outbox_id in ids:
        assert outbox_id is not None
        assert deliver(outbox_id, settings=settings).outcome is Outcome.SENT


def received_token(smtp: SmtpServer, count: int, to: str) -> tuple[str, str]:
    mail = smtp.inbox.wait_for(count)[count - 1]
    assert mail.rcpt_tos == [to]
    body = parts(mail.message)
    found = LINK_TOKEN.search(body["text/plain"])
    assert found, body["text/plain"]
    assert found.group(1) in body["text/html"]
    assert "Why you are getting this email" in body["text/plain"]
    return str(mail.message["Subject"]), found.group(1)


def test_verify_and_reset_links_arrive_by_smtp_and_work(
    committed_backend: Backend, tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": committed_backend.url,
            "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
            "MAIL_URL": smtp.url,
            "MAIL_FROM": "Placement <no-reply@placement.test>",
        }
    )
    client = create_app(settings).test_client()
    with session_scope(settings) as session:
        imported = f.trainee(session, email="owner@learners.test", user_id=None)
        imported_id = imported.id

    r = client.post(
        f"{API}/auth/register",
        json={"email": "Owner@Learners.test", "name": "Olu Owner", "role": "trainee"},
    )
    assert r.status_code == 202
    send_queued(settings, "owner@learners.test")
    subject, token = received_token(smtp, 1, "owner@learners.test")
    assert subject == "Confirm your email address for Placement"
    r = client.post(f"{API}/auth/verify", json={"token": token, "password": "owner-pass-phrase"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["user"]["trainee_id"] == imported_id
    old = r.get_json()["token"]

    r = client.post(f"{API}/auth/password-reset", json={"email": "owner@learners.test"})
    assert r.status_code == 202
    send_queued(settings, "owner@learners.test")
    subject, token = received_token(smtp, 2, "owner@learners.test")
    assert subject == "Choose a new password for Placement"
    r = client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "password": "newer-pass-phrase"}
    )
    assert r.status_code == 200
    assert client.get(f"{API}/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    r = client.post(
        f"{API}/auth/login", json={"email": "owner@learners.test", "password": "newer-pass-phrase"}
    )
    assert r.status_code == 200
