"""Mail through a transactional outbox.

`queue_mail` renders a template and adds an `OutboxMessage` (and, for a user, a
`Notification`) to the caller's transaction: the mail exists exactly when the change that
causes it commits. After the commit its id is sent to the broker; `deliver` (run by a
worker) claims the row with a conditional UPDATE, sends it and marks it sent, so a
redelivered task finds nothing to do. `sweep_outbox` re-enqueues what the broker lost.

The one duplicate left: a worker that dies after the SMTP server accepted a message and
before the row is marked sent. The message is claimed again once its claim is older than
`CLAIM_LEASE` and sent again with the same Message-ID (logged as a warning).
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2
from sqlalchemy import and_, event, inspect, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from placement.config import Settings
from placement.db import session_scope, session_settings
from placement.jobs import enqueue
from placement.models import Notification, OutboxMessage, utcnow

log = logging.getLogger(__name__)

SEND_MAIL_TASK = "workers.tasks.send_mail"
DISPATCH_MAIL_TASK = "workers.tasks.dispatch_mail"
SWEEP_OUTBOX_TASK = "workers.tasks.sweep_outbox"

_PENDING_KEY = "placement_outbox_pending"
# More messages than this from one commit go to the broker as one batch task.
BATCH_OVER = 20
# A claim older than this belongs to a worker that died: the message may be claimed again.
CLAIM_LEASE = timedelta(minutes=10)
MAX_BACKOFF = 3600.0
SMTP_TIMEOUT = 30.0
TEMPLATES = Path(__file__).resolve().parent.parent / "mail_templates"


# --- templates ---------------------------------------------------------------------------


def uk_date(value: date | datetime | None) -> str:
    """13 Sep 2027."""
    if value is None:
        return ""
    return f"{value.day} {value:%b %Y}"


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_env.filters["ukdate"] = uk_date


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    # The text part without greeting and footer: the in-app notification's body.
    summary: str


def render(kind: str, context: Mapping[str, Any], *, base_url: str) -> Rendered:
    """The subject, text and HTML of `mail_templates/{kind}.txt` and `{kind}.html`.

    The text template's `subject` block is the subject line and its `body` block the
    summary shown in the app. Every template gets `base_url`
    (links start with it); anything else it names must be in `context`.
    """
    values = {"base_url": base_url.rstrip("/"), **context}
    try:
        text_template = _env.get_template(f"{kind}.txt")
        html_template = _env.get_template(f"{kind}.html")
    except jinja2.TemplateNotFound as exc:
        raise ValueError(f"no mail template for kind {kind!r}") from exc

    def block(name: str) -> str:
        return "".join(text_template.blocks[name](text_template.new_context(values)))

    return Rendered(
        subject=" ".join(block("subject").split()),
        text=text_template.render(values),
        html=html_template.render(values),
        summary=block("body").strip(),
    )


# --- queueing ------------------------------------------------------------------------------


def _domain(settings: Settings | None) -> str:
    sender = parseaddr(settings.mail_from if settings else "")[1]
    return sender.rpartition("@")[2] or "placement.localhost"


def queue_mail(
    session: Session,
    *,
    to: str,
    kind: str,
    context: Mapping[str, Any],
    user_id: int | None = None,
    notify: bool = True,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Queue one mail in the caller's transaction; the caller commits (the row gets its id
    when the session flushes).

    With `user_id` (and `notify`), the user also gets an in-app notification with the same
    subject and the text part's body (no greeting or footer). Pass `notify=False` for mail
    that must stay out of the app (a link that signs someone in, say). With `dedupe_key`, a
    second call with the same key queues nothing and returns the first message: the
    database's unique index decides, so two processes racing cannot both queue it.
    """
    if dedupe_key is not None:
        existing = session.exec(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
        ).first()
        if existing is not None:
            return existing
    settings = session_settings(session)
    rendered = render(kind, context, base_url=settings.base_url if settings else Settings.base_url)
    now = utcnow()
    message = OutboxMessage(
        message_id=f"<{uuid.uuid4().hex}@{_domain(settings)}>",
        dedupe_key=dedupe_key,
        to_address=to,
        subject=rendered.subject[:300],
        text_body=rendered.text,
        html_body=rendered.html,
        kind=kind,
        user_id=user_id,
        status="queued",
        created_at=now,
        next_attempt_at=now,
    )
    notification = (
        Notification(
            user_id=user_id, kind=kind, subject=rendered.subject[:300], body=rendered.summary
        )
        if user_id is not None and notify
        else None
    )
    rows = [message] if notification is None else [message, notification]
    if dedupe_key is None:
        # Flushed with the caller's other changes: thousands of mails are batched inserts.
        session.add_all(rows)
    else:
        try:
            with session.begin_nested():
                session.add_all(rows)
        except IntegrityError:
            # Another transaction queued the same key first.
            existing = session.exec(
                select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
            ).first()
            if existing is None:
                raise
            return existing
    session.info.setdefault(_PENDING_KEY, []).append(message)
    return message


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session: Session) -> None:
    pending: list[OutboxMessage] = session.info.pop(_PENDING_KEY, [])
    # The primary key without loading anything: rows rolled back by a savepoint have none.
    ids = [int(key[0]) for key in (inspect(m).identity for m in pending) if key]
    if not ids:
        return
    settings = session_settings(session)
    if settings is None:
        log.debug("no settings on the session: the outbox sweep will send %s", ids)
        return
    enqueue_messages(settings, ids)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def enqueue_messages(settings: Settings, ids: list[int]) -> bool:
    """Hand committed messages to the broker; False (logged) when it is unreachable: they
    stay queued in the database and the sweep enqueues them later."""
    if settings.embedded_broker:
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
    try:
        if len(ids) > BATCH_OVER:
            enqueue(settings, DISPATCH_MAIL_TASK, list(ids))
        else:
            for outbox_id in ids:
                enqueue(settings, SEND_MAIL_TASK, outbox_id)
    except Exception:
        log.warning("could not enqueue mail %s; the outbox sweep will", ids, exc_info=True)
        return False
    return True


