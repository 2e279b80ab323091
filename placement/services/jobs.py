"""Long work in the background: approve-all, imports and the instance export as jobs.

A job row is the record of the work; the broker carries its id only, sent after the commit
that created it. A worker claims a job like a run (`services/runs/claims.py`): one
compare-and-set UPDATE that bumps `attempts`, a heartbeat while it works, and every later
write repeating the check on `attempts`. `reconcile` re-enqueues jobs the broker lost and
takes back jobs whose worker died (stale heartbeat); after `MAX_ATTEMPTS` the job fails.

A job ends with the synchronous route's answer: `code` (201, 200, or a domain error's
status) and `result` (its body; the instance file, being megabytes, as `result_gz`). A
domain error (a 422 listing bad rows, a 409) ends the job `failed` with that body.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Update, and_, delete, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from placement.config import Settings
from placement.db import get_engine, session_scope
from placement.errors import DomainError, NotFound
from placement.jobs import RUN_JOB_TASK
from placement.models import Job, JobStatus, MatchRun, User, utcnow
from placement.services import approvals, claiming, imports, instance_json
from placement.services.claiming import MAX_ATTEMPTS, gave_up, rows_matched, stale_before
from placement.services.common import get_round, require_role

log = logging.getLogger(__name__)

# Finished jobs (and their results) are kept this long, then purged (services/retention.py).
KEEP_FINISHED_DAYS = 7
KINDS = ("approve_all", "import_trainees", "import_slots", "export_instance")
TERMINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED)


class LostClaim(Exception):
    """Another attempt owns the job now (or it has finished): stop without writing."""


@dataclass(frozen=True)
class Claim:
    job_id: int
    attempt: int


@dataclass(frozen=True)
class Outcome:
    code: int
    body: Any


# --- the web side: start, read ---------------------------------------------------------------


def start_job(
    *,
    session: Session,
    actor: User,
    settings: Settings,
    kind: str,
    round_id: int | None = None,
    run_id: int | None = None,
    payload: bytes | None = None,
) -> Job:
    """Record a job for the coordinator, commit, then enqueue its id. What must exist (the
    round, the run) is checked now (404); the rest of the rules answer in the job's result."""
    require_role(actor, "coordinator")
    assert actor.id is not None
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    if run_id is not None:
        run = session.get(MatchRun, run_id)
        if run is None:
            raise NotFound("No such run.")
        round_id = run.round_id
    elif round_id is not None:
        get_round(session, round_id, actor=actor)
    job = Job(
        kind=kind,
        owner_id=actor.id,
        round_id=round_id,
        run_id=run_id,
        payload=payload,
        enqueued_at=utcnow(),
    )
    session.add(job)
    session.commit()
    assert job.id is not None
    enqueue_job(settings, job.id)
    return job


def enqueue_job(settings: Settings, job_id: int) -> bool:
    """Send the job id; False (logged) when the broker is unreachable (the reconciler will)."""
    return claiming.try_enqueue(settings, RUN_JOB_TASK, "job", job_id)


def get_job(*, session: Session, actor: User, job_id: int) -> Job:
    """The caller's own job; anyone else's is not found."""
    job = session.get(Job, job_id)
    if job is None or job.owner_id != actor.id:
        raise NotFound("No such job.")
    return job


def job_result(job: Job) -> Any:
    """The synchronous body the job ended with (None until it has)."""
    if job.result_gz is not None:
        return json.loads(gzip.decompress(job.result_gz))
    return job.result


def job_body(job: Job) -> dict[str, Any]:
    """`{id, kind, status, progress, result, error, ...}` as the API and the pages show it."""
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "code": job.code,
        "result": job_result(job),
        "error": job.error,
        "round_id": job.round_id,
        "run_id": job.run_id,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


# --- the worker side: claim, work, finish ----------------------------------------------------


def _owned(claim: Claim) -> ColumnElement[bool]:
    return and_(
        col(Job.id) == claim.job_id,
        col(Job.attempts) == claim.attempt,
        col(Job.status) == JobStatus.RUNNING,
    )


