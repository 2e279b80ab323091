"""Host organisations: employers keep their own, coordinators vet them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from placement.errors import Conflict, Forbidden, NotFound
from placement.models import Organisation, User
from placement.services.common import Page, audit, paginate, require_role

EDITABLE = ("name", "kind", "accreditations", "postcode", "latitude", "longitude", "website")


def _visible(session: Session, actor: User, organisation_id: int) -> Organisation:
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound("No such organisation.")
    if actor.role == "coordinator":
        return org
    if actor.role == "employer" and org.owner_id == actor.id:
        return org
    if actor.role == "trainee" and org.verified:
        return org
    raise NotFound("No such organisation.")


def create_organisation(*, session: Session, actor: User, values: dict[str, Any]) -> Organisation:
    """An employer creates their one organisation (unverified); a coordinator creates any."""
    require_role(actor, "employer", "coordinator")
    values = dict(values)
    if actor.role == "employer":
        if "verified" in values:
            raise Forbidden("Only a coordinator can verify an organisation.")
        owned = session.exec(select(Organisation).where(Organisation.owner_id == actor.id)).first()
        if owned is not None:
            raise Conflict("You already have an organisation.")
        values["owner_id"] = actor.id
    org = Organisation(**values)
    session.add(org)
    session.flush()
    audit(
        session,
        actor=actor,
        action="organisation.create",
        object_type="organisation",
        object_id=org.id,
    )
    session.commit()
    return org


def list_organisations(
    *, session: Session, actor: User, page: int = 1, per_page: int = 50
) -> Page[Organisation]:
    require_role(actor, "trainee", "employer", "coordinator")
    statement = select(Organisation)
    if actor.role == "employer":
        statement = statement.where(Organisation.owner_id == actor.id)
    elif actor.role == "trainee":
        statement = statement.where(Organisation.verified.is_(True))  # type: ignore[attr-defined]
    return paginate(session, statement.order_by(col(Organisation.id)), page, per_page)


def get_organisation(*, session: Session, actor: User, organisation_id: int) -> Organisation:
    require_role(actor, "trainee", "employer", "coordinator")
    return _visible(session, actor, organisation_id)


def update_organisation(
    *, session: Session, actor: User, organisation_id: int, values: dict[str, Any]
) -> Organisation:
    """Owner employer or coordinator; only a coordinator changes `verified`."""
    require_role(actor, "employer", "coordinator")
    org = _visible(session, actor, organisation_id)
    if "verified" in values and actor.role != "coordinator":
        raise Forbidden("Only a coordinator can verify an organisation.")
    for key, value in values.items():
        if key in EDITABLE or key == "verified":
            setattr(org, key, value)
    audit(
        session,
        actor=actor,
        action="organisation.update",
        object_type="organisation",
        object_id=org.id,
        fields=sorted(values),
    )
    session.commit()
    return org


def verify_organisation(*, session: Session, actor: User, organisation_id: int) -> Organisation:
    require_role(actor, "coordinator")
    org = _visible(session, actor, organisation_id)
    org.verified = True
    audit(
        session,
        actor=actor,
        action="organisation.verify",
        object_type="organisation",
        object_id=org.id,
    )
    session.commit()
    return org
