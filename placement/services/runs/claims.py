"""Claims on runs: how a run survives workers and brokers going away.

The database holds the truth; the broker only carries run ids. A worker *claims* a run
with one compare-and-set UPDATE (queued, or running with a stale heartbeat, at the attempt
count it read) that bumps `attempts`; every later write of that worker (progress,
heartbeat, the final result) repeats the check on `attempts` (`owned`), so once another
worker has taken a run over, the first one can no longer write anything. Exactly one
attempt commits proposals, together with the run's `succeeded` status, in one transaction.
A redelivered task for a finished run, or for a run whose heartbeat is fresh, does nothing.
`reconcile` re-enqueues runs queued for longer than `requeue_after` seconds and runs whose
heartbeat is older than that; after `MAX_ATTEMPTS` claims the run fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Update, and_, case, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from placement.config import Settings
from placement.db import get_engine, session_scope
from placement.models import MatchRun, RunStatus, utcnow
from placement.services import claiming
from placement.services.claiming import MAX_ATTEMPTS, gave_up, rows_matched, stale_before
from placement.services.runs.reading import enqueue_run

log = logging.getLogger(__name__)


class LostClaim(Exception):
    """Another attempt owns the run now (or it has finished): stop without writing."""


@dataclass(frozen=True)
class Claim:
    run_id: int
    attempt: int
    round_id: int
    weights: dict[str, float]
    allow_unranked: bool
    mode: str = "optimal"
    seed: int = 0


def owned(claim: Claim) -> ColumnElement[bool]:
    """The run is still running under this claim's attempt (every write repeats it)."""
    return and_(
        col(MatchRun.id) == claim.run_id,
        col(MatchRun.attempts) == claim.attempt,
        col(MatchRun.status) == RunStatus.RUNNING,
    )


def claim_run(engine: Engine, settings: Settings, run_id: int) -> Claim | None:
    """Take the run for one attempt, or None when there is nothing to do."""
    with session_scope(engine) as session:
        run = session.execute(
            sa_select(
                col(MatchRun.status),
                col(MatchRun.attempts),
                col(MatchRun.heartbeat_at),
                col(MatchRun.error),
                col(MatchRun.round_id),
                col(MatchRun.weights),
                col(MatchRun.allow_unranked),
                col(MatchRun.mode),
                col(MatchRun.seed),
            ).where(col(MatchRun.id) == run_id)
        ).first()
        if run is None or run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return None
        stale = stale_before(settings)
        if (
            run.status == RunStatus.RUNNING
            and run.heartbeat_at is not None
            and run.heartbeat_at >= stale
        ):
            return None  # another worker is on it
        seen = and_(
            col(MatchRun.id) == run_id,
            col(MatchRun.attempts) == run.attempts,
            col(MatchRun.status) == run.status,
            or_(
                col(MatchRun.status) == RunStatus.QUEUED,
                col(MatchRun.heartbeat_at).is_(None),
                col(MatchRun.heartbeat_at) < stale,
            ),
        )
        now = utcnow()
        if run.attempts >= MAX_ATTEMPTS:
            session.execute(
                update(MatchRun)
                .where(seen)
                .values(status=RunStatus.FAILED, error=gave_up(run.error), finished_at=now)
            )
            return None
        attempt = run.attempts + 1
        claimed = session.execute(
            update(MatchRun)
            .where(seen)
            .values(
                status=RunStatus.RUNNING,
                attempts=attempt,
                phase="loading",
                started_at=now,
                heartbeat_at=now,
                finished_at=None,
                # What an earlier attempt stored is not what this one will solve.
                instance_gz=None,
                instance_sha256=None,
                stats=None,
            )
        )
        if rows_matched(claimed) != 1:
            return None
        return Claim(
            run_id=run_id,
            attempt=attempt,
            round_id=run.round_id,
            weights=dict(run.weights),
            allow_unranked=run.allow_unranked,
            mode=run.mode,
            seed=int(run.seed),
        )


def current_claim(engine: Engine, run_id: int, attempt: int) -> Claim | None:
    """The claim of `attempt` if it still owns the run."""
    with session_scope(engine) as session:
        run = session.get(MatchRun, run_id)
        if run is None or run.status != RunStatus.RUNNING or run.attempts != attempt:
            return None
        return Claim(run_id, attempt, run.round_id, dict(run.weights), run.allow_unranked)


