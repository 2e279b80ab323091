"""Approved placements: who sees them, and the round's result as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from placement.errors import WrongState
from placement.models import Organisation, Placement, Slot, Trainee, User
from placement.services.common import (
    Page,
    get_round,
    organisation_of,
    paginate,
    require_role,
    trainee_of,
)


@dataclass(frozen=True)
class PlacementView:
    id: int
    round_id: int
    trainee_id: int
    trainee_name: str
    slot_id: int
    slot_title: str
    organisation_id: int
    proposal_id: int | None
    status: str
    created_at: datetime
    withdrawn_at: datetime | None


def _view(p: Placement, t: Trainee, s: Slot) -> PlacementView:
    assert p.id is not None
    return PlacementView(
        id=p.id,
        round_id=p.round_id,
        trainee_id=p.trainee_id,
        trainee_name=t.name,
        slot_id=p.slot_id,
        slot_title=s.title,
        organisation_id=s.organisation_id,
        proposal_id=p.proposal_id,
        status=p.status,
        created_at=p.created_at,
        withdrawn_at=p.withdrawn_at,
    )


def list_placements(
    *,
    session: Session,
    actor: User,
    round_id: int,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[PlacementView]:
    """Coordinators see all; once the round is published, an employer sees those at their
    own slots and a trainee their own."""
    require_role(actor, "trainee", "employer", "coordinator")
    rnd = get_round(session, round_id, actor=actor)
    statement = (
        select(Placement, Trainee, Slot)
        .join(Trainee, col(Trainee.id) == col(Placement.trainee_id))
        .join(Slot, col(Slot.id) == col(Placement.slot_id))
        .where(Placement.round_id == rnd.id)
    )
    if actor.role != "coordinator":
        if rnd.status != "published":
            raise WrongState("The round's placements are not published yet.")
        statement = statement.where(Placement.status == "live")
        if actor.role == "employer":
            org = organisation_of(session, actor)
            statement = statement.where(Slot.organisation_id == (org.id if org else -1))
        else:
            statement = statement.where(Placement.trainee_id == trainee_of(session, actor).id)
    if status is not None:
        statement = statement.where(Placement.status == status)
    raw = paginate(session, statement.order_by(col(Placement.id)), page, per_page)
    return Page(
        items=[_view(p, t, s) for p, t, s in raw.items],
        total=raw.total,
        page=raw.page,
        per_page=raw.per_page,
    )


CSV_COLUMNS = (
    "placement_id",
    "trainee_id",
    "trainee_name",
    "trainee_email",
    "slot_id",
    "slot_title",
    "discipline",
    "organisation_id",
    "organisation_name",
    "starts_on",
    "ends_on",
    "approved_at",
)


def _cell(value: object) -> str:
    """Spreadsheet-safe text: a leading = + - @ would otherwise run as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def placements_csv(*, session: Session, actor: User, round_id: int) -> str:
    """The round's live placements as CSV (UTF-8, header row first)."""
    require_role(actor, "coordinator")
    rnd = get_round(session, round_id, actor=actor)
    rows = session.exec(
        select(Placement, Trainee, Slot, Organisation)
        .join(Trainee, col(Trainee.id) == col(Placement.trainee_id))
        .join(Slot, col(Slot.id) == col(Placement.slot_id))
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .where(Placement.round_id == rnd.id, Placement.status == "live")
        .order_by(col(Placement.id))
    ).all()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p, t, s, o in rows:
        writer.writerow(
            _cell(v)
            for v in (
                p.id,
                t.id,
                t.name,
                t.email,
                s.id,
                s.title,
                s.discipline,
                o.id,
                o.name,
                s.starts_on.isoformat(),
                s.ends_on.isoformat(),
                p.created_at.isoformat(),
            )
        )
    return out.getvalue()
