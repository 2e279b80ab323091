"""Pieces every use case shares: role checks, pagination, audit (with before/after values)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar, TypeVarTuple, overload

import orjson
from sqlalchemy import func, insert
from sqlmodel import Session, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from placement.errors import Forbidden, NotFound
from placement.models import (
    AuditEvent,
    Organisation,
    Round,
    Trainee,
    User,
    note_actors,
    utcnow,
)
from placement.models.actor_guard import ACTOR_COLUMNS

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# The address the current request came from, set by the web layer for each request (see
# placement/security.py): every audit event written while serving it records it.
request_ip: ContextVar[str | None] = ContextVar("request_ip", default=None)

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


Changes = dict[str, dict[str, Any]]

# Never stored in an audit event, before or after: a changed secret is recorded as changed.
SECRET_FIELDS = frozenset(
    {
        "password_hash",
        "token_hash",
        "totp_secret",
        "mfa_secret",
        "pending_mfa_secret",
        "recovery_codes",
        "recovery_code_hashes",
        "secret",
    }
)
# Health needs are special category data (UK GDPR art. 9): the log says they changed, and
# who changed them, but the text stays on the profile, where only its readers see it.
# DBS certificate numbers likewise.
MASKED_FIELDS = frozenset({"needs", "certificate_number"})
MASK = "(hidden)"
# Bookkeeping that changes with every write: no one asks who changed it.
UNAUDITED_FIELDS = frozenset({"updated_at", "heartbeat_at", "last_used_at", "last_login_at"})


def _secret(name: str) -> bool:
    """Secrets by name, so a new column holding one is masked without a list to update."""
    lowered = name.lower()
    return name in SECRET_FIELDS or any(
        word in lowered for word in ("password", "secret", "token", "recovery", "otp")
    )


def _plain_value(value: Any) -> Any:
    """A JSON value for an audit event (dates as ISO text, enums as their value)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return MASK
    return value


def snapshot(obj: Any, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """A model's column values as plain JSON values, to diff with `changes` later.

    Take it before changing the model; `changes(before, obj)` then says what changed."""
    if isinstance(obj, Mapping):
        values = dict(obj)
    else:
        names = fields if fields is not None else type(obj).model_fields
        values = {name: getattr(obj, name, None) for name in names}
    if fields is not None:
        values = {k: v for k, v in values.items() if k in set(fields)}
    return {k: _plain_value(v) for k, v in values.items() if k not in UNAUDITED_FIELDS}


def changes(before: Mapping[str, Any] | None, after: Any) -> Changes:
    """`{field: {"before": ..., "after": ...}}` for every field whose value differs.

    `before` is a `snapshot` (None for a created object), `after` a model, a snapshot or
    None (a deleted object). Secrets never appear (`SECRET_FIELDS`: both sides read
    "(hidden)"); `MASKED_FIELDS` are recorded as changed but hidden likewise."""
    old = dict(before or {})
    if after is None:
        new: dict[str, Any] = {}
    elif isinstance(after, Mapping) or before is None:
        new = snapshot(after)
    else:
        new = snapshot(after, fields=list(old))
    diff: Changes = {}
    for name in sorted(set(old) | set(new)):
        if name in UNAUDITED_FIELDS:
            continue
        was, now = old.get(name), new.get(name)
        if was == now:
            continue
        if _secret(name) or name in MASKED_FIELDS:
            diff[name] = {
                "before": None if was is None else MASK,
                "after": None if now is None else MASK,
            }
        else:
            diff[name] = {"before": was, "after": now}
    return diff


def audit(
    session: Session,
    *,
    actor: User | None,
    action: str,
    object_type: str = "",
    object_id: object = "",
    ip: str | None = None,
    changes: Changes | None = None,
    round_id: int | None = None,
    trainee_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Record who did what, when, to whom; written in the caller's transaction.

    `changes` comes from `changes(before, after)` and is kept as the event's
    `detail["changes"]`; `round_id` and `trainee_id` name the round and the trainee the
    event is about (the log filters by them)."""
    event = AuditEvent(
        **audit_values(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            ip=ip,
            changes=changes,
            round_id=round_id,
            trainee_id=trainee_id,
            **detail,
        )
    )
    session.add(event)
    return event


def audit_values(
    *,
    actor: User | None,
    action: str,
    object_type: str = "",
    object_id: object = "",
    ip: str | None = None,
    changes: Changes | None = None,
    round_id: int | None = None,
    trainee_id: int | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """The columns of the event `audit` records, `at` included, for a service that writes
    it with its own statement (a hot path's one INSERT)."""
    payload = {k: _plain_value(v) for k, v in detail.items()}
    if changes:
        payload["changes"] = changes
    return {
        "at": utcnow(),
        "actor_id": actor.id if actor is not None else None,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id)[:50],
        "detail": payload,
        "ip": ip if ip is not None else request_ip.get(),
        "round_id": round_id,
        "trainee_id": trainee_id,
    }


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
    actor_column = ACTOR_COLUMNS.get(model.__tablename__)
    if actor_column is not None:
        note_actors(session, {row.get(actor_column) for row in rows})
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
    positions = [i for i, c in enumerate(columns) if c in json_columns]
    with (
        raw.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN') as copy,
    ):
        if not positions:
            for row in rows:
                copy.write_row([row[c] for c in columns])
            return
        for row in rows:
            values = [row[c] for c in columns]
            for i in positions:
                values[i] = json_text(values[i])
            copy.write_row(values)


def json_text(value: Any) -> str:
    """JSON text of a value for a JSON column: orjson (several times faster than `json`
    for the big runs' rows), `json` for what orjson refuses (non-string keys, say)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)
