"""Pieces every use case shares: role checks, pagination, audit."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, TypeVarTuple, overload

from sqlalchemy import func, insert
from sqlmodel import Session, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from placement.errors import Forbidden, NotFound
from placement.models import AuditEvent, Organisation, Round, Trainee, User

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

MAX_PER_PAGE = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


@overload
def paginate(
    session: Session, statement: SelectOfScalar[T], page: int, per_page: int
) -> Page[T]: ...


@overload
def paginate(
    session: Session, statement: Select[*Ts], page: int, per_page: int
) -> Page[tuple[*Ts]]: ...


def paginate(session: Session, statement: Any, page: int, per_page: int) -> Page[Any]:
    """Run a select for one page; `statement` must already be ordered. A select of one
    model gives a page of that model, a select of several columns a page of tuples."""
    page = max(page, 1)
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(statement.limit(per_page).offset((page - 1) * per_page)).all()
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


def chunks(values: Sequence[T], size: int = 1000) -> Iterator[Sequence[T]]:
    """`values` in slices of `size`: IN lists that stay well inside every driver's limits."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def bulk_insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: COPY on Postgres, executemany else.
    Every row names the same columns, defaults included (no ORM defaults run here)."""
    if not rows:
        return
    bind = session.connection()
    if bind.dialect.name == "postgresql":
        _copy_rows(bind, model, rows)
    else:
        session.execute(insert(model.__table__), rows)


def _copy_rows(connection: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    """COPY on Postgres: about ten times faster than batched INSERTs for big runs."""
    table = model.__table__
    columns = list(rows[0].keys())
    json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
    raw = connection.connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])
