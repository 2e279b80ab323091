"""Changing a password, and resetting a forgotten one by link."""

from __future__ import annotations

from sqlmodel import Session

from placement import auth
from placement.errors import InvalidInput, InvalidLink, WrongPassword
from placement.models import (
    User,
    utcnow,
)
from placement.services import sessions, throttle
from placement.services.account_notices import security_notice
from placement.services.accounts.links import (
    RESET_LINK_LIFETIME,
    link_row,
    link_user,
    mail_limited,
    mail_user_link,
    retire_links,
    use_link,
)
from placement.services.accounts.signin import record_failure
from placement.services.common import audit
from placement.services.sessions import Credential
from placement.services.users import (
    user_by_email,
)

RESET_SENT = (
    "If an account uses that address, we have sent it a link to choose a new password. "
    "The link works for 24 hours."
)


def check_new_password(password: str, *, field: str = "password") -> None:
    """InvalidInput (422) naming `field` for a password too weak to keep."""
    problem = auth.password_problem(password)
    if problem:
        raise InvalidInput(errors={field: [problem]})


def set_password(
    session: Session, user: User, password: str, *, keep: Credential | None = None
) -> None:
    """Store a checked new password; every token and page session of the user but `keep`
    ends (the caller commits)."""
    user.password_hash = auth.hash_password(password)
    user.password_changed_at = utcnow()
    assert user.id is not None
    sessions.revoke_all(session=session, user_id=user.id, keep=keep)


def change_password(
    *,
    session: Session,
    actor: User,
    current_password: str,
    new_password: str,
    keep: Credential | None,
    ip: str | None = None,
) -> None:
    """Change the password with the current one; every other token and session ends."""
    where = ip or "unknown"
    throttle.check(session=session, email=actor.email, ip=where, user=actor)
    if not auth.verify_password(actor.password_hash, current_password):
        record_failure(session, email=actor.email, ip=where, user=actor)
        raise WrongPassword()
    check_new_password(new_password, field="new_password")
    set_password(session, actor, new_password, keep=keep)
    security_notice(session, actor, "your password was changed", signed_out=True)
    audit(
        session,
        actor=actor,
        action="password.change",
        object_type="user",
        object_id=actor.id,
        ip=ip,
    )
    session.commit()


def request_password_reset(*, session: Session, email: str, ip: str | None = None) -> str:
    """Mail a reset link if an account uses the address; the same answer either way."""
    user = user_by_email(session, email)
    if user is not None and user.is_active and not mail_limited(session, user.email):
        mail_user_link(
            session,
            user,
            purpose="reset",
            lifetime=RESET_LINK_LIFETIME,
            kind="password_reset",
            path="/password-reset/confirm",
        )
        audit(
            session,
            actor=user,
            action="password.reset_request",
            object_type="user",
            object_id=user.id,
            ip=ip,
        )
        session.commit()
    return RESET_SENT


def confirm_password_reset(
    *, session: Session, token: str, password: str, ip: str | None = None
) -> User:
    """Set a new password with a reset link; every token and session of the user ends.
    The link proves the address too. Never limited by the login limiter: it is how an
    owner gets back in while a stranger hammers the account."""
    row = link_row(session, token, ("reset",))
    if row is None:
        raise InvalidLink()
    check_new_password(password)
    user = link_user(session, use_link(session, token, ("reset",)))
    set_password(session, user, password)
    if user.email_verified_at is None:
        user.email_verified_at = user.password_changed_at
    retire_links(session, user.email, ("reset",))
    security_notice(session, user, "your password was reset", signed_out=True)
    audit(
        session,
        actor=user,
        action="password.reset",
        object_type="user",
        object_id=user.id,
        ip=ip,
    )
    session.commit()
    return user
