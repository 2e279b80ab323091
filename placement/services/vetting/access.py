"""Who may touch a host's vetting records: the owning employer and coordinators;
anyone else gets 404, as for a missing record."""

from __future__ import annotations

from sqlmodel import Session, col, select

from placement.errors import NotFound
from placement.models import (
    Accreditation,
    Organisation,
    User,
)
from placement.services.common import (
    require_role,
)


def own_organisation(session: Session, actor: User, organisation_id: int) -> Organisation:
    """The organisation, if the actor is its owner or a coordinator; 404 for anyone else."""
    require_role(actor, "employer", "coordinator")
    org = session.get(Organisation, organisation_id, with_for_update=True)
    if org is None or (actor.role == "employer" and org.owner_id != actor.id):
        raise NotFound("No such organisation.")
    return org


def own_accreditation(
    session: Session, actor: User, accreditation_id: int
) -> tuple[Accreditation, Organisation]:
    require_role(actor, "employer", "coordinator")
    record = session.get(Accreditation, accreditation_id)
    if record is None:
        raise NotFound("No such accreditation.")
    try:
        org = own_organisation(session, actor, record.organisation_id)
    except NotFound:
        raise NotFound("No such accreditation.") from None
    return record, org


def records_of(session: Session, organisation_id: int) -> list[Accreditation]:
    return list(
        session.exec(
            select(Accreditation)
            .where(Accreditation.organisation_id == organisation_id)
            .order_by(col(Accreditation.id))
        )
    )
