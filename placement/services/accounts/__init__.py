"""Accounts that belong to whoever proves the address: registration and invitations by
link, sign-in (with the one login limiter and an optional second factor), passwords,
sign-out, and the caller's own account."""

from __future__ import annotations

from placement.services.accounts.links import (
    LinkInfo,
    peek_link,
)
from placement.services.accounts.me import me
from placement.services.accounts.passwords import (
    RESET_SENT,
    change_password,
    confirm_password_reset,
    request_password_reset,
)
from placement.services.accounts.registration import (
    CHECK_EMAIL,
    SELF_SERVICE_ROLES,
    invitation_refusal,
    invite_round,
    register,
    resend_verification,
    send_invitation,
    verify,
)
from placement.services.accounts.signin import (
    BAD_CREDENTIALS,
    CONFIRM_FIRST,
    Me,
    SignedIn,
    authenticate,
    authenticate_session,
    issue_token,
    login,
    login_second_step,
    logout,
    logout_everywhere,
    mfa_enrolment_required,
    revoke_all_tokens,
)

__all__ = [
    "BAD_CREDENTIALS",
    "CHECK_EMAIL",
    "CONFIRM_FIRST",
    "RESET_SENT",
    "SELF_SERVICE_ROLES",
    "LinkInfo",
    "Me",
    "SignedIn",
    "authenticate",
    "authenticate_session",
    "change_password",
    "confirm_password_reset",
    "invitation_refusal",
    "invite_round",
    "issue_token",
    "login",
    "login_second_step",
    "logout",
    "logout_everywhere",
    "me",
    "mfa_enrolment_required",
    "peek_link",
    "register",
    "request_password_reset",
    "resend_verification",
    "revoke_all_tokens",
    "send_invitation",
    "verify",
]