# --- sending -------------------------------------------------------------------------------


class Outcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # sent already, claimed by a live worker, or no such message
    RETRY = "retry"
    FAILED = "failed"  # a permanent refusal, or the last attempt failed


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    retry_in: float | None = None
    error: str | None = None


class PermanentFailure(Exception):
    """The mail server refused the message for good (a 5xx answer): retrying cannot help."""


class MailServerRefusedLogin(Exception):
    """AUTH failed: the user name or password in MAIL_URL is wrong (retried, and logged)."""


class UntrustedMailServer(Exception):
    """TLS to the mail server failed certificate verification (retried, and logged)."""


def backoff(attempts: int, settings: Settings) -> float:
    """Seconds before attempt `attempts + 1`: base, 2 x base, 4 x base..., at most an hour."""
    return float(min(settings.mail_retry_base * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def build_email(message: OutboxMessage, settings: Settings) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message.message_id
    # Transactional mail: out-of-office replies should not answer it.
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.text_body)
    email.add_alternative(message.html_body, subtype="html")
    return email


def _claim(session: Session, outbox_id: int, now: datetime) -> bool:
    stale = now - CLAIM_LEASE
    claimable = or_(
        col(OutboxMessage.status) == "queued",
        and_(col(OutboxMessage.status) == "sending", col(OutboxMessage.claimed_at) < stale),
    )
    result = session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == outbox_id, claimable)
        .values(status="sending", claimed_at=now, attempts=col(OutboxMessage.attempts) + 1)
    )
    return bool(getattr(result, "rowcount", 0))


def deliver(outbox_id: int, *, settings: Settings) -> Delivery:
    """Claim one queued message, send it, mark it sent. Safe to call any number of times."""
    now = utcnow()
    with session_scope(settings) as session:
        before = session.get(OutboxMessage, outbox_id)
        was_stale = before is not None and before.status == "sending"
        if not _claim(session, outbox_id, now):
            state = "missing" if before is None else before.status
            log.info("mail %s not sent by this task: it is %s", outbox_id, state)
            return Delivery(Outcome.SKIPPED)
    with session_scope(settings, readonly=True) as session:
        message = session.get(OutboxMessage, outbox_id)
        assert message is not None
        session.expunge(message)
    if was_stale:
        log.warning(
            "mail %s (%s) was claimed by a worker that never marked it sent: the server may "
            "already have it; sending again with the same Message-ID",
            outbox_id,
            message.message_id,
        )
    try:
        send_email(build_email(message, settings), settings, name=f"{outbox_id:08d}")
    except Exception as exc:
        return _failed(outbox_id, now, message.attempts, exc, settings)
    try:
        with session_scope(settings) as session:
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == outbox_id, col(OutboxMessage.claimed_at) == now)
                .values(status="sent", sent_at=utcnow(), last_error=None)
            )
    except Exception:
        # The one window for a duplicate: the server has the message, the row does not say so.
        log.error(
            "mail %s (%s) was accepted by the mail server but could not be marked sent; it "
            "will be sent again with the same Message-ID after %s",
            outbox_id,
            message.message_id,
            CLAIM_LEASE,
            exc_info=True,
        )
        raise
    log.info("mail %s sent to %s (%s)", outbox_id, message.to_address, message.kind)
    return Delivery(Outcome.SENT)


