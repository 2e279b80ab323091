"""Pieces every use case shares: role checks, pagination, audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import func
from sqlalchemy.sql import Select
from sqlmodel import Session, select

from placement.errors import Forbidden, NotFound
from placement.models import AuditEvent, Organisation, Round, Trainee, User

T = TypeVar("T")

MAX_PER_PAGE = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


def paginate(session: Session, statement: Select[Any], page: int, per_page: int) -> Page[Any]:
    """Run a select for one page; `statement` must already be ordered."""
    page = max(page, 1)
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(statement.limit(per_page).offset((page - 1) * per_page)).all()  # type: ignore[call-overload]
    return Page(items=list(rows), total=int(total), page=page, per_page=per_page)


def require_role(actor: User | None, *roles: str) -> User:
    """The actor, if their role is one of `roles`; otherwise Forbidden."""
    if actor is None or actor.role not in roles:
        named = " or ".join(f"{'an' if role[0] in 'aeiou' else 'a'} {role}" for role in roles)
        raise Forbidden(f"Only {named} may do that.")
    return actor


def get_round(session: Session, round_id: int, *, actor: User | None = None) -> Round:
    """A round the actor may see: trainees and employers never see drafts."""
    rnd = session.get(Round, round_id)
    if rnd is None or (rnd.status == "draft" and (actor is None or actor.role != "coordinator")):
        raise NotFound("No such round.")
    return rnd


def audit(
    session: Session,
    *,
    actor: User | None,
    action: str,
    object_type: str = "",
    object_id: object = "",
    ip: str | None = None,
    **detail: Any,
) -> None:
    """Record who did what, when; written in the caller's transaction."""
    session.add(
        AuditEvent(
            actor_id=actor.id if actor is not None else None,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            detail=detail,
            ip=ip,
        )
    )


def organisation_of(session: Session, actor: User) -> Organisation | None:
    """The organisation an employer owns, if any."""
    if actor.role != "employer":
        return None
    return session.exec(select(Organisation).where(Organisation.owner_id == actor.id)).first()


def trainee_of(session: Session, actor: User) -> Trainee:
    """A trainee's own profile (every trainee account has one; erasure removes the login)."""
    require_role(actor, "trainee")
    profile = session.exec(select(Trainee).where(Trainee.user_id == actor.id)).first()
    if profile is None:
        raise NotFound("You have no trainee profile.")
    return profile


def utcnow() -> datetime:
    return datetime.now(UTC)
