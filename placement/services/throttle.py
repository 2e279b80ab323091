"""The one login limiter, shared by the API and the pages.

It counts failed sign-ins (a wrong password, or a wrong second factor after a right
password) in the database, so every process and both front doors see the same count:

- per (account, address): `ratelimit_login` (default 5 per 15 minutes) slows one
  guesser at one account to a crawl, and touches nobody else;
- per address: ten times that, across accounts (one address spraying many accounts);
- per account, from everywhere: past four times that, each further try must wait twice
  as long as the last (at most `MAX_BACKOFF`). A stranger with many addresses slows the
  account down but cannot shut the owner out for good: a successful sign-in or a
  password reset (whose link is never limited) starts the count again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from limits import parse
from sqlalchemy import func
from sqlmodel import Session, col, select

from placement.config import Settings
from placement.db import session_settings
from placement.errors import TooManyAttempts
from placement.models import LoginFailure, User, utcnow

MAX_BACKOFF = timedelta(minutes=15)
IP_FACTOR = 10
ACCOUNT_FACTOR = 4


@dataclass(frozen=True)
class Limits:
    per_pair: int
    window: timedelta

    @classmethod
    def of(cls, session: Session) -> Limits:
        settings = session_settings(session)
        raw = settings.ratelimit_login if settings else None
        item = parse(raw or Settings.ratelimit_login)
        return cls(per_pair=item.amount, window=timedelta(seconds=item.get_expiry()))


def _since(user: User | None, floor: datetime) -> datetime:
    """Failures before the owner's last sign-in or password change no longer count."""
    marks = [floor]
    if user is not None:
        marks += [t for t in (user.last_login_at, user.password_changed_at) if t is not None]
    return max(marks)


def _count(session: Session, *conditions: Any) -> tuple[int, datetime | None]:
    row = session.exec(select(func.count(), func.max(LoginFailure.at)).where(*conditions)).one()
    return int(row[0]), row[1]


def check(*, session: Session, email: str, ip: str, user: User | None) -> None:
    """Refuse (TooManyAttempts, with seconds to wait) before the password is even looked
    at, when this sign-in would go past a limit."""
    limits = Limits.of(session)
    now = utcnow()
    since = _since(user, now - limits.window)
    pair, last_pair = _count(
        session,
        LoginFailure.email == email,
        LoginFailure.ip == ip,
        col(LoginFailure.at) > since,
    )
    if pair >= limits.per_pair:
        raise TooManyAttempts(retry_after=_wait(last_pair, limits.window, now))
    from_ip, last_ip = _count(
        session, LoginFailure.ip == ip, col(LoginFailure.at) > now - limits.window
    )
    if from_ip >= limits.per_pair * IP_FACTOR:
        raise TooManyAttempts(retry_after=_wait(last_ip, limits.window, now))
    account, last = _count(session, LoginFailure.email == email, col(LoginFailure.at) > since)
    excess = account - limits.per_pair * ACCOUNT_FACTOR
    if excess >= 0 and last is not None:
        backoff = min(timedelta(seconds=2 ** min(excess, 20)), MAX_BACKOFF)
        if now - last < backoff:
            raise TooManyAttempts(retry_after=_wait(last, backoff, now))


def _wait(last: datetime | None, span: timedelta, now: datetime) -> int:
    if last is None:
        return int(span.total_seconds())
    return max(1, int((last + span - now).total_seconds()) + 1)


def record_failure(*, session: Session, email: str, ip: str, kind: str = "password") -> None:
    """Count one failed try; the caller commits."""
    session.add(LoginFailure(email=email[:254], ip=ip[:64], kind=kind))
