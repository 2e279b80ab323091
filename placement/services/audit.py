"""The audit log: who did what, when. Coordinators read it."""

from __future__ import annotations

from sqlmodel import Session, col, select

from placement.models import AuditEvent, User
from placement.services.common import Page, audit, paginate, require_role


def list_audit(
    *,
    session: Session,
    actor: User,
    action: str | None = None,
    actor_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[AuditEvent]:
    """Newest first."""
    require_role(actor, "coordinator")
    statement = select(AuditEvent)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if actor_id is not None:
        statement = statement.where(AuditEvent.actor_id == actor_id)
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
    rolled back first, the audit row is committed."""
    session.rollback()
    audit(
        session,
        actor=actor,
        action="request.deny",
        object_type="request",
        object_id=f"{method} {path}"[:50],
        ip=ip,
        status=status,
        method=method,
        path=path[:300],
        message=message[:300],
    )
    session.commit()
