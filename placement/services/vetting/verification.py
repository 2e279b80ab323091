"""A coordinator's verification of a host, and its lapsing."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from placement.errors import Conflict, InvalidInput
from placement.models import (
    Organisation,
    User,
    Verification,
    utcnow,
)
from placement.services.common import (
    audit,
    changes,
    require_role,
    snapshot,
)
from placement.services.mail import queue_mail
from placement.services.vetting.access import own_organisation, records_of


def _snapshot(session: Session, org: Organisation) -> dict[str, Any]:
    return {
        "name": org.name,
        "website": org.website,
        "accreditations": [
            {
                **snapshot(r, ("standard", "body", "number", "expires_on")),
                "evidence": r.evidence_name,
            }
            for r in records_of(session, org.id or 0)
        ],
    }


def current_verification(session: Session, organisation_id: int) -> Verification | None:
    """The latest verification of a host, lapsed or not."""
    return session.exec(
        select(Verification)
        .where(Verification.organisation_id == organisation_id)
        .order_by(col(Verification.id).desc())
    ).first()


def list_verifications(
    *, session: Session, actor: User, organisation_id: int
) -> list[Verification]:
    require_role(actor, "coordinator")
    own_organisation(session, actor, organisation_id)
    return list(
        session.exec(
            select(Verification)
            .where(Verification.organisation_id == organisation_id)
            .order_by(col(Verification.id).desc())
        )
    )


def verify(session: Session, *, actor: User, org: Organisation, seen: str = "") -> Verification:
    """Record a coordinator's verification of a host (the caller commits). Refused while
    an accreditation record has expired."""
    require_role(actor, "coordinator")
    if len(seen) > 2000:
        raise InvalidInput(errors={"seen": ["must be at most 2000 characters"]})
    today = utcnow().date()
    expired = [
        r.standard
        for r in records_of(session, org.id or 0)
        if r.expires_on is not None and r.expires_on < today
    ]
    if expired:
        raise Conflict(
            f"{', '.join(expired)} has expired; the host must renew or remove it before "
            "it can be verified."
        )
    for previous in session.exec(
        select(Verification).where(
            Verification.organisation_id == org.id, col(Verification.lapsed_at).is_(None)
        )
    ):
        previous.lapsed_at = utcnow()
        previous.lapse_reason = "verified again"
    record = Verification(
        organisation_id=org.id or 0,
        verified_by=actor.id,
        seen=seen.strip(),
        snapshot=_snapshot(session, org),
    )
    session.add(record)
    before = snapshot(org, ("verified",))
    org.verified = True
    session.flush()
    audit(
        session,
        actor=actor,
        action="organisation.verify",
        object_type="organisation",
        object_id=org.id,
        verification_id=record.id,
        seen=record.seen,
        changes=changes(before, org),
    )
    return record


def verify_organisation(
    *, session: Session, actor: User, organisation_id: int, seen: str = ""
) -> Organisation:
    """A coordinator vets a host: who, when and what they saw is kept."""
    require_role(actor, "coordinator")
    org = own_organisation(session, actor, organisation_id)
    verify(session, actor=actor, org=org, seen=seen)
    session.commit()
    return org


def lapse(session: Session, *, actor: User | None, org: Organisation, reason: str) -> bool:
    """Unverify a verified host and say why; coordinators are told. The caller commits.
    Returns whether anything lapsed."""
    if not org.verified:
        return False
    before = snapshot(org, ("verified",))
    org.verified = False
    now = utcnow()
    for record in session.exec(
        select(Verification).where(
            Verification.organisation_id == org.id, col(Verification.lapsed_at).is_(None)
        )
    ):
        record.lapsed_at = now
        record.lapse_reason = reason[:300]
    audit(
        session,
        actor=actor,
        action="organisation.lapse",
        object_type="organisation",
        object_id=org.id,
        reason=reason,
        changes=changes(before, org),
    )
    _tell_coordinators(session, org=org, reason=reason)
    return True


def owner_changed(session: Session, *, actor: User, org: Organisation, what: str) -> None:
    """What the owner changes was not what the coordinator verified."""
    if actor.role == "employer":
        lapse(session, actor=actor, org=org, reason=f"The host {what}.")


def _tell_coordinators(session: Session, *, org: Organisation, reason: str) -> None:
    """Every coordinator hears that a host is no longer verified (mail and notification),
    in the transaction of the change that lapsed it."""
    for user in session.exec(
        select(User)
        .where(User.role == "coordinator", col(User.is_active).is_(True))
        .order_by(col(User.id))
    ):
        queue_mail(
            session,
            to=user.email,
            kind="verification_lapsed",
            user_id=user.id,
            context={
                "recipient_name": user.name,
                "organisation_name": org.name,
                "organisation_id": org.id,
                "reason": reason,
            },
        )
