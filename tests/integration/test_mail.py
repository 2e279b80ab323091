"""The outbox and sending, on SQLite and Postgres, through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from placement.config import ConfigError, Settings
from placement.db import session_scope
from placement.models import Notification, OutboxMessage, Round, utcnow
from placement.services import mail
from placement.services.mail import Outcome, deliver, queue_mail, render, sweep_outbox
from tests import factories as f
from tests.conftest import Backend
from tests.mail_support import SmtpServer, SmtpsServer, ThrowawayCa, parts

CONTEXT = {
    "recipient_name": "Ava Trainee",
    "round_name": "West Midlands 2027",
    "slot_title": "Assay validation",
    "organisation_name": "X Test Labs",
    "site": "B15 2TT",
    "starts_on": date(2027, 2, 1),
    "ends_on": date(2027, 5, 28),
}


def make_settings(backend: Backend, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"mail_retry_base": 2.0}
    values.update(overrides)
    return Settings.from_env(
        {
            "DATABASE_URL": backend.url,
            "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
            "MAIL_FROM": "Placement <no-reply@placement.test>",
        },
        **values,
    )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def queue_one(settings: Settings, **kw: Any) -> int:
    """Queue one placement mail to a new trainee account and commit; returns its id."""
    with session_scope(settings) as session:
        user = f.user(session, email="ava@example.test", name="Ava Trainee")
        message = queue_mail(
            session,
            to=user.email,
            kind="results_placed",
            context=CONTEXT,
            user_id=user.id,
            **kw,
        )
        session.flush()
        assert message.id is not None
        return message.id


def row(settings: Settings, outbox_id: int) -> OutboxMessage:
    with session_scope(settings, readonly=True) as session:
        message = session.get(OutboxMessage, outbox_id)
        assert message is not None
        return message


# --- rendering -------------------------------------------------------------------------


def test_every_template_says_why_in_both_parts() -> None:
    contexts = {
        "round_opened": {
            "recipient_name": "Ava",
            "round_name": "R",
            "region": "West Midlands",
            "starts_on": date(2027, 1, 4),
            "ends_on": date(2027, 7, 2),
            "deadline": date(2026, 12, 20),
            "max_preferences": 10,
        },
        "round_opened_employer": {
            "recipient_name": "Xavier",
            "round_name": "R",
            "organisation_name": "X Labs",
            "slot_count": 2,
            "deadline": None,
        },
        "deadline_reminder": {
            "recipient_name": "Ava",
            "round_name": "R",
            "deadline": date(2026, 12, 20),
            "ranked": 0,
            "max_preferences": 10,
        },
        "results_placed": CONTEXT,
        "results_unplaced": {"recipient_name": "Ava", "round_name": "R", "reason": "None fit."},
        "placement_withdrawn": {
            "recipient_name": "Ava",
            "round_name": "R",
            "slot_title": "Assay",
            "organisation_name": "X Labs",
        },
    }
    templates = Path(mail.TEMPLATES)
    kinds = {p.stem for p in templates.glob("*.txt") if not p.stem.startswith("_")}
    assert set(contexts) <= kinds
    for kind in kinds:  # every kind, these and any added later: both parts, and why
        for suffix in (".txt", ".html"):
            source = (templates / f"{kind}{suffix}").read_text()
            assert "{% block why %}" in source, f"{kind}{suffix} does not say why"
        assert "{% block subject %}" in (templates / f"{kind}.txt").read_text()
    for kind, context in contexts.items():
        rendered = render(kind, context, base_url="https://placement.example")
        assert rendered.subject and "\n" not in rendered.subject
        for part in (rendered.text, rendered.html):
            assert "Why you are getting this email" in part, kind
            assert "https://placement.example/notifications" in part
        assert "{{" not in rendered.text + rendered.html
        assert rendered.summary and "Hello" not in rendered.summary
    deadline = render("deadline_reminder", contexts["deadline_reminder"], base_url="x")
    assert "20 Dec 2026" in deadline.text
    assert "not ranked any placements yet" in deadline.text


def test_html_part_escapes_names() -> None:
    rendered = render(
        "results_unplaced",
        {"recipient_name": "<script>x</script>", "round_name": "R & D", "reason": "None."},
        base_url="x",
    )
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "R &amp; D" in rendered.html
    assert "<script>x</script>" in rendered.text


def test_a_missing_template_value_is_an_error_not_a_blank() -> None:
    with pytest.raises(Exception, match="round_name"):
        render("results_unplaced", {"recipient_name": "Ava", "reason": "x"}, base_url="x")
    with pytest.raises(ValueError, match="no mail template"):
        render("no_such_kind", {}, base_url="x")


# --- the outbox commits with the change --------------------------------------------------


def test_mail_and_notification_commit_with_the_change(session: Session) -> None:
    user = f.user(session)
    rnd = f.round_(session, status="draft")
    rnd.status = "open"
    message = queue_mail(
        session, to=user.email, kind="results_placed", context=CONTEXT, user_id=user.id
    )
    session.commit()
    stored = session.get(OutboxMessage, message.id)
    assert stored is not None and stored.status == "queued" and stored.attempts == 0
    assert stored.subject == "Your placement in West Midlands 2027: Assay validation at X Test Labs"
    assert stored.message_id.endswith("@placement.localhost>")
    note = session.exec(select(Notification).where(Notification.user_id == user.id)).one()
    assert note.subject == stored.subject and note.kind == "results_placed"
    assert "Assay validation" in note.body and note.read_at is None


def test_a_rolled_back_change_leaves_no_mail(committed_backend: Backend, tmp_path: Path) -> None:
    settings = make_settings(committed_backend, tmp_path)
    with session_scope(settings) as session:
        user = f.user(session)
        rnd = f.round_(session, status="draft")
        user_id, round_id = user.id, rnd.id
    with pytest.raises(RuntimeError, match="the change failed"), session_scope(settings) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None
        rnd.status = "open"
        queue_mail(
            session, to="a@example.test", kind="results_placed", context=CONTEXT, user_id=user_id
        )
        session.flush()
        raise RuntimeError("the change failed")
    with session_scope(settings, readonly=True) as session:
        assert session.get(Round, round_id).status == "draft"  # type: ignore[union-attr]
        assert session.exec(select(OutboxMessage)).all() == []
        assert session.exec(select(Notification)).all() == []


def test_notify_false_keeps_the_mail_out_of_the_app(session: Session) -> None:
    user = f.user(session)
    queue_mail(
        session,
        to=user.email,
        kind="results_placed",
        context=CONTEXT,
        user_id=user.id,
        notify=False,
    )
    session.flush()
    assert session.exec(select(Notification)).all() == []
    assert len(session.exec(select(OutboxMessage)).all()) == 1


def test_a_dedupe_key_queues_once(session: Session) -> None:
    user = f.user(session)
    first = queue_mail(
        session,
        to=user.email,
        kind="results_placed",
        context=CONTEXT,
        user_id=user.id,
        dedupe_key="k1",
    )
    again = queue_mail(
        session,
        to=user.email,
        kind="results_placed",
        context=CONTEXT,
        user_id=user.id,
        dedupe_key="k1",
    )
    session.flush()
    assert again.id == first.id
    assert len(session.exec(select(OutboxMessage)).all()) == 1
    assert len(session.exec(select(Notification)).all()) == 1


# --- sending ------------------------------------------------------------------------------


def test_mail_arrives_over_smtp_with_both_parts(
    committed_backend: Backend, tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = make_settings(committed_backend, tmp_path, mail_url=smtp.url)
    outbox_id = queue_one(settings)
    assert deliver(outbox_id, settings=settings).outcome is Outcome.SENT
    (got,) = smtp.inbox.wait_for(1)
    stored = row(settings, outbox_id)
    assert got.rcpt_tos == ["ava@example.test"]
    assert got.mail_from == "no-reply@placement.test"
    message = got.message
    assert message["To"] == "ava@example.test"
    assert message["From"] == "Placement <no-reply@placement.test>"
    assert message["Subject"] == stored.subject
    assert message["Message-ID"] == stored.message_id
    assert stored.message_id.endswith("@placement.test>")
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    assert "Assay validation" in body["text/plain"] and "Why you are getting" in body["text/plain"]
    assert "<strong>Assay validation</strong>" in body["text/html"]
    assert stored.status == "sent" and stored.sent_at is not None and stored.attempts == 1


def test_a_redelivered_task_sends_nothing_twice(
    committed_backend: Backend, tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = make_settings(committed_backend, tmp_path, mail_url=smtp.url)
    outbox_id = queue_one(settings)
    outcomes = [deliver(outbox_id, settings=settings).outcome for _ in range(3)]
    assert outcomes == [Outcome.SENT, Outcome.SKIPPED, Outcome.SKIPPED]
    smtp.inbox.wait_for(2, timeout=1.0)
    assert len(smtp.inbox.received) == 1
    assert row(settings, outbox_id).attempts == 1
    # A claim held by a live worker is left alone too.
    second = queue_one_more(settings)
    with session_scope(settings) as session:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == second)
            .values(status="sending", claimed_at=utcnow())
        )
    assert deliver(second, settings=settings).outcome is Outcome.SKIPPED
    assert deliver(999_999, settings=settings).outcome is Outcome.SKIPPED


def queue_one_more(settings: Settings) -> int:
    with session_scope(settings) as session:
        message = queue_mail(session, to="ben@example.test", kind="results_placed", context=CONTEXT)
        session.flush()
        assert message.id is not None
        return message.id


def test_the_embedded_default_writes_eml_files(committed_backend: Backend, tmp_path: Path) -> None:
    settings = make_settings(committed_backend, tmp_path)
    assert settings.mail_url is None
    outbox_id = queue_one(settings)
    assert deliver(outbox_id, settings=settings).outcome is Outcome.SENT
    files = list((tmp_path / "instance" / "mail").glob("*.eml"))
    assert [p.name for p in files] == [f"{outbox_id:08d}.eml"]
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] == "ava@example.test"
    assert message["Message-ID"] == row(settings, outbox_id).message_id
    assert set(parts(message)) == {"text/plain", "text/html"}  # type: ignore[arg-type]
    assert deliver(outbox_id, settings=settings).outcome is Outcome.SKIPPED
    assert len(list((tmp_path / "instance" / "mail").iterdir())) == 1


def test_retries_with_backoff_while_the_server_is_down_then_sends(
    committed_backend: Backend, tmp_path: Path
) -> None:
    server = SmtpServer()  # not started: nothing listens on its port
    settings = make_settings(committed_backend, tmp_path, mail_url=server.url)
    outbox_id = queue_one(settings)
    first = deliver(outbox_id, settings=settings)
    second = deliver(outbox_id, settings=settings)
    assert (first.outcome, first.retry_in) == (Outcome.RETRY, 2.0)
    assert (second.outcome, second.retry_in) == (Outcome.RETRY, 4.0)
    stored = row(settings, outbox_id)
    assert stored.status == "queued" and stored.attempts == 2
    assert "ConnectionRefusedError" in (stored.last_error or "")
    assert stored.next_attempt_at is not None and stored.next_attempt_at > utcnow()
    server.start()
    try:
        assert deliver(outbox_id, settings=settings).outcome is Outcome.SENT
        assert len(server.inbox.wait_for(1)) == 1
    finally:
        server.stop()
    stored = row(settings, outbox_id)
    assert (stored.status, stored.attempts, stored.last_error) == ("sent", 3, None)


def test_gives_up_after_the_last_attempt(committed_backend: Backend, tmp_path: Path) -> None:
    server = SmtpServer()
    settings = make_settings(committed_backend, tmp_path, mail_url=server.url, mail_max_attempts=2)
    outbox_id = queue_one(settings)
    assert deliver(outbox_id, settings=settings).outcome is Outcome.RETRY
    assert deliver(outbox_id, settings=settings).outcome is Outcome.FAILED
    assert row(settings, outbox_id).status == "failed"
    assert deliver(outbox_id, settings=settings).outcome is Outcome.SKIPPED
    assert sweep_outbox(settings=settings, grace=0) == []


def test_a_permanent_refusal_is_not_retried(
    committed_backend: Backend, tmp_path: Path, smtp: SmtpServer
) -> None:
    smtp.inbox.refuse = "550 5.1.1 No such mailbox here"
    settings = make_settings(committed_backend, tmp_path, mail_url=smtp.url)
    outbox_id = queue_one(settings)
    delivery = deliver(outbox_id, settings=settings)
    assert delivery.outcome is Outcome.FAILED
    assert "No such mailbox" in (delivery.error or "")
    assert row(settings, outbox_id).status == "failed"


# --- the sweep and the duplicate window ----------------------------------------------------


def test_the_sweep_enqueues_what_the_broker_lost_once(
    committed_backend: Backend, tmp_path: Path
) -> None:
    settings = make_settings(committed_backend, tmp_path)
    fresh = queue_one(settings)
    old = queue_one_more(settings)
    with session_scope(settings) as session:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == old)
            .values(next_attempt_at=utcnow() - timedelta(minutes=5))
        )
    # The fresh message was enqueued at its commit (or will be): not again yet.
    assert sweep_outbox(settings=settings) == [old]
    assert sweep_outbox(settings=settings) == []
    assert fresh not in sweep_outbox(settings=settings)


def test_a_worker_that_died_mid_send_is_sent_again_and_logged(
    committed_backend: Backend,
    tmp_path: Path,
    smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(committed_backend, tmp_path, mail_url=smtp.url)
    outbox_id = queue_one(settings)
    long_ago = utcnow() - mail.CLAIM_LEASE - timedelta(minutes=1)
    with session_scope(settings) as session:  # a claim by a worker that never came back
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == outbox_id)
            .values(status="sending", claimed_at=long_ago, attempts=1, next_attempt_at=long_ago)
        )
    assert sweep_outbox(settings=settings) == [outbox_id]
    with caplog.at_level(logging.WARNING, logger="placement.services.mail"):
        assert deliver(outbox_id, settings=settings).outcome is Outcome.SENT
    assert "never marked it sent" in caplog.text
    (got,) = smtp.inbox.wait_for(1)
    assert got.message["Message-ID"] == row(settings, outbox_id).message_id


def test_a_mail_url_that_is_not_smtp_is_refused_at_start(tmp_path: Path) -> None:
    env = {"PLACEMENT_INSTANCE_DIR": str(tmp_path), "SECRET_KEY": "k", "MAIL_URL": "http://x"}
    with pytest.raises(ConfigError, match="MAIL_URL must look like smtp://"):
        Settings.from_env(env)
    ok = Settings.from_env({**env, "MAIL_URL": "smtps://u:p@mail.example:465"})
    assert ok.mail_url == "smtps://u:p@mail.example:465"
    assert Settings.from_env({**env, "MAIL_URL": ""}).mail_url is None


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCa:
    return ThrowawayCa.make(tmp_path_factory.mktemp("smtps-ca"))


@pytest.fixture
def smtps(test_ca: ThrowawayCa) -> Iterator[SmtpsServer]:
    server = SmtpsServer(test_ca, user="placement@mail.test", password="p@ss:w/rd").start()
    yield server
    server.stop()


def test_smtps_sends_over_implicit_tls_with_auth(
    committed_backend: Backend, tmp_path: Path, smtps: SmtpsServer, test_ca: ThrowawayCa
) -> None:
    # The MAIL_URL form of API.md, the user and password percent-encoded; the client trusts
    # the test CA through MAIL_CA_FILE (read and checked by Settings.from_env).
    settings = Settings.from_env(
        {
            "DATABASE_URL": committed_backend.url,
            "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
            "MAIL_FROM": "Placement <no-reply@placement.test>",
            "MAIL_URL": smtps.url_with("placement@mail.test", "p@ss:w/rd"),
            "MAIL_CA_FILE": str(test_ca.ca_cert),
        }
    )
    assert settings.mail_url is not None and settings.mail_url.startswith("smtps://")
    outbox_id = queue_one(settings)
    assert deliver(outbox_id, settings=settings).outcome is Outcome.SENT
    (got,) = smtps.inbox.wait_for(1)
    assert got.login == "placement@mail.test"
    assert got.rcpt_tos == ["ava@example.test"]
    assert got.message["Message-ID"] == row(settings, outbox_id).message_id
    assert row(settings, outbox_id).status == "sent"


def test_smtps_with_a_wrong_password_is_logged_and_retried(
    committed_backend: Backend,
    tmp_path: Path,
    smtps: SmtpsServer,
    test_ca: ThrowawayCa,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = smtps.url_with("placement@mail.test", "not-the-password")
    settings = make_settings(
        committed_backend, tmp_path, mail_url=wrong, mail_ca_file=test_ca.ca_cert
    )
    outbox_id = queue_one(settings)
    with caplog.at_level(logging.WARNING, logger="placement.services.mail"):
        first = deliver(outbox_id, settings=settings)
    assert (first.outcome, first.retry_in) == (Outcome.RETRY, 2.0)
    assert "refused the user name and password in MAIL_URL (535" in (first.error or "")
    assert any(
        "attempt 1 failed" in r.getMessage() and "MAIL_URL" in r.getMessage()
        for r in caplog.records
    )
    stored = row(settings, outbox_id)
    assert stored.status == "queued" and stored.attempts == 1
    assert "MailServerRefusedLogin" in (stored.last_error or "")
    assert "not-the-password" not in (stored.last_error or "")
    assert smtps.inbox.received == []
    # Fixed (the right password): the retry sends it.
    fixed = replace(settings, mail_url=smtps.url_with("placement@mail.test", "p@ss:w/rd"))
    assert deliver(outbox_id, settings=fixed).outcome is Outcome.SENT
    assert len(smtps.inbox.wait_for(1)) == 1


def test_smtps_checks_the_certificate(
    committed_backend: Backend, tmp_path: Path, smtps: SmtpsServer
) -> None:
    # No MAIL_CA_FILE: the test CA is not trusted, so nothing is sent (and it is retried).
    url = smtps.url_with("placement@mail.test", "p@ss:w/rd")
    settings = make_settings(committed_backend, tmp_path, mail_url=url)
    outbox_id = queue_one(settings)
    result = deliver(outbox_id, settings=settings)
    assert result.outcome is Outcome.RETRY
    assert "certificate is not trusted" in (result.error or "")
    assert "MAIL_CA_FILE" in (result.error or "")
    assert smtps.inbox.received == []


def test_a_mail_ca_file_that_is_not_there_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MAIL_CA_FILE"):
        Settings.from_env(
            {"SECRET_KEY": "x", "MAIL_CA_FILE": str(tmp_path / "missing.pem")},
        )
