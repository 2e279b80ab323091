"""Read models of the coordinator's host organisations list."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from placement.models import (
    Organisation,
    User,
)
from placement.services import organisations
from placement.services.common import Page


@dataclass(frozen=True)
class OrganisationsPage:
    page: Page[Organisation]
    items: list[Organisation]  # the unverified first, then by name


def organisations_page(session: Session, actor: User, *, page: int) -> OrganisationsPage:
    found = organisations.list_organisations(session=session, actor=actor, page=page, per_page=100)
    items = sorted(found.items, key=lambda o: (o.verified, o.name.lower()))
    return OrganisationsPage(page=found, items=items)
