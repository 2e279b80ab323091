"""A second factor: TOTP (RFC 6238, 30 s, 6 digits) and ten single-use recovery codes.

The secrets are stored encrypted (placement/encryption.py); only this module reads them."""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass

import pyotp
import segno
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, delete, select

from placement import auth, encryption
from placement.config import Settings
from placement.db import session_settings
from placement.errors import Conflict, WrongCode
from placement.models import RecoveryCode, User, utcnow
from placement.services.account_notices import security_notice
from placement.services.common import audit

log = logging.getLogger(__name__)

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


def _keys(session: Session) -> tuple[str, ...]:
    settings = session_settings(session)
    if settings is None:
        raise RuntimeError("the session carries no settings, so no encryption key")
    return settings.encryption_keys


def _seal(session: Session, secret: str) -> str:
    return encryption.encrypt(_keys(session), secret)


def _open(session: Session, user: User, stored: str) -> str:
    """The plain secret; SecretUnreadable (503, logged) when no configured key opens it."""
    try:
        return encryption.decrypt(_keys(session), stored)
    except encryption.SecretUnreadable:
        log.error(
            "the TOTP secret of user %s does not decrypt with PLACEMENT_ENCRYPTION_KEY (or "
            "SECRET_KEY): the keys are not the ones it was stored with",
            user.id,
        )
        raise


def _uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def pending(user: User, *, session: Session | None = None) -> Enrolment | None:
    """The enrolment waiting for its first code, if any (`session`: the user's own)."""
    if user.mfa_pending_secret is None:
        return None
    own = session or object_session(user)
    if not isinstance(own, Session):
        raise RuntimeError("pending() needs the session the user was loaded in")
    secret = _open(own, user, user.mfa_pending_secret)
    return Enrolment(secret, _uri(user, secret))


def start(*, session: Session, user: User) -> Enrolment:
    """A new secret, pending until a code from it is confirmed; 409 while MFA is on."""
    if user.mfa_enabled:
        raise Conflict("Two-step sign-in is already on; turn it off first to change it.")
    secret = pyotp.random_base32()
    user.mfa_pending_secret = _seal(session, secret)
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
    step = _step_of(_open(session, user, user.mfa_pending_secret), code, None)
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
    step = _step_of(_open(session, user, user.mfa_secret), code, user.mfa_last_step)
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
    user.mfa_secret = _seal(session, secret)
    user.mfa_pending_secret = None
    user.mfa_enabled_at = utcnow()
    codes = _new_recovery_codes(session, user)
    audit(session, actor=None, action="mfa.enable", object_type="user", object_id=user.id)
    session.commit()
    return Enrolment(secret, _uri(user, secret)), codes


def secret_of(*, session: Session, user: User) -> str | None:
    """The plain TOTP secret in use (the command line and tests), or None."""
    return None if user.mfa_secret is None else _open(session, user, user.mfa_secret)


def rotate_keys(*, session: Session, settings: Settings) -> int:
    """Re-encrypt every stored TOTP secret with the first configured key (after a new key
    was put first in PLACEMENT_ENCRYPTION_KEY); returns how many users had one. Stops with
    SecretUnreadable, changing nothing, when a secret opens with none of the keys. Plain-text
    secrets (from before encryption) are encrypted too."""
    keys = settings.encryption_keys
    users = session.exec(
        select(User).where(
            col(User.mfa_secret).is_not(None) | col(User.mfa_pending_secret).is_not(None)
        )
    ).all()
    for user in users:
        for name in ("mfa_secret", "mfa_pending_secret"):
            stored = getattr(user, name)
            if stored is None:
                continue
            if encryption.is_encrypted(stored):
                new = encryption.rotate(keys, stored)
            else:
                new = encryption.encrypt(keys, stored)
            setattr(user, name, new)
    session.commit()
    return len(users)
