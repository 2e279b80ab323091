"""Evidence files of accreditations: checked by content, stored under the instance
directory, served to those who may see the record."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from placement.errors import InvalidInput, NotFound, TooLarge
from placement.models import (
    Accreditation,
    Organisation,
    User,
    utcnow,
)
from placement.services.common import (
    audit,
    changes,
    snapshot,
)
from placement.services.vetting.access import own_accreditation, own_organisation
from placement.services.vetting.accreditations import (
    ACCREDITATION_FIELDS,
    add_record,
    check_dates,
    sync_names,
)
from placement.services.vetting.verification import owner_changed

EVIDENCE_MAX_BYTES = 5 * 1024 * 1024


# What an evidence file may be, told by its first bytes, never by its name or the
# Content-Type the browser sent.
EVIDENCE_KINDS: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)


def evidence_dir(instance_dir: Path) -> Path:
    return instance_dir / "evidence"


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
    record, org = own_accreditation(session, actor, accreditation_id)
    stored, previous = _store_evidence(session, actor, record, org, data, filename, storage)
    owner_changed(session, actor=actor, org=org, what="uploaded new accreditation evidence")
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
    check_dates(values)
    if accreditation_id is not None:
        record, org = own_accreditation(session, actor, accreditation_id)
        before = snapshot(record, ACCREDITATION_FIELDS)
        for key in ACCREDITATION_FIELDS:
            if key in values:
                setattr(record, key, values[key])
        diff = changes(before, record)
        if diff:
            record.updated_at = utcnow()
            audit(
                session,
                actor=actor,
                action="accreditation.update",
                object_type="accreditation",
                object_id=record.id,
                organisation_id=org.id,
                changes=diff,
            )
    else:
        org = own_organisation(session, actor, organisation_id or 0)
        record = add_record(session, actor=actor, org=org, values=values)
        diff = changes(None, snapshot(record, ("standard",)))
    stored = previous = None
    if evidence is not None:
        stored, previous = _store_evidence(
            session, actor, record, org, evidence.data, evidence.filename, storage
        )
    if diff or stored:
        sync_names(session, org)
        owner_changed(session, actor=actor, org=org, what="changed its accreditations")
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
    before = snapshot(record, ("evidence_name",))
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
        changes=changes(before, record),
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
    record, _ = own_accreditation(session, actor, accreditation_id)
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
