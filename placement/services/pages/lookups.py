"""Display lookups the pages share: names for ids, rounds by status."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from placement.models import Organisation, Round, RoundStatus, Slot, Trainee, User


def rounds_with_status(session: Session, *statuses: RoundStatus) -> list[Round]:
    return list(
        session.exec(
            select(Round).where(col(Round.status).in_(statuses)).order_by(col(Round.starts_on))
        ).all()
    )


def trainee_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        sa_select(col(Trainee.id), col(Trainee.name)).where(col(Trainee.id).in_(wanted))
    )
    return {int(i): n for i, n in rows.all()}


@dataclass(frozen=True)
class SlotLabel:
    title: str
    organisation: str
    capacity: int
    filled: int


def slot_labels(session: Session, ids: Iterable[int]) -> dict[int, SlotLabel]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        sa_select(
            col(Slot.id),
            col(Slot.title),
            col(Organisation.name),
            col(Slot.capacity),
            col(Slot.filled),
        )
        .join(Organisation, col(Organisation.id) == Slot.organisation_id)
        .where(col(Slot.id).in_(wanted))
    )
    return {int(i): SlotLabel(t, o, c, f) for i, t, o, c, f in rows.all()}


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(sa_select(col(User.id), col(User.name)).where(col(User.id).in_(wanted)))
    return {int(i): n for i, n in rows.all()}
