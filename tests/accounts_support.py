"""Registering as a person would: ask, read the link from the mail that was queued, use it."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from placement.models import OutboxMessage

API = "/api/v1"
LINK_TOKEN = re.compile(r"/(?:verify|password-reset/confirm)\?token=([A-Za-z0-9_\-]+)")


def mails_to(session: Session, address: str, kind: str | None = None) -> list[OutboxMessage]:
    session.expire_all()
    statement = select(OutboxMessage).where(OutboxMessage.to_address == address)
    if kind is not None:
        statement = statement.where(OutboxMessage.kind == kind)
    return list(session.exec(statement.order_by(col(OutboxMessage.id))).all())


def link_token(message: OutboxMessage) -> str:
    """The `token` of the link in a mail (both parts carry the same link)."""
    found = LINK_TOKEN.search(message.text_body)
    assert found, message.text_body
    assert found.group(1) in message.html_body
    return found.group(1)


def last_token(session: Session, address: str, kind: str = "verify_email") -> str:
    messages = mails_to(session, address, kind)
    assert messages, f"no {kind} mail to {address}"
    return link_token(messages[-1])


def register_and_verify(
    client: FlaskClient,
    session: Session,
    *,
    email: str,
    name: str = "New Person",
    role: str = "trainee",
    password: str = "a-long-pass-phrase",
) -> dict[str, Any]:
    """POST /auth/register, then /auth/verify with the mailed link: `{user, token}`."""
    r = client.post(f"{API}/auth/register", json={"email": email, "name": name, "role": role})
    assert r.status_code == 202, r.get_json()
    to = email.strip().lower()
    token = last_token(session, to)
    r = client.post(f"{API}/auth/verify", json={"token": token, "password": password})
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body