def claim_job(engine: Engine, settings: Settings, job_id: int) -> Claim | None:
    """Take the job for one attempt, or None when there is nothing to do."""
    with session_scope(engine) as session:
        job = session.execute(
            sa_select(
                col(Job.status), col(Job.attempts), col(Job.heartbeat_at), col(Job.error)
            ).where(col(Job.id) == job_id)
        ).first()
        if job is None or job.status in TERMINAL:
            return None
        stale = stale_before(settings)
        if job.status == JobStatus.RUNNING and job.heartbeat_at and job.heartbeat_at >= stale:
            return None  # another worker is on it
        seen = and_(
            col(Job.id) == job_id,
            col(Job.attempts) == job.attempts,
            col(Job.status) == job.status,
            or_(
                col(Job.status) == JobStatus.QUEUED,
                col(Job.heartbeat_at).is_(None),
                col(Job.heartbeat_at) < stale,
            ),
        )
        now = utcnow()
        if job.attempts >= MAX_ATTEMPTS:
            session.execute(
                update(Job)
                .where(seen)
                .values(
                    status=JobStatus.FAILED,
                    error=gave_up(job.error),
                    code=500,
                    result={"message": gave_up(job.error)},
                    payload=None,
                    finished_at=now,
                )
            )
            return None
        attempt = job.attempts + 1
        claimed = session.execute(
            update(Job)
            .where(seen)
            .values(
                status=JobStatus.RUNNING,
                attempts=attempt,
                progress=0.0,
                started_at=now,
                heartbeat_at=now,
                finished_at=None,
            )
        )
        if rows_matched(claimed) != 1:
            return None
        return Claim(job_id, attempt)


def report_progress(engine: Engine, claim: Claim, fraction: float) -> None:
    """Move progress forward (0..1) and beat the heart; LostClaim if the job is not ours."""
    value = min(1.0, max(0.0, fraction))
    with session_scope(engine) as session:
        moved = session.execute(
            update(Job).where(_owned(claim)).values(progress=value, heartbeat_at=utcnow())
        )
        if rows_matched(moved) != 1:
            raise LostClaim()


class Heartbeat(claiming.Heartbeat):
    """Keeps the job's `heartbeat_at` fresh while it works."""

    def __init__(self, engine: Engine, claim: Claim, settings: Settings) -> None:
        def beat() -> Update:
            return update(Job).where(_owned(claim)).values(heartbeat_at=utcnow())

        super().__init__(engine, settings, beat, name=f"job-{claim.job_id}")


