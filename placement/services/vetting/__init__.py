"""Vetting and safeguarding records: hosts' accreditations (with evidence files), the
coordinator's verification of a host (which lapses), DBS checks a coordinator saw, and the
safety details a host completes before a trainee starts.

Who may see what
    Accreditation records and their evidence: the owning employer and coordinators only
    (anyone else gets 404, as for a missing record). Trainees see, for verified hosts, the
    standards and whether each is current (`standards_of`). DBS checks: coordinators, and
    the trainee their own. Safety details: coordinators, the host of the placement, and
    the placed trainee once the round's results are published.
Lapsing
    A verification lapses (the host is unverified again, the record says when and why, and
    coordinators are told) when the owner changes the name, website or accreditations, and
    when an accreditation expires (`sweep`, run daily by `workers/vetting.py`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from placement.errors import Conflict, InvalidInput, NotFound, TooLarge
from placement.models import (
    DEFAULT_DBS_MAX_AGE_YEARS,
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
from placement.services.common import audit, chunks, require_role, trainee_of
from placement.services.mail import queue_mail

EVIDENCE_MAX_BYTES = 5 * 1024 * 1024
# What an evidence file may be, told by its first bytes, never by its name or the
# Content-Type the browser sent.
EVIDENCE_KINDS: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
ACCREDITATION_FIELDS = ("standard", "body", "number", "scope", "expires_on")
SAFETY_FIELDS = (
    "supervisor_name",
    "supervisor_contact",
    "induction_arranged",
    "risk_assessment_done",
    "insurance_confirmed",
)
# What the owner may change only at the price of the verification.
VETTED_FIELDS = ("name", "website")


def evidence_dir(instance_dir: Path) -> Path:
    return instance_dir / "evidence"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _change(before: Any, after: Any) -> dict[str, Any]:
    """One field's change, in the audit trail's shape."""
    return {"before": _plain(before), "after": _plain(after)}


def changes_of(
    obj: Any, values: Mapping[str, Any], fields: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """`{field: {"before": ..., "after": ...}}` for each of `fields` that `values` changes
    on `obj` (the audit trail's shape)."""
    return {
        key: _change(getattr(obj, key), values[key])
        for key in fields
        if key in values and getattr(obj, key) != values[key]
    }


# --- accreditations --------------------------------------------------------------------


def _own_organisation(session: Session, actor: User, organisation_id: int) -> Organisation:
    """The organisation, if the actor is its owner or a coordinator; 404 for anyone else."""
    require_role(actor, "employer", "coordinator")
    org = session.get(Organisation, organisation_id, with_for_update=True)
    if org is None or (actor.role == "employer" and org.owner_id != actor.id):
        raise NotFound("No such organisation.")
    return org


def _own_accreditation(
    session: Session, actor: User, accreditation_id: int
) -> tuple[Accreditation, Organisation]:
    require_role(actor, "employer", "coordinator")
    record = session.get(Accreditation, accreditation_id)
    if record is None:
        raise NotFound("No such accreditation.")
    try:
        org = _own_organisation(session, actor, record.organisation_id)
    except NotFound:
        raise NotFound("No such accreditation.") from None
    return record, org


def _records(session: Session, organisation_id: int) -> list[Accreditation]:
    return list(
        session.exec(
            select(Accreditation)
            .where(Accreditation.organisation_id == organisation_id)
            .order_by(col(Accreditation.id))
        )
    )


def _sync_names(session: Session, org: Organisation) -> None:
    """`organisations.accreditations` is the list of its records' standards."""
    session.flush()
    org.accreditations = list(dict.fromkeys(r.standard for r in _records(session, org.id or 0)))


def is_complete(record: Accreditation) -> bool:
    return bool(record.body and record.number and record.expires_on)


def is_current(record: Accreditation, today: date | None = None) -> bool:
    today = today or utcnow().date()
    return is_complete(record) and record.expires_on is not None and record.expires_on >= today


def list_accreditations(
    *, session: Session, actor: User, organisation_id: int
) -> list[Accreditation]:
    """An organisation's accreditation records (owner employer or coordinator)."""
    org = _own_organisation(session, actor, organisation_id)
    return _records(session, org.id or 0)


def records_from_names(
    session: Session, *, actor: User, org: Organisation, names: Sequence[str]
) -> None:
    """Make the names sent on create (or a PATCH of `accreditations`) the organisation's
    records: a new name becomes a record to complete, a name left out loses its record."""
    assert org.id is not None
    wanted = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    existing = _records(session, org.id)
    have = {r.standard for r in existing}
    for record in existing:
        if record.standard not in wanted:
            _delete_record(session, actor=actor, record=record)
    for name in wanted:
        if name not in have:
            _add_record(session, actor=actor, org=org, values={"standard": name})
    _sync_names(session, org)


def _add_record(
    session: Session, *, actor: User, org: Organisation, values: Mapping[str, Any]
) -> Accreditation:
    record = Accreditation(
        organisation_id=org.id or 0,
        created_by=actor.id,
        **{k: v for k, v in values.items() if k in ACCREDITATION_FIELDS},
    )
    session.add(record)
    session.flush()
    audit(
        session,
        actor=actor,
        action="accreditation.create",
        object_type="accreditation",
        object_id=record.id,
        organisation_id=org.id,
        changes={k: _change(None, getattr(record, k)) for k in ACCREDITATION_FIELDS},
    )
    return record


def _delete_record(session: Session, *, actor: User, record: Accreditation) -> None:
    audit(
        session,
        actor=actor,
        action="accreditation.delete",
        object_type="accreditation",
        object_id=record.id,
        organisation_id=record.organisation_id,
        changes={k: _change(getattr(record, k), None) for k in ACCREDITATION_FIELDS},
    )
    # Its evidence file, if any, is removed by the daily sweep once no record names it.
    session.delete(record)


def create_accreditation(
    *, session: Session, actor: User, organisation_id: int, values: Mapping[str, Any]
) -> Accreditation:
    """Add an accreditation record (owner employer or coordinator)."""
    org = _own_organisation(session, actor, organisation_id)
    _check_dates(values)
    record = _add_record(session, actor=actor, org=org, values=values)
    _sync_names(session, org)
    _owner_changed(session, actor=actor, org=org, what="added an accreditation")
    session.commit()
    return record


def update_accreditation(
    *, session: Session, actor: User, accreditation_id: int, values: Mapping[str, Any]
) -> Accreditation:
    """Complete or correct an accreditation record (owner employer or coordinator)."""
    record, org = _own_accreditation(session, actor, accreditation_id)
    _check_dates(values)
    changes = changes_of(record, values, ACCREDITATION_FIELDS)
    if not changes:
        return record
    for key in changes:
        setattr(record, key, values[key])
    record.updated_at = utcnow()
    audit(
        session,
        actor=actor,
        action="accreditation.update",
        object_type="accreditation",
        object_id=record.id,
        organisation_id=org.id,
        changes=changes,
    )
    _sync_names(session, org)
    _owner_changed(session, actor=actor, org=org, what="changed an accreditation")
    session.commit()
    return record


def delete_accreditation(*, session: Session, actor: User, accreditation_id: int) -> None:
    """Remove an accreditation record and its evidence (owner employer or coordinator)."""
    record, org = _own_accreditation(session, actor, accreditation_id)
    _delete_record(session, actor=actor, record=record)
    _sync_names(session, org)
    _owner_changed(session, actor=actor, org=org, what="removed an accreditation")
    session.commit()


def _check_dates(values: Mapping[str, Any]) -> None:
    expires = values.get("expires_on")
    if expires is not None and expires < utcnow().date():
        raise InvalidInput(
            "That accreditation has already expired.",
            errors={"expires_on": ["is in the past; add an accreditation that is current"]},
        )


# --- evidence files --------------------------------------------------------------------


def sniff_evidence(data: bytes) -> tuple[str, str]:
    """The (content type, file extension) of a PDF, PNG or JPEG, told by its content;
    InvalidInput for anything else, TooLarge past EVIDENCE_MAX_BYTES."""
    if len(data) > EVIDENCE_MAX_BYTES:
        raise TooLarge(
            f"The evidence file is larger than {EVIDENCE_MAX_BYTES // (1024 * 1024)} MB.",
            errors={"file": [f"must be at most {EVIDENCE_MAX_BYTES // (1024 * 1024)} MB"]},
        )
    if not data:
        raise InvalidInput("The evidence file is empty.", errors={"file": ["is empty"]})
    for magic, content_type, extension in EVIDENCE_KINDS:
        if data.startswith(magic):
            return content_type, extension
    raise InvalidInput(
        "The evidence must be a PDF, PNG or JPEG file.",
        errors={"file": ["is not a PDF, PNG or JPEG file"]},
    )


def attach_evidence(
    *,
    session: Session,
    actor: User,
    accreditation_id: int,
    data: bytes,
    filename: str,
    storage: Path,
) -> Accreditation:
    """Store a certificate (PDF, PNG or JPEG) for an accreditation record, replacing any
    earlier one. `storage` is the instance directory's evidence folder."""
    record, org = _own_accreditation(session, actor, accreditation_id)
    stored, previous = _store_evidence(session, actor, record, org, data, filename, storage)
    _owner_changed(session, actor=actor, org=org, what="uploaded new accreditation evidence")
    _commit_with_file(session, storage, stored, previous)
    return record


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str


def save_accreditation(
    *,
    session: Session,
    actor: User,
    values: Mapping[str, Any],
    storage: Path,
    organisation_id: int | None = None,
    accreditation_id: int | None = None,
    evidence: Upload | None = None,
) -> Accreditation:
    """The page's form: add a record to an organisation (or change one) and store its
    evidence file, if one came, in one transaction."""
    _check_dates(values)
    if accreditation_id is not None:
        record, org = _own_accreditation(session, actor, accreditation_id)
        changes = changes_of(record, values, ACCREDITATION_FIELDS)
        for key in changes:
            setattr(record, key, values[key])
        if changes:
            record.updated_at = utcnow()
            audit(
                session,
                actor=actor,
                action="accreditation.update",
                object_type="accreditation",
                object_id=record.id,
                organisation_id=org.id,
                changes=changes,
            )
    else:
        org = _own_organisation(session, actor, organisation_id or 0)
        record = _add_record(session, actor=actor, org=org, values=values)
        changes = {"standard": _change(None, record.standard)}
    stored = previous = None
    if evidence is not None:
        stored, previous = _store_evidence(
            session, actor, record, org, evidence.data, evidence.filename, storage
        )
    if changes or stored:
        _sync_names(session, org)
        _owner_changed(session, actor=actor, org=org, what="changed its accreditations")
    _commit_with_file(session, storage, stored, previous)
    return record


def _store_evidence(
    session: Session,
    actor: User,
    record: Accreditation,
    org: Organisation,
    data: bytes,
    filename: str,
    storage: Path,
) -> tuple[str, str | None]:
    """Write the file (checked by content) and point the record at it; the caller commits
    with `_commit_with_file`. Returns the new and the replaced stored names."""
    content_type, extension = sniff_evidence(data)
    storage.mkdir(parents=True, exist_ok=True)
    stored = f"{uuid.uuid4().hex}{extension}"
    partial = storage / f".{stored}.part"
    partial.write_bytes(data)
    os.replace(partial, storage / stored)
    previous = record.evidence_file
    before = record.evidence_name
    record.evidence_file = stored
    record.evidence_name = _safe_name(filename, extension)
    record.evidence_type = content_type
    record.evidence_size = len(data)
    record.updated_at = utcnow()
    audit(
        session,
        actor=actor,
        action="accreditation.evidence",
        object_type="accreditation",
        object_id=record.id,
        organisation_id=org.id,
        changes={"evidence_name": _change(before, record.evidence_name)},
        size=len(data),
        content_type=content_type,
    )
    return stored, previous


def _commit_with_file(
    session: Session, storage: Path, stored: str | None, previous: str | None
) -> None:
    """Commit; a new file whose record was not saved goes, and so does a replaced one."""
    try:
        session.commit()
    except Exception:
        if stored:
            (storage / stored).unlink(missing_ok=True)
        raise
    if stored and previous:
        (storage / previous).unlink(missing_ok=True)


@dataclass(frozen=True)
class EvidenceFile:
    path: Path
    name: str
    content_type: str


def evidence_of(
    *, session: Session, actor: User, accreditation_id: int, storage: Path
) -> EvidenceFile:
    """The evidence file, for the owning employer and coordinators only (404 otherwise)."""
    record, _ = _own_accreditation(session, actor, accreditation_id)
    if not record.evidence_file or not record.evidence_type:
        raise NotFound("No evidence has been uploaded for this accreditation.")
    path = storage / record.evidence_file
    if not path.is_file():
        raise NotFound("The evidence file is missing.")
    return EvidenceFile(path, record.evidence_name or path.name, record.evidence_type)


def _safe_name(filename: str, extension: str) -> str:
    """A download name without path parts or control characters."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in "\"';")[:150].strip()
    if not base:
        base = "evidence"
    if not base.lower().endswith(extension):
        base = f"{base.rsplit('.', 1)[0] or 'evidence'}{extension}"
    return base


def remove_orphan_files(session: Session, storage: Path, *, older_than: float = 3600.0) -> int:
    """Delete evidence files no record names (left by a removed record or a failed save),
    once they are older than `older_than` seconds (an upload may be committing now)."""
    if not storage.is_dir():
        return 0
    named = set(
        session.exec(
            select(Accreditation.evidence_file).where(col(Accreditation.evidence_file).is_not(None))
        ).all()
    )
    limit = utcnow().timestamp() - older_than
    removed = 0
    for path in storage.iterdir():
        name = path.name.removeprefix(".").removesuffix(".part")
        if path.is_file() and name not in named and path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# --- verification ----------------------------------------------------------------------


def _snapshot(session: Session, org: Organisation) -> dict[str, Any]:
    return {
        "name": org.name,
        "website": org.website,
        "accreditations": [
            {
                "standard": r.standard,
                "body": r.body,
                "number": r.number,
                "expires_on": _plain(r.expires_on),
                "evidence": r.evidence_name,
            }
            for r in _records(session, org.id or 0)
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
    _own_organisation(session, actor, organisation_id)
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
        for r in _records(session, org.id or 0)
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
    was = org.verified
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
        changes={"verified": _change(was, True)},
    )
    return record


def verify_organisation(
    *, session: Session, actor: User, organisation_id: int, seen: str = ""
) -> Organisation:
    """A coordinator vets a host: who, when and what they saw is kept."""
    require_role(actor, "coordinator")
    org = _own_organisation(session, actor, organisation_id)
    verify(session, actor=actor, org=org, seen=seen)
    session.commit()
    return org


def lapse(session: Session, *, actor: User | None, org: Organisation, reason: str) -> bool:
    """Unverify a verified host and say why; coordinators are told. The caller commits.
    Returns whether anything lapsed."""
    if not org.verified:
        return False
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
        changes={"verified": _change(True, False)},
    )
    _tell_coordinators(session, org=org, reason=reason)
    return True


def _owner_changed(session: Session, *, actor: User, org: Organisation, what: str) -> None:
    """What the owner changes was not what the coordinator verified."""
    if actor.role == "employer":
        lapse(session, actor=actor, org=org, reason=f"The host {what}.")


def owner_edits(
    session: Session, *, actor: User, org: Organisation, values: Mapping[str, Any]
) -> None:
    """Called by the organisation service before it applies `values`: accreditation names
    become records, and an owner's change of name, website or accreditations lapses the
    verification. A coordinator's `verified` is a verification (or its withdrawal)."""
    changed = [k for k in VETTED_FIELDS if k in values and getattr(org, k) != values[k]]
    if "accreditations" in values:
        before = list(org.accreditations)
        records_from_names(session, actor=actor, org=org, names=values["accreditations"])
        if org.accreditations != before:
            changed.append("accreditations")
    if changed and actor.role == "employer":
        lapse(session, actor=actor, org=org, reason=f"The host changed its {_and(changed)}.")
    if "verified" in values and actor.role == "coordinator":
        if values["verified"] and not org.verified:
            verify(session, actor=actor, org=org)
        elif not values["verified"] and org.verified:
            lapse(session, actor=actor, org=org, reason="A coordinator withdrew the verification.")


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


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


def sweep(
    *, session: Session, storage: Path | None = None, today: date | None = None
) -> dict[str, int]:
    """The daily vetting job: verified hosts with an expired accreditation lapse,
    trainees whose newest DBS check has passed the default age are no longer cleared, and
    evidence files no record names are removed. Idempotent: a second run the same day
    changes nothing."""
    today = today or utcnow().date()
    expired = session.exec(
        select(Organisation, Accreditation)
        .join(Accreditation, col(Accreditation.organisation_id) == col(Organisation.id))
        .where(col(Organisation.verified).is_(True), col(Accreditation.expires_on) < today)
        .order_by(col(Organisation.id), col(Accreditation.expires_on))
    ).all()
    lapsed = 0
    for org, record in expired:
        if org.verified:
            expires = record.expires_on
            assert expires is not None
            lapse(
                session,
                actor=None,
                org=org,
                reason=f"{record.standard} expired on {expires.day} {expires:%b %Y}.",
            )
            lapsed += 1
    cutoff = dbs_cutoff(today, DEFAULT_DBS_MAX_AGE_YEARS)
    result = session.execute(
        update(Trainee)
        .where(col(Trainee.dbs_cleared).is_(True), col(Trainee.dbs_checked_on) < cutoff)
        .values(dbs_cleared=False)
    )
    session.commit()
    removed = remove_orphan_files(session, storage) if storage is not None else 0
    return {
        "lapsed": lapsed,
        "dbs_expired": int(getattr(result, "rowcount", 0) or 0),
        "files_removed": removed,
    }


# --- what trainees see of hosts --------------------------------------------------------


@dataclass(frozen=True)
class Standard:
    standard: str
    current: bool
    expires_on: date | None


def standards_of(session: Session, organisation_ids: Iterable[int]) -> dict[int, list[Standard]]:
    """For each organisation, its standards and whether each is current (complete and not
    expired): what a trainee may see of a host's accreditations."""
    ids = sorted(set(organisation_ids))
    out: dict[int, list[Standard]] = {i: [] for i in ids}
    if not ids:
        return out
    today = utcnow().date()
    for record in session.exec(
        select(Accreditation)
        .where(col(Accreditation.organisation_id).in_(ids))
        .order_by(col(Accreditation.organisation_id), col(Accreditation.id))
    ):
        out[record.organisation_id].append(
            Standard(record.standard, is_current(record, today), record.expires_on)
        )
    return out


# --- DBS checks ------------------------------------------------------------------------


def dbs_cutoff(today: date, years: int) -> date:
    """The oldest issue date a check may have to count `today` (29 Feb counts as 28 Feb)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def counts_from(check: DbsCheck) -> date:
    """A check counts from its issue date; an import that only said "cleared" from the day
    it was recorded."""
    return check.issued_on or check.seen_at.date()


def _refresh_trainee(session: Session, trainee: Trainee) -> None:
    session.flush()
    checks = session.exec(select(DbsCheck).where(DbsCheck.trainee_id == trainee.id)).all()
    newest = max((counts_from(c) for c in checks), default=None)
    trainee.dbs_checked_on = newest
    trainee.dbs_cleared = newest is not None and newest >= dbs_cutoff(
        utcnow().date(), DEFAULT_DBS_MAX_AGE_YEARS
    )


def _check_dbs_values(values: Mapping[str, Any]) -> None:
    issued = values.get("issued_on")
    if issued is not None and issued > utcnow().date():
        raise InvalidInput(
            "A DBS certificate cannot be issued in the future.",
            errors={"issued_on": ["must not be in the future"]},
        )


@dataclass(frozen=True)
class RecordedCheck:
    """A check just recorded, and the trainee's status that follows from it."""

    check: DbsCheck
    dbs_cleared: bool
    dbs_checked_on: date | None


def record_dbs_check(
    *, session: Session, actor: User, trainee_id: int, values: Mapping[str, Any]
) -> RecordedCheck:
    """A coordinator records the DBS certificate they saw; `dbs_cleared` follows."""
    require_role(actor, "coordinator")
    trainee = session.get(Trainee, trainee_id)
    if trainee is None:
        raise NotFound("No such trainee.")
    if trainee.erased_at is not None:
        raise Conflict("The trainee's personal data was erased.")
    _check_dbs_values(values)
    check = DbsCheck(
        trainee_id=trainee_id,
        certificate_number=values["certificate_number"],
        level=values["level"],
        issued_on=values["issued_on"],
        source="seen",
        seen_by=actor.id,
    )
    session.add(check)
    before = (trainee.dbs_cleared, _plain(trainee.dbs_checked_on))
    _refresh_trainee(session, trainee)
    _audit_check(session, actor=actor, trainee=trainee, check=check, before=before)
    session.commit()
    return RecordedCheck(check, trainee.dbs_cleared, trainee.dbs_checked_on)


def _audit_check(
    session: Session,
    *,
    actor: User | None,
    trainee: Trainee,
    check: DbsCheck,
    before: tuple[bool, Any],
) -> None:
    # The certificate number stays out of the audit trail: erasure removes it with the
    # check, and audit rows outlive erasure.
    audit(
        session,
        actor=actor,
        action="dbs_check.record",
        object_type="trainee",
        object_id=trainee.id,
        level=check.level,
        issued_on=_plain(check.issued_on),
        source=check.source,
        changes={
            "dbs_cleared": _change(before[0], trainee.dbs_cleared),
            "dbs_checked_on": _change(before[1], trainee.dbs_checked_on),
        },
    )


def record_imported_checks(
    session: Session, *, actor: User | None, checks: Sequence[tuple[int, Mapping[str, Any]]]
) -> int:
    """Record the checks a coordinator's trainee import carried, one per (trainee id,
    values): the certificate's fields, or none for a bare `dbs_cleared`. Set-wise, for
    big files; the caller (the import, all or nothing) commits."""
    if not checks:
        return 0
    trainees: dict[int | None, Trainee] = {}
    for chunk in chunks([tid for tid, _ in checks]):
        trainees.update(
            (t.id, t) for t in session.exec(select(Trainee).where(col(Trainee.id).in_(chunk)))
        )
    now = utcnow()
    cutoff = dbs_cutoff(now.date(), DEFAULT_DBS_MAX_AGE_YEARS)
    for trainee_id, values in checks:
        trainee = trainees[trainee_id]
        check = DbsCheck(
            trainee_id=trainee_id,
            certificate_number=values.get("certificate_number"),
            level=values.get("level"),
            issued_on=values.get("issued_on"),
            source="import",
            seen_by=actor.id if actor is not None else None,
            seen_at=now,
        )
        session.add(check)
        before = (trainee.dbs_cleared, _plain(trainee.dbs_checked_on))
        newest = counts_from(check)
        if trainee.dbs_checked_on is None or trainee.dbs_checked_on < newest:
            trainee.dbs_checked_on = newest
        trainee.dbs_cleared = trainee.dbs_checked_on >= cutoff
        _audit_check(session, actor=actor, trainee=trainee, check=check, before=before)
    return len(checks)


def list_dbs_checks(*, session: Session, actor: User, trainee_id: int) -> list[DbsCheck]:
    require_role(actor, "coordinator")
    if session.get(Trainee, trainee_id) is None:
        raise NotFound("No such trainee.")
    return _checks_of(session, trainee_id)


def _checks_of(session: Session, trainee_id: int) -> list[DbsCheck]:
    return list(
        session.exec(
            select(DbsCheck)
            .where(DbsCheck.trainee_id == trainee_id)
            .order_by(col(DbsCheck.seen_at).desc(), col(DbsCheck.id).desc())
        )
    )


@dataclass(frozen=True)
class DbsStatus:
    """What a trainee sees of their own DBS record."""

    cleared: bool
    checked_on: date | None
    # The last day the newest check counts under the default age (rounds may differ).
    current_until: date | None
    checks: list[DbsCheck]


def dbs_status_of(session: Session, trainee: Trainee) -> DbsStatus:
    checks = _checks_of(session, trainee.id or 0)
    until = None
    if trainee.dbs_checked_on is not None:
        until = dbs_cutoff(trainee.dbs_checked_on, -DEFAULT_DBS_MAX_AGE_YEARS)
    return DbsStatus(trainee.dbs_cleared, trainee.dbs_checked_on, until, checks)


def own_dbs_status(*, session: Session, actor: User) -> DbsStatus:
    return dbs_status_of(session, trainee_of(session, actor))


def erase_dbs(session: Session, trainee: Trainee) -> int:
    """Erasure: the trainee's DBS checks go (the caller commits)."""
    checks = session.exec(select(DbsCheck).where(DbsCheck.trainee_id == trainee.id)).all()
    for check in checks:
        session.delete(check)
    trainee.dbs_cleared = False
    trainee.dbs_checked_on = None
    return len(checks)


# --- placement safety details ----------------------------------------------------------


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
    changes = changes_of(safety, values, SAFETY_FIELDS)
    if safety.id is not None and not changes:
        return safety
    for key in changes:
        setattr(safety, key, values[key])
    safety.updated_by = actor.id
    safety.updated_at = utcnow()
    if safety.signed_off_at is not None and changes:
        changes["signed_off_at"] = _change(safety.signed_off_at, None)
        safety.signed_off_at = None
        safety.signed_off_by = None
    session.add(safety)
    audit(
        session,
        actor=actor,
        action="placement_safety.update",
        object_type="placement",
        object_id=placement.id,
        changes=changes,
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
        safety.signed_off_at = utcnow()
        safety.signed_off_by = actor.id
        audit(
            session,
            actor=actor,
            action="placement_safety.sign_off",
            object_type="placement",
            object_id=placement.id,
            changes={"signed_off_at": _change(None, safety.signed_off_at)},
        )
        session.commit()
    return safety


# --- personal data ---------------------------------------------------------------------


def export_for(session: Session, trainee: Trainee) -> dict[str, Any]:
    """The trainee's vetting data for their export: DBS checks and their placements'
    safety details (without who at the host or among staff entered them)."""
    checks = [
        {
            "id": c.id,
            "certificate_number": c.certificate_number,
            "level": c.level,
            "issued_on": _plain(c.issued_on),
            "source": c.source,
            "seen_at": _plain(c.seen_at),
        }
        for c in _checks_of(session, trainee.id or 0)
    ]
    safety = [
        {
            "placement_id": s.placement_id,
            **{k: getattr(s, k) for k in SAFETY_FIELDS},
            "signed_off_at": _plain(s.signed_off_at),
        }
        for s in session.exec(
            select(PlacementSafety)
            .join(Placement, col(Placement.id) == col(PlacementSafety.placement_id))
            .where(Placement.trainee_id == trainee.id)
            .order_by(col(PlacementSafety.id))
        )
    ]
    return {
        "dbs": {
            "dbs_cleared": trainee.dbs_cleared,
            "dbs_checked_on": _plain(trainee.dbs_checked_on),
            "checks": checks,
        },
        "placement_safety": safety,
    }
