"""Telling an account's owner that how it signs in has changed (mail and in-app)."""

from __future__ import annotations

from sqlmodel import Session

from placement.models import User, utcnow
from placement.services.mail import queue_mail


def security_notice(session: Session, user: User, change: str, *, signed_out: bool = False) -> None:
    """Queue the notice in the caller's transaction: if it was not the owner, they learn
    of it and can reset the password."""
    now = utcnow()
    queue_mail(
        session,
        to=user.email,
        kind="security_notice",
        context={
            "recipient_name": user.name,
            "change": change,
            "when": f"{now.day} {now:%b %Y} at {now:%H:%M}",
            "signed_out": signed_out,
        },
        user_id=user.id,
    )
