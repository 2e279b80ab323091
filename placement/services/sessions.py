"""Credentials that keep someone signed in: API bearer tokens and page sessions.

Both are random strings of which only a SHA-256 is stored, in two tables: a page
session's id never works as a bearer token, nor a token as a page session. Both end
after `session_idle_hours` without use and `session_max_days` in all, and both go when
the owner signs out everywhere, changes or resets the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, func, inspect, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from placement import auth
from placement.config import Settings
from placement.db import session_settings
from placement.models import ApiToken, User, UTCDateTime, WebSession, utcnow
from placement.services.driver_sql import pg_connection

Kind = Literal["api", "web"]
# Writing last_used_at on every request would turn every read into a write; idle expiry
# is therefore exact to within this much.
TOUCH_INTERVAL = timedelta(minutes=5)
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
    return Lifetime.of(session_settings(session))


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


# What a request needs of its caller; any other column (the password hash, MFA state)
# loads on first use.
CALLER_COLUMNS = ("id", "email", "name", "role", "is_active", "email_verified_at", "mfa_secret")
_resolve_statements: dict[Kind, Any] = {}


def _resolve_statement(kind: Kind) -> Any:
    """The caller's columns and the credential's id and last use, in one query, for a
    live credential only: known, not revoked, within both lifetimes (the cut-offs are
    bound parameters), and an active account with a proved address."""
    if kind not in _resolve_statements:
        users, table = User.__table__, _model(kind).__table__  # type: ignore[attr-defined,union-attr]
        _resolve_statements[kind] = (
            sa_select(*(users.c[name] for name in CALLER_COLUMNS), table.c.id, table.c.last_used_at)
            .join_from(table, users, users.c.id == table.c.user_id)
            .where(
                table.c.token_hash == bindparam("digest"),
                table.c.revoked_at.is_(None),
                table.c.created_at >= bindparam("born_after", type_=UTCDateTime()),
                func.coalesce(table.c.last_used_at, table.c.created_at)
                >= bindparam("used_after", type_=UTCDateTime()),
                users.c.is_active,
                users.c.email_verified_at.is_not(None),
            )
        )
    return _resolve_statements[kind]


def _pg_resolve_sql(kind: Kind) -> str:
    """`_resolve_statement` as Postgres SQL for the driver (the same conditions)."""
    table = _model(kind).__tablename__
    return (
        f"SELECT {', '.join(f'u.{name}' for name in CALLER_COLUMNS)}, c.id, c.last_used_at "
        f"FROM {table} c JOIN users u ON u.id = c.user_id "
        "WHERE c.token_hash = %(digest)s AND c.revoked_at IS NULL "
        "AND c.created_at >= %(born_after)s "
        "AND coalesce(c.last_used_at, c.created_at) >= %(used_after)s "
        "AND u.is_active AND u.email_verified_at IS NOT NULL"
    )


_PG_RESOLVE = {kind: _pg_resolve_sql(kind) for kind in ("api", "web")}
_PG_TOUCH = {
    kind: f"UPDATE {_model(kind).__tablename__} SET last_used_at = %(now)s WHERE id = %(id)s"
    for kind in ("api", "web")
}


def _attached_user(session: Session, values: tuple[Any, ...]) -> User:
    """The caller as a User of `session`, built from `CALLER_COLUMNS` without an ORM
    query: persistent, in the identity map, its other columns loading on first use (as
    `load_only` would leave them)."""
    by_name = dict(zip(CALLER_COLUMNS, values, strict=True))
    if by_name["email_verified_at"] is not None:  # as UTCDateTime reads it
        by_name["email_verified_at"] = by_name["email_verified_at"].astimezone(UTC)
    present = session.identity_map.get(identity_key(User, by_name["id"]))
    if isinstance(present, User):
        return present
    configure_mappers()  # (at once after the first time) the ORM's attributes exist
    user: User = inspect(User).class_manager.new_instance()
    for name, value in by_name.items():
        set_committed_value(user, name, value)
    make_transient_to_detached(user)
    session.add(user)
    return user


def resolve(*, session: Session, kind: Kind, token: str) -> User | None:
    """The user a live token or session belongs to, or None if it is unknown, revoked,
    expired, or its account is inactive or has an unproved address.

    One query (on Postgres, hand-written SQL on the driver: this runs on every request);
    the last use is written (and committed) only when it is older than TOUCH_INTERVAL,
    so most requests read and write nothing else."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = utcnow()
    life = lifetime(session)
    params = {
        "digest": auth.token_hash(token),
        "born_after": now - life.absolute,
        "used_after": now - life.idle,
    }
    pg = pg_connection(session)
    if pg is not None:
        found = pg.execute(_PG_RESOLVE[kind], params).fetchone()
    else:
        found = session.connection().execute(_resolve_statement(kind), params).first()
    if found is None:
        return None
    *caller, credential_id, last_used_at = found
    if last_used_at is None or now - last_used_at > TOUCH_INTERVAL:
        if pg is not None:
            pg.execute(_PG_TOUCH[kind], {"now": now, "id": credential_id})
        else:
            model = _model(kind)
            session.execute(
                update(model).where(col(model.id) == credential_id).values(last_used_at=now),
                execution_options={"synchronize_session": False},
            )
        session.commit()
    return _attached_user(session, tuple(caller))


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
