"""Accounts that belong to whoever proves the address: registration and invitations by
link, sign-in (with the one login limiter and an optional second factor), passwords,
sign-out, and the caller's own account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from placement import auth
from placement.config import Settings
from placement.errors import InvalidInput, InvalidLink, MfaRequired, Unauthorized, WrongPassword
from placement.models import (
    EmailLink,
    OutboxMessage,
    Round,
    RoundTrainee,
    Trainee,
    User,
    utcnow,
)
from placement.services import mfa, sessions, throttle
from placement.services.account_notices import security_notice
from placement.services.common import audit, get_round, organisation_of, require_role
from placement.services.mail import queue_mail
from placement.services.sessions import Credential, Kind
from placement.services.users import (
    check_details,
    create_user,
    normalise_email,
    unclaimed_profile,
    user_by_email,
)

SELF_SERVICE_ROLES = ("trainee", "employer")
BAD_CREDENTIALS = "Invalid email or password."
CONFIRM_FIRST = (
    "Confirm your email address before you sign in: we have sent a link to it. "
    "The link lets you choose a new password."
)
CHECK_EMAIL = (
    "Check your email: we have sent a message to that address with what to do next. "
    "The link in it works for 48 hours."
)
RESET_SENT = (
    "If an account uses that address, we have sent it a link to choose a new password. "
    "The link works for 24 hours."
)
ACCOUNT_LINK_LIFETIME = timedelta(hours=48)
RESET_LINK_LIFETIME = timedelta(hours=24)
# Mail about accounts to one address: at most this many an hour (the rest is dropped
# silently: the answer must not reveal anything).
MAIL_PER_ADDRESS_PER_HOUR = 5
# A coordinator pressing "invite" twice does not mail a trainee twice.
INVITE_AGAIN_AFTER = timedelta(hours=1)
ACCOUNT_MAIL_KINDS = (
    "verify_email",
    "account_exists",
    "confirm_email",
    "password_reset",
    "invitation",
)
SETTINGS_KEY = "placement_settings"


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


@dataclass(frozen=True)
class LinkInfo:
    """What a page may show about a live link before it is used."""

    purpose: str
    email: str
    name: str


def _settings(session: Session) -> Settings | None:
    value = session.info.get(SETTINGS_KEY)
    return value if isinstance(value, Settings) else None


def _base_url(session: Session) -> str:
    settings = _settings(session)
    return (settings.base_url if settings else Settings.base_url).rstrip("/")


# --- links ---------------------------------------------------------------------------


def _new_link(
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


def _link_row(session: Session, token: str, purposes: tuple[str, ...]) -> EmailLink | None:
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
    row = _link_row(session, token, purposes)
    return LinkInfo(row.purpose, row.email, row.name) if row else None


def _use_link(session: Session, token: str, purposes: tuple[str, ...]) -> EmailLink:
    """Spend a live link, once: of two requests racing with one link, one wins."""
    row = _link_row(session, token, purposes)
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


def _retire_links(session: Session, email: str, purposes: tuple[str, ...]) -> None:
    session.execute(
        update(EmailLink)
        .where(
            col(EmailLink.email) == email,
            col(EmailLink.purpose).in_(purposes),
            col(EmailLink.used_at).is_(None),
        )
        .values(used_at=utcnow())
    )


def _mail_limited(session: Session, address: str) -> bool:
    since = utcnow() - timedelta(hours=1)
    sent = session.exec(
        select(func.count()).where(
            OutboxMessage.to_address == address,
            col(OutboxMessage.kind).in_(ACCOUNT_MAIL_KINDS),
            col(OutboxMessage.created_at) > since,
        )
    ).one()
    return int(sent) >= MAIL_PER_ADDRESS_PER_HOUR


def _mail(
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


def _mail_account_exists(session: Session, user: User) -> None:
    base = _base_url(session)
    _mail(
        session,
        to=user.email,
        kind="account_exists",
        name=user.name,
        user_id=user.id,
        sign_in_url=f"{base}/sign-in",
        reset_url=f"{base}/password-reset",
    )


def _mail_user_link(
    session: Session, user: User, *, purpose: str, lifetime: timedelta, kind: str, path: str
) -> None:
    """A single-use link for an existing account, mailed to its stored address."""
    assert user.id is not None
    token = _new_link(
        session,
        purpose=purpose,
        email=user.email,
        lifetime=lifetime,
        name=user.name,
        role=user.role,
        user_id=user.id,
    )
    _mail(
        session,
        to=user.email,
        kind=kind,
        name=user.name,
        user_id=user.id,
        link=f"{_base_url(session)}{path}?token={token}",
    )


def _mail_confirm(session: Session, user: User) -> None:
    _mail_user_link(
        session,
        user,
        purpose="confirm",
        lifetime=ACCOUNT_LINK_LIFETIME,
        kind="confirm_email",
        path="/verify",
    )


# --- registration and invitations ------------------------------------------------------


def register(*, session: Session, email: str, name: str, role: str, ip: str | None = None) -> str:
    """Start a sign-up: mail a link to the address and answer the same whatever it is.

    No account exists until the link is used (`verify`). If the address already has an
    account, the mail says so and offers sign-in and a reset. A `trainee` registration
    for an imported trainee's address claims that profile when the link is used.
    """
    email = check_details(email=email, name=name, role=role, roles=SELF_SERVICE_ROLES)
    existing = user_by_email(session, email)
    address = existing.email if existing else email
    if _mail_limited(session, address):
        return CHECK_EMAIL
    if existing is not None:
        _mail_account_exists(session, existing)
    else:
        profile = unclaimed_profile(session, email) if role == "trainee" else None
        token = _new_link(
            session,
            purpose="register",
            email=(profile.email or email) if profile else email,
            lifetime=ACCOUNT_LINK_LIFETIME,
            name=name.strip(),
            role=role,
            trainee_id=profile.id if profile else None,
        )
        _mail(
            session,
            to=(profile.email or email) if profile else email,
            kind="verify_email",
            name=name.strip(),
            link=f"{_base_url(session)}/verify?token={token}",
            claims_profile=profile is not None,
        )
    audit(session, actor=None, action="account.register_request", object_type="email", ip=ip)
    session.commit()
    return CHECK_EMAIL


def resend_verification(*, session: Session, email: str, ip: str | None = None) -> str:
    """Send a fresh link for an earlier registration or invitation (same answer always)."""
    email = normalise_email(email)
    if "\x00" in email:
        return CHECK_EMAIL
    existing = user_by_email(session, email)
    if existing is not None:
        if not _mail_limited(session, existing.email):
            if existing.email_verified_at is None:
                _mail_confirm(session, existing)
            else:
                _mail_account_exists(session, existing)
            session.commit()
        return CHECK_EMAIL
    earlier = session.exec(
        select(EmailLink)
        .where(EmailLink.email == email, col(EmailLink.purpose).in_(("register", "invite")))
        .order_by(col(EmailLink.id).desc())
    ).first()
    if earlier is None or _mail_limited(session, email):
        return CHECK_EMAIL
    token = _new_link(
        session,
        purpose=earlier.purpose,
        email=earlier.email,
        lifetime=ACCOUNT_LINK_LIFETIME,
        name=earlier.name,
        role=earlier.role,
        trainee_id=earlier.trainee_id,
    )
    _mail(
        session,
        to=earlier.email,
        kind="verify_email",
        name=earlier.name,
        link=f"{_base_url(session)}/verify?token={token}",
        claims_profile=earlier.trainee_id is not None,
    )
    session.commit()
    return CHECK_EMAIL


def invite_round(*, session: Session, actor: User, round_id: int, ip: str | None = None) -> int:
    """Mail an invitation link to every imported trainee of the round who has no account;
    how many were sent."""
    require_role(actor, "coordinator")
    rnd: Round = get_round(session, round_id, actor=actor)
    profiles = session.exec(
        select(Trainee)
        .join(RoundTrainee, col(RoundTrainee.trainee_id) == Trainee.id)
        .where(
            RoundTrainee.round_id == rnd.id,
            col(Trainee.user_id).is_(None),
            col(Trainee.email).is_not(None),
            col(Trainee.erased_at).is_(None),
        )
        .order_by(col(Trainee.id))
    ).all()
    recent = utcnow() - INVITE_AGAIN_AFTER
    sent = 0
    for profile in profiles:
        assert profile.email is not None
        email = normalise_email(profile.email)
        if user_by_email(session, email) is not None:
            continue
        invited = session.exec(
            select(EmailLink.id).where(
                EmailLink.email == profile.email,
                EmailLink.purpose == "invite",
                col(EmailLink.created_at) > recent,
            )
        ).first()
        if invited is not None:
            continue
        token = _new_link(
            session,
            purpose="invite",
            email=profile.email,
            lifetime=ACCOUNT_LINK_LIFETIME,
            name=profile.name,
            role="trainee",
            trainee_id=profile.id,
        )
        _mail(
            session,
            to=profile.email,
            kind="invitation",
            name=profile.name,
            link=f"{_base_url(session)}/verify?token={token}",
            round_name=rnd.name,
        )
        sent += 1
    audit(
        session,
        actor=actor,
        action="round.invite",
        object_type="round",
        object_id=rnd.id,
        ip=ip,
        sent=sent,
    )
    session.commit()
    return sent


def verify(
    *, session: Session, token: str, password: str, kind: Kind = "api", ip: str | None = None
) -> SignedIn:
    """Use a registration, invitation or confirmation link: the holder chooses the
    password and is signed in. 400 for a bad, used or expired link; 422 weak password."""
    purposes = ("register", "invite", "confirm")
    row = _link_row(session, token, purposes)
    if row is None:
        raise InvalidLink()
    problem = auth.password_problem(password)
    if problem:
        raise InvalidInput(errors={"password": [problem]})
    if row.purpose != "confirm" and user_by_email(session, row.email) is not None:
        raise InvalidLink("An account already uses this address: sign in, or reset your password.")
    link = _use_link(session, token, purposes)
    now = utcnow()
    if link.purpose == "confirm":
        user = session.get(User, link.user_id) if link.user_id is not None else None
        if user is None or not user.is_active:
            raise InvalidLink()
        user.password_hash = auth.hash_password(password)
        user.password_changed_at = now
        user.email_verified_at = now
        assert user.id is not None
        sessions.revoke_all(session=session, user_id=user.id)
        action = "account.confirm"
    else:
        user = create_user(
            session=session,
            email=link.email,
            name=link.name or link.email,
            role=link.role,
            password=password,
            commit=False,
        )
        _retire_links(session, link.email, ("register", "invite"))
        action = "account.register"
    audit(session, actor=user, action=action, object_type="user", object_id=user.id, ip=ip)
    return _sign_in(session, user, kind, ip)


# --- signing in and out ------------------------------------------------------------------


def _sign_in(session: Session, user: User, kind: Kind, ip: str | None) -> SignedIn:
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


def _fail(
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
        _fail(session, email=address, ip=where, user=user)
        raise Unauthorized(BAD_CREDENTIALS)
    if user.email_verified_at is None:
        if not _mail_limited(session, user.email):
            _mail_confirm(session, user)
        session.commit()
        raise Unauthorized(CONFIRM_FIRST)
    if user.mfa_enabled:
        if not otp:
            raise MfaRequired(user_id=user.id)
        if not mfa.check(session=session, user=user, code=otp):
            _fail(session, email=address, ip=where, user=user, kind="otp")
            raise MfaRequired(
                "That code is not right. " + MfaRequired.default_message, user_id=user.id
            )
    return _sign_in(session, user, kind, ip)


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
        _fail(session, email=user.email, ip=where, user=user, kind="otp")
        raise MfaRequired("That code is not right. " + MfaRequired.default_message)
    return _sign_in(session, user, "web", ip)


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


# --- passwords ---------------------------------------------------------------------------


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
        _fail(session, email=actor.email, ip=where, user=actor)
        raise WrongPassword()
    problem = auth.password_problem(new_password)
    if problem:
        raise InvalidInput(errors={"new_password": [problem]})
    actor.password_hash = auth.hash_password(new_password)
    actor.password_changed_at = utcnow()
    assert actor.id is not None
    sessions.revoke_all(session=session, user_id=actor.id, keep=keep)
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
    if user is not None and user.is_active and not _mail_limited(session, user.email):
        _mail_user_link(
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
    row = _link_row(session, token, ("reset",))
    if row is None:
        raise InvalidLink()
    problem = auth.password_problem(password)
    if problem:
        raise InvalidInput(errors={"password": [problem]})
    link = _use_link(session, token, ("reset",))
    user = session.get(User, link.user_id) if link.user_id is not None else None
    if user is None or not user.is_active:
        raise InvalidLink()
    now = utcnow()
    user.password_hash = auth.hash_password(password)
    user.password_changed_at = now
    if user.email_verified_at is None:
        user.email_verified_at = now
    assert user.id is not None
    sessions.revoke_all(session=session, user_id=user.id)
    _retire_links(session, user.email, ("reset",))
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


# --- the caller ------------------------------------------------------------------------


def mfa_enrolment_required(*, session: Session, user: User) -> bool:
    """Whether the caller's role must use MFA and they have not turned it on."""
    settings = _settings(session)
    required = settings.require_mfa if settings else ()
    return user.role in required and not user.mfa_enabled


def me(*, session: Session, actor: User) -> Me:
    trainee_id = None
    if actor.role == "trainee":
        profile = session.exec(select(Trainee).where(Trainee.user_id == actor.id)).first()
        trainee_id = profile.id if profile else None
    org = organisation_of(session, actor)
    assert actor.id is not None
    return Me(
        id=actor.id,
        email=actor.email,
        name=actor.name,
        role=actor.role,
        trainee_id=trainee_id,
        organisation_id=org.id if org else None,
        mfa_enabled=actor.mfa_enabled,
    )
