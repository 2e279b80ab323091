"""The audit log: who changed what, when, from where, and to whom. Coordinators read it.

What an event holds
    `actor_id` (who; empty for the system and for anonymous callers), `at` (UTC), `ip`
    (from where), `action` (`noun.verb`), `object_type`/`object_id` (what), `round_id` and
    `trainee_id` (the round and the trainee it is about, for the filters) and `detail`. A
    change of personal or decision data keeps `detail["changes"]`:
    `{field: {"before": ..., "after": ...}}`, made by `common.changes` from a snapshot taken
    before the change. Secrets (password and token hashes, MFA secrets, recovery codes)
    never appear; a trainee's health `needs` and DBS certificate numbers are recorded as
    changed and shown as "(hidden)". Erasure scrubs the erased trainee's name, email and
    postcode from every event (see `privacy`).
Refused requests
    A 403 (page or API) is recorded as `request.deny`, at most one event per caller
    (account, or IP address when anonymous) and path per `DENY_WINDOW`: repeats within the
    window raise that event's `count` instead of adding rows, so they cannot flood the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, exists, func, or_
from sqlmodel import Session, col, select

from placement.models import AuditEvent, Trainee, User, utcnow
from placement.services.common import Page, audit, paginate, require_role

DENY_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class AuditFilters:
    """What the log is narrowed to; every field optional. `person` matches the name or
    email of the actor, of the trainee the event is about, or of the account it is about
    (case-insensitive, part of either); `until` includes its whole day."""

    action: str | None = None
    actor_id: int | None = None
    round_id: int | None = None
    trainee_id: int | None = None
    person: str | None = None
    since: date | None = None
    until: date | None = None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min).replace(tzinfo=utcnow().tzinfo)


def _like(value: str) -> str:
    escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _person_matches(person: str) -> Any:
    pattern = _like(person.strip())

    def named(name_col: Any, email_col: Any) -> Any:
        return or_(
            func.lower(name_col).like(pattern, escape="\\"),
            func.lower(func.coalesce(email_col, "")).like(pattern, escape="\\"),
        )

    users = select(User.id).where(named(col(User.name), col(User.email)))
    trainees = select(Trainee.id).where(named(col(Trainee.name), col(Trainee.email)))
    about_account = and_(
        col(AuditEvent.object_type) == "user",
        exists(
            select(User.id).where(
                named(col(User.name), col(User.email)),
                cast(col(User.id), String(50)) == col(AuditEvent.object_id),
            )
        ),
    )
    return or_(
        col(AuditEvent.actor_id).in_(users),
        col(AuditEvent.trainee_id).in_(trainees),
        about_account,
    )


def list_audit(
    *,
    session: Session,
    actor: User,
    action: str | None = None,
    actor_id: int | None = None,
    filters: AuditFilters | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[AuditEvent]:
    """Newest first, narrowed by `filters` (and the older `action`/`actor_id` arguments)."""
    require_role(actor, "coordinator")
    f = filters or AuditFilters()
    action = action or f.action
    actor_id = actor_id if actor_id is not None else f.actor_id
    statement = select(AuditEvent)
    if action:
        # A family by its noun ("login", "proposal"), or one action exactly.
        if "." in action:
            statement = statement.where(AuditEvent.action == action)
        else:
            statement = statement.where(col(AuditEvent.action).startswith(f"{action}."))
    if actor_id is not None:
        statement = statement.where(AuditEvent.actor_id == actor_id)
    if f.round_id is not None:
        statement = statement.where(AuditEvent.round_id == f.round_id)
    if f.trainee_id is not None:
        statement = statement.where(AuditEvent.trainee_id == f.trainee_id)
    if f.person and f.person.strip():
        statement = statement.where(_person_matches(f.person))
    if f.since is not None:
        statement = statement.where(col(AuditEvent.at) >= _day_start(f.since))
    if f.until is not None:
        statement = statement.where(col(AuditEvent.at) < _day_start(f.until + timedelta(days=1)))
    statement = statement.order_by(col(AuditEvent.id).desc())
    return paginate(session, statement, page, per_page)


def record_denied(
    *,
    session: Session,
    actor: User | None,
    method: str,
    path: str,
    status: int,
    message: str,
    ip: str | None = None,
) -> None:
    """Record a refused request in its own transaction: whatever the request did is
    rolled back first, the audit row is committed. Repeats by the same caller at the same
    path within `DENY_WINDOW` count on the first event instead of adding rows."""
    session.rollback()
    now = utcnow()
    object_id = f"{method} {path}"[:50]
    statement = (
        select(AuditEvent)
        .where(
            AuditEvent.action == "request.deny",
            AuditEvent.object_id == object_id,
            col(AuditEvent.at) >= now - DENY_WINDOW,
        )
        .order_by(col(AuditEvent.id).desc())
    )
    if actor is not None:
        statement = statement.where(AuditEvent.actor_id == actor.id)
    else:
        statement = statement.where(
            col(AuditEvent.actor_id).is_(None),
            (AuditEvent.ip == ip) if ip is not None else col(AuditEvent.ip).is_(None),
        )
    for event in session.exec(statement.limit(5)):
        if event.detail.get("path") == path[:300]:
            detail = dict(event.detail)
            detail["count"] = int(detail.get("count", 1)) + 1
            detail["last_at"] = now.isoformat()
            event.detail = detail
            session.commit()
            return
    audit(
        session,
        actor=actor,
        action="request.deny",
        object_type="request",
        object_id=object_id,
        ip=ip,
        status=status,
        method=method,
        path=path[:300],
        message=message[:300],
        count=1,
    )
    session.commit()
