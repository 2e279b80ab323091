"""Retention: what is removed once it has been kept long enough (`placement purge`, and the
periodic job in workers/maintenance.py).

- Failed sign-in events (`login.fail`) and the login limiter's rows older than
  `retain_failed_logins_days`.
- API tokens and page sessions revoked, or expired (idle or past their absolute lifetime), more than
  `retain_tokens_days` ago.
- Notifications read more than `retain_read_notifications_days` ago (unread ones stay).
- The stored instance files of unpublished runs finished more than
  `retain_unpublished_instances_days` ago: the run, its proposals and its SHA-256 stay.
  A published run's instance is the public record and is kept: a run of a published
  round with an approved proposal, or, in a published round without any, its latest
  succeeded run. Queued and running runs are never touched.
- Background jobs (approve-all, imports, exports) finished more than
  `jobs.KEEP_FINISHED_DAYS` ago, with their results; queued and running jobs stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from placement.config import Settings
from placement.models import (
    ApiToken,
    AuditEvent,
    LoginFailure,
    MatchRun,
    Notification,
    Proposal,
    ProposalStatus,
    Round,
    RoundStatus,
    RunStatus,
    WebSession,
    utcnow,
)
from placement.services import jobs
from placement.services.common import audit

# Tokens expire after this long without use, or this long in all, unless the settings say
# otherwise (the session settings: PLACEMENT_SESSION_IDLE_HOURS, PLACEMENT_SESSION_MAX_DAYS).
DEFAULT_IDLE_HOURS = 8.0
DEFAULT_MAX_DAYS = 30.0


@dataclass(frozen=True)
class PurgeReport:
    failed_logins: int
    tokens: int
    read_notifications: int
    run_instances: int
    run_ids: list[int]
    jobs: int = 0

    def lines(self) -> list[str]:
        notes = [
            f"failed sign-in events removed: {self.failed_logins}",
            f"revoked or expired API tokens and page sessions removed: {self.tokens}",
            f"read notifications removed: {self.read_notifications}",
            f"stored instances of unpublished runs removed: {self.run_instances}"
            + (f" (runs {', '.join(map(str, self.run_ids))})" if self.run_ids else ""),
            f"finished background jobs removed: {self.jobs}",
        ]
        return notes


def _published_runs() -> Any:
    """Ids of the runs whose instance is a public record (see the module docstring)."""
    published_round = sa_select(col(Round.id)).where(col(Round.status) == RoundStatus.PUBLISHED)
    # Per run, through the run index (proposals.status has no index of its own).
    approved = exists().where(
        col(Proposal.run_id) == col(MatchRun.id),
        col(Proposal.status) == ProposalStatus.APPROVED,
    )
    other = MatchRun.__table__.alias("other_run")  # type: ignore[attr-defined]
    newer_succeeded = exists().where(
        other.c.round_id == col(MatchRun.round_id),
        other.c.status == RunStatus.SUCCEEDED,
        other.c.id > col(MatchRun.id),
    )
    round_has_approval = exists().where(
        col(Proposal.status) == ProposalStatus.APPROVED,
        col(Proposal.run_id).in_(
            sa_select(other.c.id).where(other.c.round_id == col(MatchRun.round_id))
        ),
    )
    return sa_select(col(MatchRun.id)).where(
        col(MatchRun.round_id).in_(published_round),
        or_(
            approved,
            and_(
                col(MatchRun.status) == RunStatus.SUCCEEDED,
                ~newer_succeeded,
                ~round_has_approval,
            ),
        ),
    )


def purge(*, session: Session, settings: Settings, now: datetime | None = None) -> PurgeReport:
    """Remove what is past its retention (see the module docstring), in one transaction,
    and record what was removed in the audit log."""
    now = now or utcnow()

    def days_ago(days: float) -> datetime:
        return now - timedelta(days=days)

    failed = session.execute(
        delete(AuditEvent).where(
            col(AuditEvent.action) == "login.fail",
            col(AuditEvent.at) < days_ago(settings.retain_failed_logins_days),
        )
    ).rowcount  # type: ignore[attr-defined]

    keep_tokens = days_ago(settings.retain_tokens_days)
    idle = timedelta(hours=float(getattr(settings, "session_idle_hours", DEFAULT_IDLE_HOURS)))
    lifetime = timedelta(days=float(getattr(settings, "session_max_days", DEFAULT_MAX_DAYS)))
    tokens = session.execute(
        delete(ApiToken).where(
            or_(
                col(ApiToken.revoked_at) < keep_tokens,
                func.coalesce(col(ApiToken.last_used_at), col(ApiToken.created_at))
                < keep_tokens - idle,
                col(ApiToken.created_at) < keep_tokens - lifetime,
            )
        )
    ).rowcount  # type: ignore[attr-defined]

    # The same ages for page sessions (the cookie's records) and the login limiter's rows.
    tokens += session.execute(
        delete(WebSession).where(
            or_(
                col(WebSession.revoked_at) < keep_tokens,
                func.coalesce(col(WebSession.last_used_at), col(WebSession.created_at))
                < keep_tokens - idle,
                col(WebSession.created_at) < keep_tokens - lifetime,
            )
        )
    ).rowcount  # type: ignore[attr-defined]
    failed += session.execute(
        delete(LoginFailure).where(
            col(LoginFailure.at) < days_ago(settings.retain_failed_logins_days)
        )
    ).rowcount  # type: ignore[attr-defined]

    read = session.execute(
        delete(Notification).where(
            col(Notification.read_at).is_not(None),
            col(Notification.read_at) < days_ago(settings.retain_read_notifications_days),
        )
    ).rowcount  # type: ignore[attr-defined]

    finished = func.coalesce(col(MatchRun.finished_at), col(MatchRun.created_at))
    stale = list(
        session.execute(
            sa_select(col(MatchRun.id))
            .where(
                col(MatchRun.instance_gz).is_not(None),
                col(MatchRun.status).in_([RunStatus.SUCCEEDED, RunStatus.FAILED]),
                finished < days_ago(settings.retain_unpublished_instances_days),
                col(MatchRun.id).not_in(_published_runs()),
            )
            .order_by(col(MatchRun.id))
        ).scalars()
    )
    if stale:
        session.execute(
            update(MatchRun)
            .where(col(MatchRun.id).in_(stale))
            .values(instance_gz=None)
            .execution_options(synchronize_session=False)
        )
    finished_jobs = jobs.purge_finished(session, before=days_ago(jobs.KEEP_FINISHED_DAYS))
    report = PurgeReport(
        failed_logins=int(failed),
        tokens=int(tokens),
        read_notifications=int(read),
        run_instances=len(stale),
        run_ids=stale,
        jobs=finished_jobs,
    )
    audit(
        session,
        actor=None,
        action="retention.purge",
        object_type="system",
        failed_logins=report.failed_logins,
        tokens=report.tokens,
        read_notifications=report.read_notifications,
        run_instances=report.run_instances,
        run_ids=stale[:1000],
        jobs=finished_jobs,
    )
    session.commit()
    return report
