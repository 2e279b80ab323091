"""Signing in (with the one login limiter and an optional second factor), signing
out, and the caller's own account."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from placement import auth
from placement.db import session_settings
from placement.errors import MfaRequired, Unauthorized
from placement.models import User, utcnow
from placement.services import mfa, sessions, throttle
from placement.services.accounts.links import mail_confirm, mail_limited
from placement.services.common import audit
from placement.services.sessions import Credential, Kind
from placement.services.users import (
    normalise_email,
    user_by_email,
)

BAD_CREDENTIALS = "Invalid email or password."


CONFIRM_FIRST = (
    "Confirm your email address before you sign in: we have sent a link to it. "
    "The link lets you choose a new password."
)


@dataclass(frozen=True)
class SignedIn:
    """A signed-in user and the bearer token or page session id just issued (shown once)."""

    user: User
    token: str


@dataclass(frozen=True)
class Me:
    id: int
    email: str
    name: str
    role: str
    trainee_id: int | None
    organisation_id: int | None
    mfa_enabled: bool


def sign_in(session: Session, user: User, kind: Kind, ip: str | None) -> SignedIn:
    user.last_login_at = utcnow()
    token = sessions.issue(session=session, user=user, kind=kind, ip=ip)
    audit(
        session,
        actor=user,
        action="login.success",
        object_type="user",
        object_id=user.id,
        ip=ip,
        channel=kind,
    )
    session.commit()
    return SignedIn(user=user, token=token)


def record_failure(
    session: Session, *, email: str, ip: str, user: User | None, kind: str = "password"
) -> None:
    throttle.record_failure(session=session, email=email, ip=ip, kind=kind)
    audit(
        session,
        actor=user,
        action="login.fail",
        object_type="user",
        object_id=user.id if user else "",
        ip=ip,
        known_account=user is not None,
        factor=kind,
    )
    session.commit()


def login(
    *,
    session: Session,
    email: str,
    password: str,
    otp: str | None = None,
    ip: str | None = None,
    kind: Kind = "api",
) -> SignedIn:
    """Check the credentials and issue a token (or page session).

    Unknown email and wrong password answer alike, in content and in timing. Only after a
    right password does an account with MFA ask for its code (MfaRequired); a wrong code
    counts as a failure in the same limiter.
    """
    # Counted as typed (normalised); a NUL character cannot go into a Postgres text column.
    address = normalise_email(email).replace("\x00", "")[:254]
    where = ip or "unknown"
    user = user_by_email(session, address)
    throttle.check(session=session, email=address, ip=where, user=user)
    ok = auth.verify_password(user.password_hash if user else auth.DUMMY_HASH, password)
    if user is None or not ok or not user.is_active:
        record_failure(session, email=address, ip=where, user=user)
        raise Unauthorized(BAD_CREDENTIALS)
    if user.email_verified_at is None:
        if not mail_limited(session, user.email):
            mail_confirm(session, user)
        session.commit()
        raise Unauthorized(CONFIRM_FIRST)
    if user.mfa_enabled:
        if not otp:
            raise MfaRequired(user_id=user.id)
        if not mfa.check(session=session, user=user, code=otp):
            record_failure(session, email=address, ip=where, user=user, kind="otp")
            raise MfaRequired(
                "That code is not right. " + MfaRequired.default_message, user_id=user.id
            )
    return sign_in(session, user, kind, ip)


def login_second_step(
    *, session: Session, user_id: int, otp: str, ip: str | None = None
) -> SignedIn:
    """The pages' second step: the password was right a moment ago; now the code."""
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.email_verified_at is None:
        raise Unauthorized(BAD_CREDENTIALS)
    where = ip or "unknown"
    throttle.check(session=session, email=user.email, ip=where, user=user)
    if not mfa.check(session=session, user=user, code=otp):
        record_failure(session, email=user.email, ip=where, user=user, kind="otp")
        raise MfaRequired("That code is not right. " + MfaRequired.default_message)
    return sign_in(session, user, "web", ip)


def issue_token(*, session: Session, user: User, commit: bool = True) -> str:
    """A new bearer token for `user` (tests and tools; sign-in goes through `login`)."""
    token = sessions.issue(session=session, user=user, kind="api")
    if commit:
        session.commit()
    return token


def authenticate(*, session: Session, token: str) -> User | None:
    """The user a live bearer token belongs to, or None."""
    return sessions.resolve(session=session, kind="api", token=token)


def authenticate_session(*, session: Session, session_id: str) -> User | None:
    """The user a live page session belongs to, or None."""
    return sessions.resolve(session=session, kind="web", token=session_id)


def logout(
    *, session: Session, credential: Credential, actor: User | None = None, ip: str | None = None
) -> None:
    """Revoke the token or page session used for this request."""
    if sessions.revoke(session=session, kind=credential.kind, token=credential.token):
        audit(
            session,
            actor=actor,
            action="session.logout",
            object_type="user",
            object_id=actor.id if actor else "",
            ip=ip,
            channel=credential.kind,
        )
    session.commit()


def logout_everywhere(*, session: Session, actor: User, ip: str | None = None) -> int:
    """Revoke every token and page session of the caller."""
    assert actor.id is not None
    count = sessions.revoke_all(session=session, user_id=actor.id)
    audit(
        session,
        actor=actor,
        action="session.logout_all",
        object_type="user",
        object_id=actor.id,
        ip=ip,
        revoked=count,
    )
    session.commit()
    return count


def revoke_all_tokens(*, session: Session, user_id: int) -> None:
    """Revoke every token and page session of a user (erasure, deactivation); the caller
    commits."""
    sessions.revoke_all(session=session, user_id=user_id)


def mfa_enrolment_required(*, session: Session, user: User) -> bool:
    """Whether the caller's role must use MFA and they have not turned it on."""
    settings = session_settings(session)
    required = settings.require_mfa if settings else ()
    return user.role in required and not user.mfa_enabled