def _failed(
    outbox_id: int, claimed_at: datetime, attempts: int, exc: Exception, settings: Settings
) -> Delivery:
    error = f"{exc.__class__.__name__}: {exc}"[:2000]
    permanent = isinstance(exc, PermanentFailure) or attempts >= settings.mail_max_attempts
    delay = backoff(attempts, settings)
    with session_scope(settings) as session:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == outbox_id, col(OutboxMessage.claimed_at) == claimed_at)
            .values(
                status="failed" if permanent else "queued",
                last_error=error,
                next_attempt_at=None if permanent else utcnow() + timedelta(seconds=delay),
            )
        )
    if permanent:
        log.error("mail %s failed for good after %s attempt(s): %s", outbox_id, attempts, error)
        return Delivery(Outcome.FAILED, error=error)
    log.warning("mail %s attempt %s failed (%s); next in %.0f s", outbox_id, attempts, error, delay)
    return Delivery(Outcome.RETRY, retry_in=delay, error=error)


def send_email(email: EmailMessage, settings: Settings, *, name: str) -> None:
    """Through `MAIL_URL`, or into `instance/mail/{name}.eml` when there is none."""
    if settings.mail_url is None:
        _write_eml(email, settings.mail_dir / f"{name}.eml")
        return
    try:
        _smtp_send(settings.mail_url, email, ca_file=settings.mail_ca_file)
    except smtplib.SMTPAuthenticationError as exc:
        # Retried like any other failure: a password being changed on both sides heals.
        said = exc.smtp_error
        said = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
        raise MailServerRefusedLogin(
            f"the mail server refused the user name and password in MAIL_URL "
            f"({exc.smtp_code} {said})"
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        raise UntrustedMailServer(
            f"the mail server's certificate is not trusted ({exc.verify_message}); for a "
            "private CA, set MAIL_CA_FILE to its certificate"
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(500 <= code < 600 for code in codes):
            raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
        raise
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        raise


def _write_eml(email: EmailMessage, path: Path) -> None:
    # The same message always goes to the same file, written whole or not at all.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(email.as_bytes())
    os.replace(temporary, path)


def _smtp_send(url: str, email: EmailMessage, *, ca_file: Path | None = None) -> None:
    parts = urlsplit(url)
    secure = parts.scheme == "smtps"
    host = parts.hostname or "localhost"
    port = parts.port or (465 if secure else 25)
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else ""
    # Certificate and host name always checked; MAIL_CA_FILE adds CAs to the system's.
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    smtp: smtplib.SMTP
    if secure:
        smtp = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
    with smtp:
        smtp.ehlo()
        if not secure and user and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        if user:
            smtp.login(user, password)
        smtp.send_message(email)


# --- the sweep -----------------------------------------------------------------------------


def sweep_outbox(*, settings: Settings, grace: float = 60.0, limit: int = 1000) -> list[int]:
    """Enqueue messages the broker may have lost; returns their ids.

    Queued messages whose last enqueue (or retry time) is more than `grace` seconds past,
    and messages claimed longer than `CLAIM_LEASE` ago by a worker that never finished.
    Each is moved on with a conditional UPDATE first, so two sweeps do not both enqueue it.
    """
    now = utcnow()
    due = now - timedelta(seconds=grace)
    stale = now - CLAIM_LEASE
    waiting = and_(
        col(OutboxMessage.next_attempt_at) < due,
        or_(
            col(OutboxMessage.status) == "queued",
            and_(col(OutboxMessage.status) == "sending", col(OutboxMessage.claimed_at) < stale),
        ),
    )
    found: list[int] = []
    with session_scope(settings) as session:
        ids = session.exec(
            select(OutboxMessage.id).where(waiting).order_by(col(OutboxMessage.id)).limit(limit)
        ).all()
        for outbox_id in ids:
            moved = session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == outbox_id, waiting)
                .values(next_attempt_at=now)
            )
            if getattr(moved, "rowcount", 0) and outbox_id is not None:
                found.append(outbox_id)
    if found:
        log.info("outbox sweep enqueues mail %s", found)
        enqueue_messages(settings, found)
    return found


def dispatch(*, settings: Settings, ids: list[int]) -> None:
    """One send task per message of a large batch (run by a worker, not the web)."""
    for outbox_id in ids:
        enqueue(settings, SEND_MAIL_TASK, outbox_id)
