"""Host organisations: employers keep their own, coordinators vet them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from placement.config import Settings
from placement.errors import Conflict, Forbidden, NotFound
from placement.models import Organisation, User
from placement.services import vetting
from placement.services.common import Page, audit, changes, paginate, require_role, snapshot
from placement.services.postcodes import fill_coordinates

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


def create_organisation(
    *, session: Session, actor: User, values: dict[str, Any], settings: Settings | None = None
) -> Organisation:
    """An employer creates their one organisation (unverified); a coordinator creates any.
    A postcode given without coordinates sets them (see services.postcodes)."""
    require_role(actor, "employer", "coordinator")
    values = dict(values)
    if actor.role == "employer":
        if "verified" in values:
            raise Forbidden("Only a coordinator can verify an organisation.")
        owned = session.exec(select(Organisation).where(Organisation.owner_id == actor.id)).first()
        if owned is not None:
            raise Conflict("You already have an organisation.")
        values["owner_id"] = actor.id
    fill_coordinates(session, values, settings=settings)
    # The names sent become accreditation records for the host to complete.
    names = values.pop("accreditations", None) or []
    verified = bool(values.pop("verified", False))
    org = Organisation(**values)
    session.add(org)
    session.flush()
    vetting.records_from_names(session, actor=actor, org=org, names=names)
    if verified:
        vetting.verify(session, actor=actor, org=org)
    audit(
        session,
        actor=actor,
        action="organisation.create",
        object_type="organisation",
        object_id=org.id,
        changes=changes(None, org),
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
    *,
    session: Session,
    actor: User,
    organisation_id: int,
    values: dict[str, Any],
    settings: Settings | None = None,
) -> Organisation:
    """Owner employer or coordinator; only a coordinator changes `verified`. A changed
    postcode without coordinates moves the organisation (see services.postcodes)."""
    require_role(actor, "employer", "coordinator")
    org = _visible(session, actor, organisation_id)
    if "verified" in values and actor.role != "coordinator":
        raise Forbidden("Only a coordinator can verify an organisation.")
    before = snapshot(org)
    values = dict(values)
    fill_coordinates(session, values, current=org, settings=settings)
    # Records for accreditation names, and a verification that lapses or is given.
    vetting.owner_edits(session, actor=actor, org=org, values=values)
    for key, value in values.items():
        if key in EDITABLE and key != "accreditations":
            setattr(org, key, value)
    audit(
        session,
        actor=actor,
        action="organisation.update",
        object_type="organisation",
        object_id=org.id,
        changes=changes(before, org),
    )
    session.commit()
    return org


def verify_organisation(
    *, session: Session, actor: User, organisation_id: int, seen: str = ""
) -> Organisation:
    """A coordinator vets a host; `seen` says what they checked (see services.vetting)."""
    return vetting.verify_organisation(
        session=session, actor=actor, organisation_id=organisation_id, seen=seen
    )
