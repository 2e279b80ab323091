"""Accounts that belong to whoever proves the address: sign-up and invitations by
link, and using such a link."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from placement.errors import InvalidLink
from placement.models import (
    EmailLink,
    Round,
    RoundTrainee,
    Trainee,
    User,
    utcnow,
)
from placement.services.accounts.links import (
    ACCOUNT_LINK_LIFETIME,
    base_url,
    link_row,
    link_user,
    mail_about_account,
    mail_account_exists,
    mail_confirm,
    mail_limited,
    new_link,
    retire_links,
    use_link,
)
from placement.services.accounts.passwords import check_new_password, set_password
from placement.services.accounts.signin import SignedIn, sign_in
from placement.services.common import audit, get_round, require_role
from placement.services.sessions import Kind
from placement.services.users import (
    check_details,
    create_user,
    normalise_email,
    unclaimed_profile,
    user_by_email,
)

SELF_SERVICE_ROLES = ("trainee", "employer")


CHECK_EMAIL = (
    "Check your email: we have sent a message to that address with what to do next. "
    "The link in it works for 48 hours."
)


# A coordinator pressing "invite" twice does not mail a trainee twice.
INVITE_AGAIN_AFTER = timedelta(hours=1)


def register(*, session: Session, email: str, name: str, role: str, ip: str | None = None) -> str:
    """Start a sign-up: mail a link to the address and answer the same whatever it is.

    No account exists until the link is used (`verify`). If the address already has an
    account, the mail says so and offers sign-in and a reset. A `trainee` registration
    for an imported trainee's address claims that profile when the link is used.
    """
    email = check_details(email=email, name=name, role=role, roles=SELF_SERVICE_ROLES)
    existing = user_by_email(session, email)
    address = existing.email if existing else email
    if mail_limited(session, address):
        return CHECK_EMAIL
    if existing is not None:
        mail_account_exists(session, existing)
    else:
        profile = unclaimed_profile(session, email) if role == "trainee" else None
        token = new_link(
            session,
            purpose="register",
            email=(profile.email or email) if profile else email,
            lifetime=ACCOUNT_LINK_LIFETIME,
            name=name.strip(),
            role=role,
            trainee_id=profile.id if profile else None,
        )
        mail_about_account(
            session,
            to=(profile.email or email) if profile else email,
            kind="verify_email",
            name=name.strip(),
            link=f"{base_url(session)}/verify?token={token}",
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
        if not mail_limited(session, existing.email):
            if existing.email_verified_at is None:
                mail_confirm(session, existing)
            else:
                mail_account_exists(session, existing)
            session.commit()
        return CHECK_EMAIL
    earlier = session.exec(
        select(EmailLink)
        .where(EmailLink.email == email, col(EmailLink.purpose).in_(("register", "invite")))
        .order_by(col(EmailLink.id).desc())
    ).first()
    if earlier is None or mail_limited(session, email):
        return CHECK_EMAIL
    token = new_link(
        session,
        purpose=earlier.purpose,
        email=earlier.email,
        lifetime=ACCOUNT_LINK_LIFETIME,
        name=earlier.name,
        role=earlier.role,
        trainee_id=earlier.trainee_id,
    )
    mail_about_account(
        session,
        to=earlier.email,
        kind="verify_email",
        name=earlier.name,
        link=f"{base_url(session)}/verify?token={token}",
        claims_profile=earlier.trainee_id is not None,
    )
    session.commit()
    return CHECK_EMAIL


def invitation_refusal(session: Session, profile: Trainee) -> str | None:
    """Why this imported trainee cannot be invited now, in words; None if they can."""
    if profile.erased_at is not None:
        return "personal data erased"
    if profile.user_id is not None or (
        profile.email and user_by_email(session, normalise_email(profile.email)) is not None
    ):
        return "already has a login"
    if not profile.email:
        return "no email address"
    invited = session.exec(
        select(EmailLink.id).where(
            EmailLink.email == profile.email,
            EmailLink.purpose == "invite",
            col(EmailLink.created_at) > utcnow() - INVITE_AGAIN_AFTER,
        )
    ).first()
    return "invited in the last hour" if invited is not None else None


def send_invitation(session: Session, rnd: Round, profile: Trainee) -> None:
    """Mail the trainee a link to claim their imported profile (the caller commits)."""
    assert profile.email is not None
    token = new_link(
        session,
        purpose="invite",
        email=profile.email,
        lifetime=ACCOUNT_LINK_LIFETIME,
        name=profile.name,
        role="trainee",
        trainee_id=profile.id,
    )
    mail_about_account(
        session,
        to=profile.email,
        kind="invitation",
        name=profile.name,
        link=f"{base_url(session)}/verify?token={token}",
        round_name=rnd.name,
    )


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
    sent = 0
    for profile in profiles:
        if invitation_refusal(session, profile) is None:
            send_invitation(session, rnd, profile)
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
    row = link_row(session, token, purposes)
    if row is None:
        raise InvalidLink()
    check_new_password(password)
    if row.purpose != "confirm" and user_by_email(session, row.email) is not None:
        raise InvalidLink("An account already uses this address: sign in, or reset your password.")
    link = use_link(session, token, purposes)
    if link.purpose == "confirm":
        user = link_user(session, link)
        set_password(session, user, password)
        user.email_verified_at = user.password_changed_at
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
        retire_links(session, link.email, ("register", "invite"))
        action = "account.register"
    audit(session, actor=user, action=action, object_type="user", object_id=user.id, ip=ip)
    return sign_in(session, user, kind, ip)
