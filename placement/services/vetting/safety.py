"""The safety details a host completes before a trainee starts, and their sign-off."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from placement.errors import Conflict, NotFound
from placement.models import (
    Organisation,
    Placement,
    PlacementSafety,
    PlacementStatus,
    Round,
    RoundStatus,
    Slot,
    Trainee,
    User,
    utcnow,
)
from placement.services.common import (
    audit,
    changes,
    require_role,
    snapshot,
    trainee_of,
)
from placement.services.vetting.dbs import DBS_STATUS_FIELDS, checks_of

SAFETY_FIELDS = (
    "supervisor_name",
    "supervisor_contact",
    "induction_arranged",
    "risk_assessment_done",
    "insurance_confirmed",
)


def _placement_for(
    session: Session, actor: User, placement_id: int
) -> tuple[Placement, Slot, Round]:
    require_role(actor, "trainee", "employer", "coordinator")
    found = session.exec(
        select(Placement, Slot, Round)
        .join(Slot, col(Slot.id) == col(Placement.slot_id))
        .join(Round, col(Round.id) == col(Placement.round_id))
        .where(Placement.id == placement_id)
    ).first()
    if found is None:
        raise NotFound("No such placement.")
    placement, slot, rnd = found
    if actor.role == "coordinator":
        return placement, slot, rnd
    if actor.role == "employer":
        org = session.get(Organisation, slot.organisation_id)
        if org is not None and org.owner_id == actor.id:
            return placement, slot, rnd
    if actor.role == "trainee":
        trainee = trainee_of(session, actor)
        if placement.trainee_id == trainee.id and trainee_may_see_safety(placement, rnd):
            return placement, slot, rnd
    raise NotFound("No such placement.")


def trainee_may_see_safety(placement: Placement, rnd: Round) -> bool:
    """The placed trainee sees the safety details once the results are published (and,
    where offers exist, once they accepted theirs)."""
    if rnd.status != RoundStatus.PUBLISHED or placement.status != PlacementStatus.LIVE:
        return False
    offer = getattr(placement, "offer_status", None)
    return offer in (None, "accepted")


def is_safety_complete(safety: PlacementSafety) -> bool:
    return bool(
        safety.supervisor_name.strip()
        and safety.supervisor_contact.strip()
        and safety.induction_arranged
        and safety.risk_assessment_done
        and safety.insurance_confirmed
    )


def get_safety(*, session: Session, actor: User, placement_id: int) -> PlacementSafety:
    """The placement's safety details (blank until the host fills them in)."""
    placement, _, _ = _placement_for(session, actor, placement_id)
    return safety_of(session, placement.id or 0)


def safety_of(session: Session, placement_id: int) -> PlacementSafety:
    found = session.exec(
        select(PlacementSafety).where(PlacementSafety.placement_id == placement_id)
    ).first()
    return found or PlacementSafety(placement_id=placement_id)


def update_safety(
    *, session: Session, actor: User, placement_id: int, values: Mapping[str, Any]
) -> PlacementSafety:
    """The host (or a coordinator) fills in the safety details; a change after the
    coordinator's sign-off withdraws it."""
    require_role(actor, "employer", "coordinator")
    placement, _, _ = _placement_for(session, actor, placement_id)
    if placement.status != PlacementStatus.LIVE:
        raise Conflict("The placement was withdrawn.")
    safety = safety_of(session, placement.id or 0)
    before = snapshot(safety, (*SAFETY_FIELDS, "signed_off_at"))
    for key in SAFETY_FIELDS:
        if key in values:
            setattr(safety, key, values[key])
    edited = changes(before, safety)
    if safety.id is not None and not edited:
        return safety
    safety.updated_by = actor.id
    safety.updated_at = utcnow()
    if safety.signed_off_at is not None and edited:
        safety.signed_off_at = None
        safety.signed_off_by = None
    session.add(safety)
    audit(
        session,
        actor=actor,
        action="placement_safety.update",
        object_type="placement",
        object_id=placement.id,
        changes=changes(before, safety),
    )
    session.commit()
    return safety


def sign_off_safety(*, session: Session, actor: User, placement_id: int) -> PlacementSafety:
    """A coordinator signs off complete safety details."""
    require_role(actor, "coordinator")
    placement, _, _ = _placement_for(session, actor, placement_id)
    safety = safety_of(session, placement.id or 0)
    if safety.id is None or not is_safety_complete(safety):
        raise Conflict(
            "The safety details are not complete: the host must name a supervisor and "
            "their contact, and confirm the induction, risk assessment and insurance."
        )
    if safety.signed_off_at is None:
        before = snapshot(safety, ("signed_off_at",))
        safety.signed_off_at = utcnow()
        safety.signed_off_by = actor.id
        audit(
            session,
            actor=actor,
            action="placement_safety.sign_off",
            object_type="placement",
            object_id=placement.id,
            changes=changes(before, safety),
        )
        session.commit()
    return safety


def export_for(session: Session, trainee: Trainee) -> dict[str, Any]:
    """The trainee's vetting data for their export: DBS checks and their placements'
    safety details (without who at the host or among staff entered them)."""
    checks = [
        snapshot(c, ("id", "certificate_number", "level", "issued_on", "source", "seen_at"))
        for c in checks_of(session, trainee.id or 0)
    ]
    safety = [
        snapshot(s, ("placement_id", *SAFETY_FIELDS, "signed_off_at"))
        for s in session.exec(
            select(PlacementSafety)
            .join(Placement, col(Placement.id) == col(PlacementSafety.placement_id))
            .where(Placement.trainee_id == trainee.id)
            .order_by(col(PlacementSafety.id))
        )
    ]
    return {
        "dbs": {**snapshot(trainee, DBS_STATUS_FIELDS), "checks": checks},
        "placement_safety": safety,
    }
