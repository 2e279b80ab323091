"""The daily vetting job."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col, select

from placement.models import (
    DEFAULT_DBS_MAX_AGE_YEARS,
    Accreditation,
    Organisation,
    Trainee,
    utcnow,
)
from placement.services.vetting.dbs import dbs_cutoff
from placement.services.vetting.evidence import remove_orphan_files
from placement.services.vetting.verification import lapse


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
