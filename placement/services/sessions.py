"""Credentials that keep someone signed in: API bearer tokens and page sessions.

Both are random strings of which only a SHA-256 is stored, in two tables: a page
session's id never works as a bearer token, nor a token as a page session. Both end
after `session_idle_hours` without use and `session_max_days` in all, and both go when
the owner signs out everywhere, changes or resets the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import update
from sqlmodel import Session, col, select

from placement import auth
from placement.config import Settings
from placement.models import ApiToken, User, WebSession, utcnow

Kind = Literal["api", "web"]
# Writing last_used_at on every request would turn every read into a write; idle expiry
# is therefore exact to within this much.
TOUCH_INTERVAL = timedelta(minutes=5)
SETTINGS_KEY = "placement_settings"
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, settings: Settings | None) -> Lifetime:
        idle = settings.session_idle_hours if settings else Settings.session_idle_hours
        days = settings.session_max_days if settings else Settings.session_max_days
        return cls(timedelta(hours=idle), timedelta(days=days))

    def expired(self, created_at: datetime, last_used_at: datetime | None, now: datetime) -> bool:
        return now - created_at > self.absolute or now - (last_used_at or created_at) > self.idle


@dataclass(frozen=True)
class Credential:
    """The token or session a request came with (kept when the others are revoked)."""

    kind: Kind
    token: str


def _model(kind: Kind) -> type[ApiToken] | type[WebSession]:
    return ApiToken if kind == "api" else WebSession


def _find(session: Session, kind: Kind, token: str) -> ApiToken | WebSession | None:
    digest = auth.token_hash(token)
    if kind == "api":
        return session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    return session.exec(select(WebSession).where(WebSession.token_hash == digest)).first()


def lifetime(session: Session) -> Lifetime:
    value = session.info.get(SETTINGS_KEY)
    return Lifetime.of(value if isinstance(value, Settings) else None)


def issue(*, session: Session, user: User, kind: Kind, ip: str | None = None) -> str:
    """A new bearer token or page session id for `user`, flushed in the caller's
    transaction; the caller commits. Only its hash is stored."""
    token, digest = auth.new_token()
    assert user.id is not None
    if kind == "api":
        session.add(ApiToken(user_id=user.id, token_hash=digest))
    else:
        session.add(WebSession(user_id=user.id, token_hash=digest, ip=(ip or "")[:64] or None))
    session.flush()
    return token


def resolve(*, session: Session, kind: Kind, token: str) -> User | None:
    """The user a live token or session belongs to, or None if it is unknown, revoked,
    expired, or its account is inactive or has an unproved address."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = _find(session, kind, token)
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if lifetime(session).expired(row.created_at, row.last_used_at, now):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or user.email_verified_at is None:
        return None
    if row.last_used_at is None or now - row.last_used_at > TOUCH_INTERVAL:
        row.last_used_at = now
        session.commit()
    return user


def revoke(*, session: Session, kind: Kind, token: str) -> bool:
    """Revoke one token or session; whether it was live. The caller commits."""
    row = _find(session, kind, token)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def revoke_all(*, session: Session, user_id: int, keep: Credential | None = None) -> int:
    """Revoke every token and page session of a user but `keep`; how many. The caller
    commits."""
    now = utcnow()
    count = 0
    kinds: tuple[Kind, ...] = ("api", "web")
    for kind in kinds:
        model = _model(kind)
        statement = update(model).where(
            col(model.user_id) == user_id, col(model.revoked_at).is_(None)
        )
        if keep is not None and keep.kind == kind:
            statement = statement.where(col(model.token_hash) != auth.token_hash(keep.token))
        result = session.execute(statement.values(revoked_at=now))
        count += int(getattr(result, "rowcount", 0) or 0)
    session.expire_all()
    return count