def advance(engine: Engine, claim: Claim, progress: int, phase: str | None = None) -> None:
    """Move progress forward (never back) and beat the heart; LostClaim if not ours."""
    values: dict[str, Any] = {
        "progress": case(
            (col(MatchRun.progress) < progress, progress), else_=col(MatchRun.progress)
        ),
        "heartbeat_at": utcnow(),
    }
    if phase is not None:
        values["phase"] = phase
    with session_scope(engine) as session:
        moved = session.execute(update(MatchRun).where(owned(claim)).values(**values))
        if rows_matched(moved) != 1:
            raise LostClaim()


def step_progress(engine: Engine, claim: Claim, step: int, ceiling: int) -> None:
    """Add `step` to progress without passing `ceiling` (for components solved in parallel)."""
    p = col(MatchRun.progress)
    with session_scope(engine) as session:
        session.execute(
            update(MatchRun)
            .where(owned(claim))
            .values(
                progress=case((p >= ceiling, p), (p + step > ceiling, ceiling), else_=p + step),
                heartbeat_at=utcnow(),
            )
        )


class Heartbeat(claiming.Heartbeat):
    """Keeps the run's `heartbeat_at` fresh while this attempt works."""

    def __init__(self, engine: Engine, claim: Claim, settings: Settings) -> None:
        def beat() -> Update:
            return update(MatchRun).where(owned(claim)).values(heartbeat_at=utcnow())

        super().__init__(engine, settings, beat, name=f"run-{claim.run_id}")


def fail(engine: Engine, claim: Claim, message: str) -> None:
    """Mark the run failed with `message`, if the claim still owns it."""
    with session_scope(engine) as session:
        session.execute(
            update(MatchRun)
            .where(owned(claim))
            .values(status=RunStatus.FAILED, error=message[:2000], finished_at=utcnow())
        )
    log.warning("run %s failed: %s", claim.run_id, message)


def retry_or_fail(engine: Engine, settings: Settings, claim: Claim, exc: BaseException) -> None:
    """Put the run back in the queue after `exc`, or fail it when attempts are used up."""
    message = f"attempt {claim.attempt}: {exc.__class__.__name__}: {exc}"
    if claim.attempt >= MAX_ATTEMPTS:
        fail(engine, claim, gave_up(message))
        return
    log.warning("run %s will be retried (%s)", claim.run_id, message, exc_info=exc)
    with session_scope(engine) as session:
        requeued = session.execute(
            update(MatchRun)
            .where(owned(claim))
            .values(status=RunStatus.QUEUED, error=message[:2000], enqueued_at=utcnow())
        )
        if rows_matched(requeued) != 1:
            return
    enqueue_run(settings, claim.run_id)


def reconcile(*, settings: Settings) -> list[int]:
    """Re-enqueue runs the broker may have lost; returns their ids.

    Queued runs not (re-)enqueued for `requeue_after` seconds, and running runs whose
    heartbeat and last enqueue are both older than that. A running run that has used its
    attempts fails instead. Each re-enqueue first moves `enqueued_at` with a conditional
    UPDATE, so reconcilers of several workers do not enqueue the same run twice in a row.
    """
    engine = get_engine(settings)
    stale = stale_before(settings)
    not_recent = or_(col(MatchRun.enqueued_at).is_(None), col(MatchRun.enqueued_at) < stale)
    lost_worker = and_(
        col(MatchRun.status) == RunStatus.RUNNING,
        or_(col(MatchRun.heartbeat_at).is_(None), col(MatchRun.heartbeat_at) < stale),
    )
    due = and_(not_recent, or_(col(MatchRun.status) == RunStatus.QUEUED, lost_worker))
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                col(MatchRun.id), col(MatchRun.status), col(MatchRun.attempts), col(MatchRun.error)
            )
            .where(due)
            .order_by(col(MatchRun.id))
        ).all()
    requeued: list[int] = []
    for run_id, status, attempts, error in rows:
        same = and_(
            col(MatchRun.id) == run_id,
            col(MatchRun.status) == status,
            col(MatchRun.attempts) == attempts,
            due,
        )
        with session_scope(engine) as session:
            if status == RunStatus.RUNNING and attempts >= MAX_ATTEMPTS:
                session.execute(
                    update(MatchRun)
                    .where(same)
                    .values(status=RunStatus.FAILED, error=gave_up(error), finished_at=utcnow())
                )
                continue
            moved = session.execute(update(MatchRun).where(same).values(enqueued_at=utcnow()))
            if rows_matched(moved) != 1:
                continue
        if not enqueue_run(settings, run_id):
            continue
        log.info("reconciler re-enqueued run %s (%s)", run_id, status)
        requeued.append(run_id)
    return requeued
