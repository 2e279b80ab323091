"""Sign-up, log-in, bearer tokens and the caller's own account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from placement import auth
from placement.errors import Forbidden, Unauthorized
from placement.models import ApiToken, Trainee, User, utcnow
from placement.services.common import audit, organisation_of
from placement.services.users import create_user, normalise_email

SELF_SERVICE_ROLES = ("trainee", "employer")
BAD_CREDENTIALS = "Invalid email or password."
# Writing last_used_at on every request would turn every read into a write.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class SignedIn:
    """A signed-in user and the bearer token just issued to them (shown once)."""

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


def issue_token(*, session: Session, user: User, commit: bool = True) -> str:
    """A new bearer token for `user`; only its hash is stored."""
    token, digest = auth.new_token()
    assert user.id is not None
    session.add(ApiToken(user_id=user.id, token_hash=digest))
    if commit:
        session.commit()
    else:
        session.flush()
    return token


def register(*, session: Session, email: str, password: str, name: str, role: str) -> SignedIn:
    """Self-service sign-up for trainees and employers; coordinators come from the CLI."""
    if role not in SELF_SERVICE_ROLES:
        raise Forbidden("Only trainee and employer accounts can be registered.")
    user = create_user(
        session=session, email=email, name=name, role=role, password=password, commit=False
    )
    user.last_login_at = utcnow()
    audit(session, actor=user, action="account.register", object_type="user", object_id=user.id)
    token = issue_token(session=session, user=user, commit=False)
    session.commit()
    return SignedIn(user=user, token=token)


def login(*, session: Session, email: str, password: str, ip: str | None = None) -> SignedIn:
    """Check the credentials and issue a token. Unknown email and wrong password answer
    alike, in content and in timing."""
    email = normalise_email(email)
    # No account's email holds a NUL character (and PostgreSQL cannot even compare one).
    user = (
        session.exec(select(User).where(User.email == email)).first()
        if "\x00" not in email
        else None
    )
    ok = auth.verify_password(user.password_hash if user else auth.DUMMY_HASH, password)
    if user is None or not ok or not user.is_active:
        audit(
            session,
            actor=user,
            action="login.fail",
            object_type="user",
            object_id=user.id if user else "",
            ip=ip,
            known_account=user is not None,
        )
        session.commit()
        raise Unauthorized(BAD_CREDENTIALS)
    user.last_login_at = utcnow()
    token = issue_token(session=session, user=user, commit=False)
    session.commit()
    return SignedIn(user=user, token=token)


def authenticate(*, session: Session, token: str) -> User | None:
    """The active user a bearer token belongs to, or None if it is unknown or revoked."""
    if not token or len(token) > 200:
        return None
    row = session.exec(
        select(ApiToken).where(ApiToken.token_hash == auth.token_hash(token))
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:
        row.last_used_at = now
        session.commit()
    return user


def logout(*, session: Session, token: str) -> None:
    """Revoke the bearer token used for this request."""
    row = session.exec(
        select(ApiToken).where(ApiToken.token_hash == auth.token_hash(token))
    ).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()


def revoke_all_tokens(*, session: Session, user_id: int) -> None:
    now = utcnow()
    for row in session.exec(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    ):
        row.revoked_at = now


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
    )
