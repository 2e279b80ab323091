"""A host's accreditation records, and what trainees see of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from placement.errors import InvalidInput
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
from placement.services.vetting.access import own_accreditation, own_organisation, records_of
from placement.services.vetting.verification import lapse, owner_changed, verify

ACCREDITATION_FIELDS = ("standard", "body", "number", "scope", "expires_on")


# What the owner may change only at the price of the verification.
VETTED_FIELDS = ("name", "website")


def sync_names(session: Session, org: Organisation) -> None:
    """`organisations.accreditations` is the list of its records' standards."""
    session.flush()
    org.accreditations = list(dict.fromkeys(r.standard for r in records_of(session, org.id or 0)))


def is_complete(record: Accreditation) -> bool:
    return bool(record.body and record.number and record.expires_on)


def is_current(record: Accreditation, today: date | None = None) -> bool:
    today = today or utcnow().date()
    return is_complete(record) and record.expires_on is not None and record.expires_on >= today


def list_accreditations(
    *, session: Session, actor: User, organisation_id: int
) -> list[Accreditation]:
    """An organisation's accreditation records (owner employer or coordinator)."""
    org = own_organisation(session, actor, organisation_id)
    return records_of(session, org.id or 0)


def records_from_names(
    session: Session, *, actor: User, org: Organisation, names: Sequence[str]
) -> None:
    """Make the names sent on create (or a PATCH of `accreditations`) the organisation's
    records: a new name becomes a record to complete, a name left out loses its record."""
    assert org.id is not None
    wanted = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    existing = records_of(session, org.id)
    have = {r.standard for r in existing}
    for record in existing:
        if record.standard not in wanted:
            _delete_record(session, actor=actor, record=record)
    for name in wanted:
        if name not in have:
            add_record(session, actor=actor, org=org, values={"standard": name})
    sync_names(session, org)


def add_record(
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
        changes=changes(None, snapshot(record, ACCREDITATION_FIELDS)),
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
        changes=changes(snapshot(record, ACCREDITATION_FIELDS), None),
    )
    # Its evidence file, if any, is removed by the daily sweep once no record names it.
    session.delete(record)


def create_accreditation(
    *, session: Session, actor: User, organisation_id: int, values: Mapping[str, Any]
) -> Accreditation:
    """Add an accreditation record (owner employer or coordinator)."""
    org = own_organisation(session, actor, organisation_id)
    check_dates(values)
    record = add_record(session, actor=actor, org=org, values=values)
    sync_names(session, org)
    owner_changed(session, actor=actor, org=org, what="added an accreditation")
    session.commit()
    return record


def update_accreditation(
    *, session: Session, actor: User, accreditation_id: int, values: Mapping[str, Any]
) -> Accreditation:
    """Complete or correct an accreditation record (owner employer or coordinator)."""
    record, org = own_accreditation(session, actor, accreditation_id)
    check_dates(values)
    before = snapshot(record, ACCREDITATION_FIELDS)
    for key in ACCREDITATION_FIELDS:
        if key in values:
            setattr(record, key, values[key])
    diff = changes(before, record)
    if not diff:
        return record
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
    sync_names(session, org)
    owner_changed(session, actor=actor, org=org, what="changed an accreditation")
    session.commit()
    return record


def delete_accreditation(*, session: Session, actor: User, accreditation_id: int) -> None:
    """Remove an accreditation record and its evidence (owner employer or coordinator)."""
    record, org = own_accreditation(session, actor, accreditation_id)
    _delete_record(session, actor=actor, record=record)
    sync_names(session, org)
    owner_changed(session, actor=actor, org=org, what="removed an accreditation")
    session.commit()


def check_dates(values: Mapping[str, Any]) -> None:
    expires = values.get("expires_on")
    if expires is not None and expires < utcnow().date():
        raise InvalidInput(
            "That accreditation has already expired.",
            errors={"expires_on": ["is in the past; add an accreditation that is current"]},
        )


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


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