def _plain(value: Any) -> Any:
    """A service's answer as JSON-ready data (dataclasses become dicts)."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def _error_body(exc: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {"message": exc.message}
    if exc.errors is not None:
        body["errors"] = exc.errors
    body.update(exc.extra)
    if exc.code:
        body["code"] = exc.code
    return body


def _perform(
    settings: Settings, kind: str, job: Job, actor: User, progress: Callable[[float], None]
) -> Outcome:
    """Call the service the synchronous route calls, in a session of its own."""
    with session_scope(settings) as session:
        actor = session.merge(actor, load=False)
        if kind == "approve_all":
            assert job.run_id is not None
            approved = approvals.approve_all(session=session, actor=actor, run_id=job.run_id)
            return Outcome(200, _plain(approved))
        if kind == "export_instance":
            assert job.round_id is not None
            progress(0.1)
            # The canonical file as the synchronous route sends it, written by the database.
            return Outcome(
                200,
                instance_json.export_instance_file(
                    session=session, actor=actor, round_id=job.round_id
                ),
            )
        assert job.round_id is not None and job.payload is not None
        result = imports.IMPORTERS[kind.removeprefix("import_")](
            session=session,
            actor=actor,
            round_id=job.round_id,
            data=job.payload,
            settings=settings,
            progress=progress,
        )
        return Outcome(201, _plain(result))


def _finish(
    engine: Engine,
    claim: Claim,
    status: str,
    outcome: Outcome,
    error: str | None,
    *,
    compress: bool = False,
) -> None:
    values: dict[str, Any] = {
        "status": status,
        "code": outcome.code,
        "error": error,
        "payload": None,
        "finished_at": utcnow(),
    }
    if status == JobStatus.SUCCEEDED:
        values["progress"] = 1.0
    if compress:
        # The instance file: megabytes of JSON, kept compressed.
        body = outcome.body
        if not isinstance(body, bytes):
            body = json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode()
        values["result_gz"] = gzip.compress(body, compresslevel=5)
        values["result"] = None
    else:
        values["result"] = json.loads(json.dumps(outcome.body, default=str))
    with session_scope(engine) as session:
        session.execute(update(Job).where(_owned(claim)).values(**values))


def execute_job(job_id: int, *, settings: Settings) -> str | None:
    """Claim the job and do it; returns the status it ended in (None: nothing to do)."""
    engine = get_engine(settings)
    claim = claim_job(engine, settings, job_id)
    if claim is None:
        return None
    with session_scope(engine, readonly=True) as session:
        job = session.get(Job, job_id)
        assert job is not None
        payload = job.payload
        session.expunge(job)
        job.payload = payload
        actor = session.get(User, job.owner_id)
        if actor is not None:
            session.expunge(actor)

    def progress(fraction: float) -> None:
        # On SQLite the work's own transaction holds the one write lock until it commits.
        if engine.dialect.name != "sqlite":
            report_progress(engine, claim, fraction)

    with Heartbeat(engine, claim, settings):
        try:
            if actor is None:
                raise NotFound("The user who asked for this job no longer exists.")
            outcome = _perform(settings, job.kind, job, actor, progress)
        except LostClaim:
            return None
        except DomainError as exc:
            failed = Outcome(exc.status, _error_body(exc))
            _finish(engine, claim, JobStatus.FAILED, failed, exc.message)
            return JobStatus.FAILED
        except Exception as exc:
            _retry_or_fail(engine, settings, claim, exc)
            raise
    compress = job.kind == "export_instance"
    _finish(engine, claim, JobStatus.SUCCEEDED, outcome, None, compress=compress)
    return JobStatus.SUCCEEDED


def _retry_or_fail(engine: Engine, settings: Settings, claim: Claim, exc: BaseException) -> None:
    message = f"attempt {claim.attempt}: {exc.__class__.__name__}: {exc}"[:2000]
    if claim.attempt >= MAX_ATTEMPTS:
        body = {"message": "The job could not be done; it was tried three times."}
        _finish(engine, claim, JobStatus.FAILED, Outcome(500, body), gave_up(message))
        return
    log.warning("job %s will be retried (%s)", claim.job_id, message, exc_info=exc)
    with session_scope(engine) as session:
        requeued = session.execute(
            update(Job)
            .where(_owned(claim))
            .values(status=JobStatus.QUEUED, error=message, enqueued_at=utcnow())
        )
        if rows_matched(requeued) != 1:
            return
    enqueue_job(settings, claim.job_id)


def reconcile(*, settings: Settings) -> list[int]:
    """Re-enqueue jobs the broker may have lost, and jobs whose worker died; returns their
    ids. A running job that has used its attempts fails instead (as runs do)."""
    engine = get_engine(settings)
    stale = stale_before(settings)
    not_recent = or_(col(Job.enqueued_at).is_(None), col(Job.enqueued_at) < stale)
    lost_worker = and_(
        col(Job.status) == JobStatus.RUNNING,
        or_(col(Job.heartbeat_at).is_(None), col(Job.heartbeat_at) < stale),
    )
    due = and_(not_recent, or_(col(Job.status) == JobStatus.QUEUED, lost_worker))
    with session_scope(engine, readonly=True) as session:
        rows = session.execute(
            sa_select(col(Job.id), col(Job.status), col(Job.attempts), col(Job.error))
            .where(due)
            .order_by(col(Job.id))
        ).all()
    requeued: list[int] = []
    for job_id, status, attempts, error in rows:
        same = and_(
            col(Job.id) == job_id, col(Job.status) == status, col(Job.attempts) == attempts, due
        )
        with session_scope(engine) as session:
            if status == JobStatus.RUNNING and attempts >= MAX_ATTEMPTS:
                message = gave_up(error)
                session.execute(
                    update(Job)
                    .where(same)
                    .values(
                        status=JobStatus.FAILED,
                        error=message,
                        code=500,
                        result={"message": message},
                        payload=None,
                        finished_at=utcnow(),
                    )
                )
                continue
            moved = session.execute(update(Job).where(same).values(enqueued_at=utcnow()))
            if rows_matched(moved) != 1:
                continue
        if enqueue_job(settings, job_id):
            requeued.append(job_id)
    return requeued


def purge_finished(session: Session, *, before: datetime) -> int:
    """Remove jobs that finished before `before` (retention); returns how many."""
    removed = session.execute(
        delete(Job).where(col(Job.status).in_(TERMINAL), col(Job.finished_at) < before)
    )
    return rows_matched(removed)
