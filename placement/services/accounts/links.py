"""Single-use links mailed to an address, and the mail about accounts (limited per
address, so nothing can be used to flood a mailbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from placement import auth
from placement.config import Settings
from placement.db import session_settings
from placement.errors import InvalidLink
from placement.models import (
    EmailLink,
    OutboxMessage,
    User,
    utcnow,
)
from placement.services import sessions
from placement.services.mail import queue_mail

ACCOUNT_LINK_LIFETIME = timedelta(hours=48)


RESET_LINK_LIFETIME = timedelta(hours=24)


# Mail about accounts to one address: at most this many an hour (the rest is dropped
# silently: the answer must not reveal anything).
MAIL_PER_ADDRESS_PER_HOUR = 5


ACCOUNT_MAIL_KINDS = (
    "verify_email",
    "account_exists",
    "confirm_email",
    "password_reset",
    "invitation",
)


@dataclass(frozen=True)
class LinkInfo:
    """What a page may show about a live link before it is used."""

    purpose: str
    email: str
    name: str


def base_url(session: Session) -> str:
    settings = session_settings(session)
    return (settings.base_url if settings else Settings.base_url).rstrip("/")


def new_link(
    session: Session,
    *,
    purpose: str,
    email: str,
    lifetime: timedelta,
    name: str = "",
    role: str = "trainee",
    user_id: int | None = None,
    trainee_id: int | None = None,
) -> str:
    token, digest = auth.new_token()
    now = utcnow()
    session.add(
        EmailLink(
            purpose=purpose,
            token_hash=digest,
            email=email,
            name=name,
            role=role,
            user_id=user_id,
            trainee_id=trainee_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


def link_row(session: Session, token: str, purposes: tuple[str, ...]) -> EmailLink | None:
    if not token or len(token) > sessions.MAX_TOKEN_LENGTH or "\x00" in token:
        return None
    row = session.exec(
        select(EmailLink).where(EmailLink.token_hash == auth.token_hash(token))
    ).first()
    if row is None or row.purpose not in purposes or row.used_at is not None:
        return None
    if row.expires_at <= utcnow():
        return None
    return row


def peek_link(*, session: Session, token: str, purposes: tuple[str, ...]) -> LinkInfo | None:
    """A live link's purpose and address, without using it (opening a link in a browser,
    or a mail scanner fetching it, must not spend it)."""
    row = link_row(session, token, purposes)
    return LinkInfo(row.purpose, row.email, row.name) if row else None


def use_link(session: Session, token: str, purposes: tuple[str, ...]) -> EmailLink:
    """Spend a live link, once: of two requests racing with one link, one wins."""
    row = link_row(session, token, purposes)
    if row is None:
        raise InvalidLink()
    result = session.execute(
        update(EmailLink)
        .where(col(EmailLink.id) == row.id, col(EmailLink.used_at).is_(None))
        .values(used_at=utcnow())
    )
    if getattr(result, "rowcount", 0) != 1:
        raise InvalidLink()
    return row


def link_user(session: Session, link: EmailLink) -> User:
    """The active account a spent link belongs to; InvalidLink if it has gone."""
    user = session.get(User, link.user_id) if link.user_id is not None else None
    if user is None or not user.is_active:
        raise InvalidLink()
    return user


def retire_links(session: Session, email: str, purposes: tuple[str, ...]) -> None:
    session.execute(
        update(EmailLink)
        .where(
            col(EmailLink.email) == email,
            col(EmailLink.purpose).in_(purposes),
            col(EmailLink.used_at).is_(None),
        )
        .values(used_at=utcnow())
    )


def mail_limited(session: Session, address: str) -> bool:
    since = utcnow() - timedelta(hours=1)
    sent = session.exec(
        select(func.count()).where(
            OutboxMessage.to_address == address,
            col(OutboxMessage.kind).in_(ACCOUNT_MAIL_KINDS),
            col(OutboxMessage.created_at) > since,
        )
    ).one()
    return int(sent) >= MAIL_PER_ADDRESS_PER_HOUR


def mail_about_account(
    session: Session,
    *,
    to: str,
    kind: str,
    name: str,
    user_id: int | None = None,
    **context: Any,
) -> None:
    # Links that sign someone in stay out of the in-app notifications.
    queue_mail(
        session,
        to=to,
        kind=kind,
        context={"recipient_name": name or "there", **context},
        user_id=user_id,
        notify=False,
    )


def mail_account_exists(session: Session, user: User) -> None:
    base = base_url(session)
    mail_about_account(
        session,
        to=user.email,
        kind="account_exists",
        name=user.name,
        user_id=user.id,
        sign_in_url=f"{base}/sign-in",
        reset_url=f"{base}/password-reset",
    )


def mail_user_link(
    session: Session, user: User, *, purpose: str, lifetime: timedelta, kind: str, path: str
) -> None:
    """A single-use link for an existing account, mailed to its stored address."""
    assert user.id is not None
    token = new_link(
        session,
        purpose=purpose,
        email=user.email,
        lifetime=lifetime,
        name=user.name,
        role=user.role,
        user_id=user.id,
    )
    mail_about_account(
        session,
        to=user.email,
        kind=kind,
        name=user.name,
        user_id=user.id,
        link=f"{base_url(session)}{path}?token={token}",
    )


def mail_confirm(session: Session, user: User) -> None:
    mail_user_link(
        session,
        user,
        purpose="confirm",
        lifetime=ACCOUNT_LINK_LIFETIME,
        kind="confirm_email",
        path="/verify",
    )
