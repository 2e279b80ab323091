"""A second factor: TOTP (RFC 6238, 30 s, 6 digits) and ten single-use recovery codes."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

import pyotp
import segno
from sqlmodel import Session, col, delete, select

from placement import auth
from placement.errors import Conflict, WrongCode
from placement.models import RecoveryCode, User, utcnow
from placement.services.account_notices import security_notice
from placement.services.common import audit

ISSUER = "Placement"
RECOVERY_CODES = 10
# One step either side: a phone clock a little off still works.
VALID_WINDOW = 1
WRONG_CODE = "That code is not right; enter the current 6-digit code from your app."


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str

    @property
    def qr_svg(self) -> str:
        """The URI as a QR code, an inline SVG (made here: no network)."""
        return str(
            segno.make(self.otpauth_uri, error="m").svg_inline(
                scale=4, dark="#0b0c0c", light="#ffffff", title="QR code for your authenticator app"
            )
        )


def _uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def pending(user: User) -> Enrolment | None:
    """The enrolment waiting for its first code, if any."""
    if user.mfa_pending_secret is None:
        return None
    return Enrolment(user.mfa_pending_secret, _uri(user, user.mfa_pending_secret))


def start(*, session: Session, user: User) -> Enrolment:
    """A new secret, pending until a code from it is confirmed; 409 while MFA is on."""
    if user.mfa_enabled:
        raise Conflict("Two-step sign-in is already on; turn it off first to change it.")
    secret = pyotp.random_base32()
    user.mfa_pending_secret = secret
    session.commit()
    return Enrolment(secret, _uri(user, secret))


def _step_of(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step a code is valid for (within the window), not used before."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(utcnow())
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def confirm(*, session: Session, user: User, code: str, ip: str | None = None) -> list[str]:
    """Turn MFA on with the pending secret once a code from it is right; the ten recovery
    codes, shown this once (only their hashes are kept)."""
    if user.mfa_enabled:
        raise Conflict("Two-step sign-in is already on.")
    if user.mfa_pending_secret is None:
        raise Conflict("Start setting up two-step sign-in first.")
    step = _step_of(user.mfa_pending_secret, code, None)
    if step is None:
        raise WrongCode(WRONG_CODE)
    user.mfa_secret = user.mfa_pending_secret
    user.mfa_pending_secret = None
    user.mfa_enabled_at = utcnow()
    user.mfa_last_step = step
    codes = _new_recovery_codes(session, user)
    security_notice(session, user, "two-step sign-in was turned on")
    audit(session, actor=user, action="mfa.enable", object_type="user", object_id=user.id, ip=ip)
    session.commit()
    return codes


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    assert user.id is not None
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    for code in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=auth.token_hash(code)))
    return codes


def check(*, session: Session, user: User, code: str) -> bool:
    """Whether `code` is a current TOTP code not used before, or an unused recovery code
    (which is then used up). The caller commits."""
    if user.mfa_secret is None:
        return True
    step = _step_of(user.mfa_secret, code, user.mfa_last_step)
    if step is not None:
        user.mfa_last_step = step
        return True
    cleaned = code.strip().lower()
    if not cleaned or len(cleaned) > 40:
        return False
    row = session.exec(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == auth.token_hash(cleaned),
            col(RecoveryCode.used_at).is_(None),
        )
    ).first()
    if row is None:
        return False
    row.used_at = utcnow()
    return True


def disable(*, session: Session, user: User, code: str, ip: str | None = None) -> None:
    """Turn MFA off, with a current code (or a recovery code) as proof."""
    if not user.mfa_enabled:
        raise Conflict("Two-step sign-in is not on.")
    if not check(session=session, user=user, code=code):
        raise WrongCode(WRONG_CODE)
    user.mfa_secret = None
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    assert user.id is not None
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    security_notice(session, user, "two-step sign-in was turned off")
    audit(session, actor=user, action="mfa.disable", object_type="user", object_id=user.id, ip=ip)
    session.commit()


def enable_now(*, session: Session, user: User) -> tuple[Enrolment, list[str]]:
    """For the command line: MFA on at once with a new secret, and its recovery codes."""
    secret = pyotp.random_base32()
    user.mfa_secret = secret
    user.mfa_pending_secret = None
    user.mfa_enabled_at = utcnow()
    codes = _new_recovery_codes(session, user)
    audit(session, actor=None, action="mfa.enable", object_type="user", object_id=user.id)
    session.commit()
    return Enrolment(secret, _uri(user, secret)), codes
