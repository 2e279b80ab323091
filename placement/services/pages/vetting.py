"""Read models of the vetting pages: a host's accreditations (theirs and the
coordinator's view), a trainee's DBS record (theirs and the coordinator's), and a
placement's safety details."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from placement.errors import NotFound
from placement.models import (
    Accreditation,
    DbsCheck,
    Organisation,
    Placement,
    PlacementSafety,
    PlacementStatus,
    Round,
    RoundStatus,
    Slot,
    Trainee,
    User,
    Verification,
    utcnow,
)
from placement.services import vetting
from placement.services.common import organisation_of, require_role, trainee_of

MATCHABLE = (RoundStatus.DRAFT, RoundStatus.OPEN, RoundStatus.CLOSED)


@dataclass(frozen=True)
class RecordView:
    record: Accreditation
    status: str  # "current", "to complete" or "expired"


def _status(record: Accreditation, today: date) -> str:
    if record.expires_on is not None and record.expires_on < today:
        return "expired"
    return "current" if vetting.is_complete(record) else "to complete"


def _record_views(session: Session, organisation_id: int) -> list[RecordView]:
    today = utcnow().date()
    return [
        RecordView(record, _status(record, today))
        for record in session.exec(
            select(Accreditation)
            .where(Accreditation.organisation_id == organisation_id)
            .order_by(col(Accreditation.id))
        )
    ]


@dataclass(frozen=True)
class OwnAccreditations:
    org: Organisation | None
    records: list[RecordView]
    lapse_reason: str | None  # why it is no longer verified, when it was before


def own_accreditations(session: Session, actor: User) -> OwnAccreditations:
    """The employer's organisation with its accreditation records."""
    require_role(actor, "employer")
    org = organisation_of(session, actor)
    if org is None or org.id is None:
        return OwnAccreditations(None, [], None)
    latest = vetting.current_verification(session, org.id)
    reason = latest.lapse_reason if latest is not None and not org.verified else None
    return OwnAccreditations(org, _record_views(session, org.id), reason)


@dataclass(frozen=True)
class AccreditationForm:
    org: Organisation
    record: Accreditation | None  # None: a new record


def accreditation_form(
    session: Session, actor: User, accreditation_id: int | None
) -> AccreditationForm:
    """An employer's own record to change, or their organisation for a new one."""
    require_role(actor, "employer")
    org = organisation_of(session, actor)
    if org is None or org.id is None:
        raise NotFound("Describe your organisation first.")
    if accreditation_id is None:
        return AccreditationForm(org, None)
    records = vetting.list_accreditations(session=session, actor=actor, organisation_id=org.id)
    for record in records:
        if record.id == accreditation_id:
            return AccreditationForm(org, record)
    raise NotFound("No such accreditation.")


@dataclass(frozen=True)
class HostVetting:
    org: Organisation
    records: list[RecordView]
    verifications: list[tuple[Verification, str | None]]  # with the verifier's name
    unmatched: list[tuple[Slot, Round]]
    problems: list[str]  # what stands in the way of verifying


def _unmatched(session: Session, organisation_id: int) -> list[tuple[Slot, Round]]:
    return [
        (slot, rnd)
        for slot, rnd in session.exec(
            select(Slot, Round)
            .join(Round, col(Round.id) == col(Slot.round_id))
            .where(Slot.organisation_id == organisation_id, col(Round.status).in_(MATCHABLE))
            .order_by(col(Round.id), col(Slot.title))
        ).all()
    ]


def host_vetting(session: Session, actor: User, organisation_id: int) -> HostVetting:
    """Everything a coordinator checks before verifying a host."""
    require_role(actor, "coordinator")
    org = session.get(Organisation, organisation_id)
    if org is None or org.id is None:
        raise NotFound("No such organisation.")
    records = _record_views(session, org.id)
    verifications: list[tuple[Verification, str | None]] = [
        (v, name)
        for v, name in session.exec(
            select(Verification, User.name)
            .join(User, col(User.id) == col(Verification.verified_by), isouter=True)
            .where(Verification.organisation_id == org.id)
            .order_by(col(Verification.id).desc())
        ).all()
    ]
    problems = [f"{r.record.standard} has expired." for r in records if r.status == "expired"]
    problems += [
        f"{r.record.standard} is not complete (accrediting body, number and expiry date)."
        for r in records
        if r.status == "to complete"
    ]
    if not records:
        problems.append("The host has recorded no accreditations.")
    unmatched = [] if org.verified else _unmatched(session, org.id)
    return HostVetting(org, records, verifications, unmatched, problems)


@dataclass(frozen=True)
class DbsPage:
    trainee: Trainee
    status: vetting.DbsStatus
    seen_by: dict[int, str]  # user id -> name of who recorded each check


def dbs_page(session: Session, actor: User, trainee_id: int) -> DbsPage:
    """A trainee's DBS record, for the coordinator who records checks."""
    require_role(actor, "coordinator")
    trainee = session.get(Trainee, trainee_id)
    if trainee is None:
        raise NotFound("No such trainee.")
    status = vetting.dbs_status_of(session, trainee)
    ids = {c.seen_by for c in status.checks if c.seen_by is not None}
    names = (
        dict(session.exec(select(User.id, User.name).where(col(User.id).in_(ids))).all())
        if ids
        else {}
    )
    return DbsPage(trainee, status, {k: v for k, v in names.items() if k is not None})


@dataclass(frozen=True)
class OwnDbs:
    trainee: Trainee
    status: vetting.DbsStatus


def own_dbs(session: Session, actor: User) -> OwnDbs:
    trainee = trainee_of(session, actor)
    return OwnDbs(trainee, vetting.dbs_status_of(session, trainee))


@dataclass(frozen=True)
class SafetyPage:
    placement: Placement
    slot: Slot
    round: Round
    organisation: Organisation
    trainee_name: str
    safety: PlacementSafety
    complete: bool
    editable: bool  # the host or a coordinator, while the placement is live


def safety_page(session: Session, actor: User, placement_id: int) -> SafetyPage:
    safety = vetting.get_safety(session=session, actor=actor, placement_id=placement_id)
    placement, slot, rnd, org = session.exec(
        select(Placement, Slot, Round, Organisation)
        .join(Slot, col(Slot.id) == col(Placement.slot_id))
        .join(Round, col(Round.id) == col(Placement.round_id))
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .where(Placement.id == placement_id)
    ).one()
    trainee = session.get(Trainee, placement.trainee_id)
    assert trainee is not None
    return SafetyPage(
        placement=placement,
        slot=slot,
        round=rnd,
        organisation=org,
        trainee_name=trainee.name,
        safety=safety,
        complete=vetting.is_safety_complete(safety),
        editable=actor.role in ("employer", "coordinator")
        and placement.status == PlacementStatus.LIVE,
    )


def checks_by_trainee(session: Session, trainee_ids: list[int]) -> dict[int, DbsCheck]:
    """The newest check of each trainee (for lists)."""
    newest: dict[int, DbsCheck] = {}
    if not trainee_ids:
        return newest
    for check in session.exec(
        select(DbsCheck)
        .where(col(DbsCheck.trainee_id).in_(trainee_ids))
        .order_by(col(DbsCheck.seen_at), col(DbsCheck.id))
    ):
        newest[check.trainee_id] = check
    return newest
