"""Match runs: start one, run it in a worker, read its proposals and explanations.

How a run survives workers and brokers going away
    The database holds the truth; the broker only carries run ids. A worker *claims* a run
    with one compare-and-set UPDATE (queued, or running with a stale heartbeat, at the
    attempt count it read) that bumps `attempts`; every later write of that worker (progress,
    heartbeat, the final result) repeats the check on `attempts`, so once another worker has
    taken a run over, the first one can no longer write anything. Exactly one attempt
    commits proposals, together with the run's `succeeded` status, in one transaction.
    A redelivered task for a finished run, or for a run whose heartbeat is fresh, does
    nothing. `reconcile` re-enqueues runs queued for longer than `requeue_after` seconds and
    runs whose heartbeat is older than that; after `MAX_ATTEMPTS` claims the run fails.

The instance a run solved
    The attempt that loads the round stores the instance file it built on the run (gzip of
    the canonical JSON, and the SHA-256 of that JSON), with the same check on `attempts`,
    before it solves; claiming a run clears what an earlier attempt stored. So the stored
    instance is always the one the current (or last) attempt solved, and the one behind a
    succeeded run's proposals. Fanned-out component tasks and the merge read that stored
    instance rather than the round, and explanations read it rather than the round as it
    is now. Runs made before instances were stored fall back to rebuilding the round.

Errors
    An invalid instance or an error inside the engine fails the run at once with the
    message: trying again would give the same answer. Any other error (the database going
    away, say) puts the run back in the queue until `MAX_ATTEMPTS` is reached.

Test-only knob
    `PLACEMENT_TEST_SLOW_WRITE_SECONDS` makes the writing phase sleep that long before it
    writes, so the recovery tests can kill a worker mid-run deterministically. It is read
    from the environment only, logged loudly when set, and must never be set in production.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, delete, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from placement import matching
from placement.config import Settings
from placement.db import get_engine, session_scope
from placement.errors import InvalidInput, NotFound, WrongState
from placement.jobs import RUN_MATCH_TASK, enqueue
from placement.models import (
    PROPOSAL_STATUSES,
    MatchRun,
    Proposal,
    UnplacedTrainee,
    User,
    utcnow,
)
from placement.services.common import (
    Page,
    audit,
    bulk_insert,
    get_round,
    paginate,
    require_role,
)
from placement.services.instances import build, resolve_weights

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
SLOW_WRITE_ENV = "PLACEMENT_TEST_SLOW_WRITE_SECONDS"
FANOUT_ENV = "PLACEMENT_FANOUT_MIN_TRAINEES"
# A component is worth its own task only when it is large: each task reads and parses the
# whole stored instance.
DEFAULT_FANOUT_MIN_TRAINEES = 5000

# gzip level of stored instances: at 145,000 trainees level 1 turns 58 MB of JSON into 12 MB
# in 0.45 s; level 6 saves 3 MB more for 1.2 s more in the run's critical path.
INSTANCE_GZIP_LEVEL = 1

# Progress milestones (percent) of one attempt.
P_LOADING, P_LOADED, P_SOLVING, P_SOLVED, P_WRITING = 2, 15, 25, 80, 85

FanOut = Callable[[int, int, list[list[int]]], None]
"""Sends component groups of a run (run id, attempt, component indices per task) to workers."""


class LostClaim(Exception):
    """Another attempt owns the run now (or it has finished): stop without writing."""


class SolverFailure(Exception):
    """The instance is invalid or the engine failed: retrying would fail the same way."""


# --- starting and reading runs ----------------------------------------------------------


def start_run(
    *,
    session: Session,
    actor: User | None,
    round_id: int,
    weights: dict[str, Any] | None = None,
    allow_unranked: bool = False,
    settings: Settings,
) -> MatchRun:
    """Create a queued run for a closed round, commit, then enqueue its id.

    If the broker is unreachable the run stays queued and the reconciler of any worker
    enqueues it later: the database, not the broker, is the record of work to do.
    """
    actor = require_role(actor, "coordinator")
    rnd = get_round(session, round_id, actor=actor)
    if rnd.status != "closed":
        raise WrongState(f"A run needs a closed round; this round is {rnd.status}.")
    resolved = resolve_weights(weights)
    now = utcnow()
    run = MatchRun(
        round_id=round_id,
        status="queued",
        phase="queued",
        progress=0,
        weights=resolved,
        allow_unranked=bool(allow_unranked),
        created_by=actor.id,
        created_at=now,
        enqueued_at=now,
    )
    session.add(run)
    session.flush()
    audit(
        session,
        actor=actor,
        action="run.start",
        object_type="match_run",
        object_id=run.id,
        round_id=round_id,
        weights=resolved,
        allow_unranked=bool(allow_unranked),
    )
    session.commit()
    assert run.id is not None
    _enqueue(settings, run.id)
    return run


def _enqueue(settings: Settings, run_id: int) -> bool:
    """Send the run id; False (logged) when the broker is unreachable."""
    if settings.embedded_broker:
        # The embedded broker is a SQLite file; its directory may not exist yet.
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
    try:
        enqueue(settings, RUN_MATCH_TASK, run_id)
    except Exception:
        log.warning("could not enqueue run %s; the reconciler will", run_id, exc_info=True)
        return False
    return True


def list_runs(
    *, session: Session, actor: User | None, round_id: int, page: int = 1, per_page: int = 50
) -> Page[MatchRun]:
    """The round's runs, newest first."""
    require_role(actor, "coordinator")
    get_round(session, round_id, actor=actor)
    statement = (
        select(MatchRun).where(col(MatchRun.round_id) == round_id).order_by(col(MatchRun.id).desc())
    )
    return paginate(session, statement, page, per_page)


def get_run(*, session: Session, actor: User | None, run_id: int) -> MatchRun:
    require_role(actor, "coordinator")
    run = session.get(MatchRun, run_id)
    if run is None:
        raise NotFound("No such run.")
    return run


def list_proposals(
    *,
    session: Session,
    actor: User | None,
    run_id: int,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Proposal]:
    """The run's proposals in id order, optionally of one status."""
    get_run(session=session, actor=actor, run_id=run_id)
    statement = select(Proposal).where(col(Proposal.run_id) == run_id)
    if status is not None:
        if status not in PROPOSAL_STATUSES:
            raise InvalidInput(
                "Unknown proposal status.",
                errors={"status": [f"must be one of {', '.join(PROPOSAL_STATUSES)}"]},
            )
        statement = statement.where(col(Proposal.status) == status)
    return paginate(session, statement.order_by(col(Proposal.id)), page, per_page)


def list_unplaced(
    *, session: Session, actor: User | None, run_id: int, page: int = 1, per_page: int = 50
) -> Page[UnplacedTrainee]:
    get_run(session=session, actor=actor, run_id=run_id)
    statement = (
        select(UnplacedTrainee)
        .where(col(UnplacedTrainee.run_id) == run_id)
        .order_by(col(UnplacedTrainee.id))
    )
    return paginate(session, statement, page, per_page)


# --- the instance a run solved ---------------------------------------------------------


@dataclass(frozen=True)
class InstanceFile:
    """An instance file exactly as a run stored it: canonical JSON bytes and their SHA-256."""

    content: bytes
    sha256: str

    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.content)
        return loaded


def canonical_instance(data: Mapping[str, Any]) -> bytes:
    """The canonical JSON of an instance: sorted keys, no whitespace, ASCII only.

    The same document always gives the same bytes, so its SHA-256 identifies it.
    """
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii")


def pack_instance(data: Mapping[str, Any]) -> tuple[bytes, str]:
    """What a run stores: the gzip of the canonical JSON (no timestamp in the header, so
    the bytes are reproducible too) and the hex SHA-256 of the uncompressed JSON."""
    content = canonical_instance(data)
    packed = gzip.compress(content, compresslevel=INSTANCE_GZIP_LEVEL, mtime=0)
    return packed, hashlib.sha256(content).hexdigest()


def _unpack(run_id: int, packed: bytes, sha256: str | None) -> InstanceFile:
    content = gzip.decompress(packed)
    digest = hashlib.sha256(content).hexdigest()
    if sha256 is not None and digest != sha256:
        # Not a user error: the stored bytes were damaged or written behind our back.
        raise RuntimeError(f"run {run_id}: the stored instance does not match its SHA-256")
    return InstanceFile(content=content, sha256=digest)


def stored_instance(*, session: Session, run_id: int) -> InstanceFile:
    """The instance file the run solved (or is solving), exactly as stored.

    No authorisation: for the CLI and other services; callers acting for a user use
    `run_instance_file`. NotFound for an unknown run and for a run with no stored instance
    (it has not loaded its round yet, or ran before runs kept their instances).
    """
    row = session.execute(
        sa_select(col(MatchRun.instance_gz), col(MatchRun.instance_sha256)).where(
            col(MatchRun.id) == run_id
        )
    ).first()
    if row is None:
        raise NotFound("No such run.")
    if row.instance_gz is None:
        raise NotFound(
            "No instance is stored for this run: it has not loaded its round yet, or it ran "
            "before runs kept their instances (export the round's instance instead)."
        )
    return _unpack(run_id, row.instance_gz, row.instance_sha256)


def run_instance_file(*, session: Session, actor: User | None, run_id: int) -> InstanceFile:
    """The run's stored instance file with its SHA-256; coordinators only."""
    require_role(actor, "coordinator")
    return stored_instance(session=session, run_id=run_id)


def run_instance(*, session: Session, actor: User | None, run_id: int) -> dict[str, Any]:
    """The `placement-instance/1` document the run solved; coordinators only."""
    return run_instance_file(session=session, actor=actor, run_id=run_id).data()


# --- explanations -----------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _run_result(session: Session, run: MatchRun) -> tuple[Any, Any]:
    """The instance the run solved and its result from the stored rows.

    The stored instance when there is one; for runs made before instances were stored,
    the round rebuilt as it stands now with the run's weights (an approximation: profiles
    may have changed since).
    """
    if run.status != "succeeded":
        raise WrongState("The run has not succeeded; there is nothing to explain yet.")
    assert run.id is not None
    packed, sha256 = session.execute(
        sa_select(col(MatchRun.instance_gz), col(MatchRun.instance_sha256)).where(
            col(MatchRun.id) == run.id
        )
    ).one()
    proposals = session.execute(
        sa_select(
            col(Proposal.trainee_id),
            col(Proposal.slot_id),
            col(Proposal.rank),
            col(Proposal.cost),
            col(Proposal.terms),
        ).where(col(Proposal.run_id) == run.id)
    ).all()
    unplaced = session.execute(
        select(col(UnplacedTrainee.trainee_id), col(UnplacedTrainee.reason)).where(
            col(UnplacedTrainee.run_id) == run.id
        )
    ).all()
    if packed is not None:
        instance = matching.load_instance(_unpack(run.id, packed, sha256).data())
    else:
        built = build(
            session=session,
            round_id=run.round_id,
            weights=run.weights,
            allow_unranked=run.allow_unranked,
        )
        # Approximately the round as the run saw it: trainees the run proposed or left
        # unplaced were not locked then, whatever has been approved since.
        decided = {str(p.trainee_id) for p in proposals} | {str(u.trainee_id) for u in unplaced}
        data = dict(built.data)
        data["locked"] = [p for p in data["locked"] if p["trainee_id"] not in decided]
        instance = matching.load_instance(data)
    assignments = [
        matching.Assignment(
            trainee_id=str(p.trainee_id),
            slot_id=str(p.slot_id),
            rank=p.rank,
            cost=p.cost,
            terms=dict(p.terms),
            locked=False,
        )
        for p in proposals
    ]
    # Pairs locked when the run ran (approved before it).
    assignments += [
        matching.Assignment(
            trainee_id=str(pair.trainee_id),
            slot_id=str(pair.slot_id),
            rank=None,
            cost=0.0,
            terms={},
            locked=True,
        )
        for pair in instance.locked
    ]
    result = matching.Result(
        assignments=tuple(assignments),
        unplaced=tuple(
            matching.Unplaced(trainee_id=str(u.trainee_id), reason=u.reason) for u in unplaced
        ),
        stats=matching.Stats(**_stats_fields(run.stats or {})),
    )
    return instance, result


def _stats_fields(stats: dict[str, Any]) -> dict[str, Any]:
    names = [f for f in getattr(matching.Stats, "__dataclass_fields__", {})]
    return {name: stats.get(name, 0) for name in names}


def result_from_dict(data: dict[str, Any]) -> Any:
    """A `placement-result/1` dict (as a fanned-out component returns it) back into a Result."""
    return matching.Result(
        assignments=tuple(
            matching.Assignment(
                trainee_id=a["trainee_id"],
                slot_id=a["slot_id"],
                rank=a["rank"],
                cost=a["cost"],
                terms=dict(a["terms"]),
                locked=a["locked"],
            )
            for a in data["assignments"]
        ),
        unplaced=tuple(
            matching.Unplaced(trainee_id=u["trainee_id"], reason=u["reason"])
            for u in data["unplaced"]
        ),
        stats=matching.Stats(**_stats_fields(data["stats"])),
    )


def explain_trainee(
    *, session: Session, actor: User | None, run_id: int, trainee_id: int
) -> list[dict[str, Any]]:
    """Why the trainee got what they got in this run: one entry per choice ranked above
    their outcome (ineligible and which rule, or full and who took it at what cost).

    Judged on the instance the run stored, so the answer does not change when profiles,
    preferences or placements change after the run (older runs without a stored instance
    are judged on the round rebuilt as it stands).
    """
    run = get_run(session=session, actor=actor, run_id=run_id)
    instance, result = _run_result(session, run)
    if str(trainee_id) not in {str(t.id) for t in instance.trainees}:
        raise NotFound("That trainee was not part of this run.")
    explained = matching.explain(instance, result, str(trainee_id))
    if isinstance(explained, dict):
        explained = [explained]
    return [_jsonable(item) for item in explained]


def explain_proposal(*, session: Session, actor: User | None, proposal_id: int) -> dict[str, Any]:
    """A proposal with its cost terms and the reasons its trainee did not get a better slot."""
    require_role(actor, "coordinator")
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound("No such proposal.")
    reasons = explain_trainee(
        session=session, actor=actor, run_id=proposal.run_id, trainee_id=proposal.trainee_id
    )
    return {
        "proposal_id": proposal.id,
        "run_id": proposal.run_id,
        "trainee_id": proposal.trainee_id,
        "slot_id": proposal.slot_id,
        "rank": proposal.rank,
        "cost": proposal.cost,
        "terms": dict(proposal.terms),
        "status": proposal.status,
        "reasons": reasons,
    }


# --- the worker side --------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    run_id: int
    attempt: int
    round_id: int
    weights: dict[str, float]
    allow_unranked: bool


def _rows(result: Any) -> int:
    """Rows an UPDATE or DELETE matched (the compare-and-set outcome)."""
    return int(result.rowcount)


def _stale_before(settings: Settings) -> Any:
    return utcnow() - timedelta(seconds=settings.requeue_after)


def _owned(claim: Claim) -> Any:
    return and_(
        col(MatchRun.id) == claim.run_id,
        col(MatchRun.attempts) == claim.attempt,
        col(MatchRun.status) == "running",
    )


def _claim(engine: Engine, settings: Settings, run_id: int) -> Claim | None:
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
            ).where(col(MatchRun.id) == run_id)
        ).first()
        if run is None or run.status in ("succeeded", "failed"):
            return None
        stale = _stale_before(settings)
        if run.status == "running" and run.heartbeat_at is not None and run.heartbeat_at >= stale:
            return None  # another worker is on it
        seen = and_(
            col(MatchRun.id) == run_id,
            col(MatchRun.attempts) == run.attempts,
            col(MatchRun.status) == run.status,
            or_(
                col(MatchRun.status) == "queued",
                col(MatchRun.heartbeat_at).is_(None),
                col(MatchRun.heartbeat_at) < stale,
            ),
        )
        now = utcnow()
        if run.attempts >= MAX_ATTEMPTS:
            session.execute(
                update(MatchRun)
                .where(seen)
                .values(status="failed", error=_gave_up(run.error), finished_at=now)
            )
            return None
        attempt = run.attempts + 1
        claimed = session.execute(
            update(MatchRun)
            .where(seen)
            .values(
                status="running",
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
        if _rows(claimed) != 1:
            return None
        return Claim(
            run_id=run_id,
            attempt=attempt,
            round_id=run.round_id,
            weights=dict(run.weights),
            allow_unranked=run.allow_unranked,
        )


def _gave_up(last_error: str | None) -> str:
    reason = last_error or "the worker running it stopped (lost, killed or out of memory)"
    return f"Gave up after {MAX_ATTEMPTS} attempts; last: {reason}"


def _current(engine: Engine, run_id: int, attempt: int) -> Claim | None:
    """The claim of `attempt` if it still owns the run."""
    with session_scope(engine) as session:
        run = session.get(MatchRun, run_id)
        if run is None or run.status != "running" or run.attempts != attempt:
            return None
        return Claim(run_id, attempt, run.round_id, dict(run.weights), run.allow_unranked)


def _advance(engine: Engine, claim: Claim, progress: int, phase: str | None = None) -> None:
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
        moved = session.execute(update(MatchRun).where(_owned(claim)).values(**values))
        if _rows(moved) != 1:
            raise LostClaim()


def _step(engine: Engine, claim: Claim, step: int, ceiling: int) -> None:
    """Add `step` to progress without passing `ceiling` (for components solved in parallel)."""
    p = col(MatchRun.progress)
    with session_scope(engine) as session:
        session.execute(
            update(MatchRun)
            .where(_owned(claim))
            .values(
                progress=case((p >= ceiling, p), (p + step > ceiling, ceiling), else_=p + step),
                heartbeat_at=utcnow(),
            )
        )


class _Heartbeat:
    """Keeps `heartbeat_at` fresh from a thread while the attempt works (the solver may hold
    the GIL for a while; the interval is a quarter of the staleness limit)."""

    def __init__(self, engine: Engine, claim: Claim, settings: Settings) -> None:
        self.engine, self.claim = engine, claim
        self.interval = max(0.2, settings.requeue_after / 4)
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat-run-{claim.run_id}", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with session_scope(self.engine) as session:
                    beat = session.execute(
                        update(MatchRun).where(_owned(self.claim)).values(heartbeat_at=utcnow())
                    )
                    if _rows(beat) != 1:
                        self.lost = True
                        return
            except Exception:
                log.warning("heartbeat of run %s failed", self.claim.run_id, exc_info=True)


def _fail(engine: Engine, claim: Claim, message: str) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(MatchRun)
            .where(_owned(claim))
            .values(status="failed", error=message[:2000], finished_at=utcnow())
        )
    log.warning("run %s failed: %s", claim.run_id, message)


def _retry_or_fail(engine: Engine, settings: Settings, claim: Claim, exc: BaseException) -> None:
    message = f"attempt {claim.attempt}: {exc.__class__.__name__}: {exc}"
    if claim.attempt >= MAX_ATTEMPTS:
        _fail(engine, claim, _gave_up(message))
        return
    log.warning("run %s will be retried (%s)", claim.run_id, message, exc_info=exc)
    with session_scope(engine) as session:
        requeued = session.execute(
            update(MatchRun)
            .where(_owned(claim))
            .values(status="queued", error=message[:2000], enqueued_at=utcnow())
        )
        if _rows(requeued) != 1:
            return
    _enqueue(settings, claim.run_id)


def _fanout_min_trainees() -> int:
    raw = os.environ.get(FANOUT_ENV, "")
    return int(raw) if raw.strip() else DEFAULT_FANOUT_MIN_TRAINEES


def plan_fanout(parts: Sequence[Any], min_trainees: int | None = None) -> list[list[int]]:
    """Component groups worth solving on separate workers: one task per component with at
    least `min_trainees` trainees, plus one for all the small ones. Empty when fewer than
    two components are large (then one task solves the whole round)."""
    threshold = _fanout_min_trainees() if min_trainees is None else min_trainees
    big = [i for i, part in enumerate(parts) if len(part.trainees) >= threshold]
    if len(big) < 2:
        return []
    small = [i for i in range(len(parts)) if i not in set(big)]
    return [[i] for i in big] + ([small] if small else [])


def _slow_write_for_tests() -> None:
    raw = os.environ.get(SLOW_WRITE_ENV, "")
    if not raw.strip():
        return
    seconds = float(raw)
    log.warning("%s=%s is set: sleeping in the writing phase (tests only)", SLOW_WRITE_ENV, raw)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _load(engine: Engine, claim: Claim) -> tuple[Any, dict[str, Any]]:
    """Read the round, store its instance on the run, then validate it; the timings and
    left-out counts. An invalid instance is stored too, so it can be examined offline."""
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        built = build(
            session=session,
            round_id=claim.round_id,
            weights=claim.weights,
            allow_unranked=claim.allow_unranked,
        )
    t1 = time.perf_counter()
    try:
        packed, sha256 = pack_instance(built.data)
    except ValueError as exc:  # a non-finite number
        raise SolverFailure(f"invalid instance: {exc}") from exc
    _store_instance(engine, claim, packed, sha256)
    t2 = time.perf_counter()
    try:
        instance = matching.load_instance(built.data)
    except matching.InstanceError as exc:
        raise SolverFailure(f"invalid instance: {exc}") from exc
    t3 = time.perf_counter()
    extra: dict[str, Any] = {
        "load_seconds": round(t1 - t0, 4),
        "store_seconds": round(t2 - t1, 4),
        "build_seconds": round(t3 - t2, 4),
        "trainees": len(built.data["trainees"]),
        "slots": len(built.data["slots"]),
    }
    if built.left_out:
        extra["left_out"] = built.left_out
    return instance, extra


def _store_instance(engine: Engine, claim: Claim, packed: bytes, sha256: str) -> None:
    """Keep the instance this attempt solves on the run; LostClaim if it is not ours."""
    with session_scope(engine) as session:
        stored = session.execute(
            update(MatchRun)
            .where(_owned(claim))
            .values(instance_gz=packed, instance_sha256=sha256, heartbeat_at=utcnow())
        )
        if _rows(stored) != 1:
            raise LostClaim()


def _keep_load_stats(engine: Engine, claim: Claim, extra: dict[str, Any]) -> None:
    """Keep what loading found (timings, left-out counts) on the run while its components
    are solved elsewhere, for `finish_components` to write with the merged result."""
    with session_scope(engine) as session:
        kept = session.execute(update(MatchRun).where(_owned(claim)).values(stats=extra))
        if _rows(kept) != 1:
            raise LostClaim()


def _load_stored(engine: Engine, claim: Claim) -> tuple[Any, dict[str, Any]]:
    """The instance this attempt stored (for fanned-out pieces: they solve exactly what the
    attempt loaded, whatever has changed in the round since), with the load stats kept by
    `_keep_load_stats`; LostClaim if not ours."""
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        row = session.execute(
            sa_select(
                col(MatchRun.instance_gz), col(MatchRun.instance_sha256), col(MatchRun.stats)
            ).where(_owned(claim))
        ).first()
    if row is None or row.instance_gz is None:
        raise LostClaim()
    data = _unpack(claim.run_id, row.instance_gz, row.instance_sha256).data()
    try:
        instance = matching.load_instance(data)
    except matching.InstanceError as exc:
        raise SolverFailure(f"invalid instance: {exc}") from exc
    extra: dict[str, Any] = dict(row.stats or {})
    extra["reload_seconds"] = round(time.perf_counter() - t0, 4)
    extra["trainees"] = len(data["trainees"])
    extra["slots"] = len(data["slots"])
    return instance, extra


def _solve(instance: Any) -> Any:
    try:
        return matching.solve(instance)
    except Exception as exc:
        raise SolverFailure(f"solver error: {exc.__class__.__name__}: {exc}") from exc


def _write(engine: Engine, claim: Claim, result: Any, extra: dict[str, Any]) -> None:
    """Replace the run's proposals and unplaced rows and mark it succeeded, atomically."""
    t0 = time.perf_counter()
    proposals = [
        {
            "run_id": claim.run_id,
            "trainee_id": int(a.trainee_id),
            "slot_id": int(a.slot_id),
            "rank": a.rank,
            "cost": float(a.cost),
            "terms": {k: float(v) for k, v in a.terms.items()},
            "status": "proposed",
        }
        for a in result.assignments
        if not a.locked
    ]
    unplaced = [
        {"run_id": claim.run_id, "trainee_id": int(u.trainee_id), "reason": u.reason}
        for u in result.unplaced
    ]
    with session_scope(engine) as session:
        started_at = session.execute(
            select(col(MatchRun.started_at)).where(col(MatchRun.id) == claim.run_id)
        ).scalar_one()
        # An attempt only ever commits together with `succeeded`: these deletes find
        # nothing unless something outside this module wrote rows for a running run.
        session.execute(delete(Proposal).where(col(Proposal.run_id) == claim.run_id))
        session.execute(delete(UnplacedTrainee).where(col(UnplacedTrainee.run_id) == claim.run_id))
        bulk_insert(session, Proposal, proposals)
        bulk_insert(session, UnplacedTrainee, unplaced)
        now = utcnow()
        stats = {k: _plain(v) for k, v in _jsonable(result.stats).items()}
        stats.update(extra)
        stats["write_seconds"] = round(time.perf_counter() - t0, 4)
        stats["total_seconds"] = round((now - started_at).total_seconds(), 4)
        stats["attempts"] = claim.attempt
        done = session.execute(
            update(MatchRun)
            .where(_owned(claim))
            .values(
                status="succeeded",
                phase="done",
                progress=100,
                stats=stats,
                error=None,
                finished_at=now,
                heartbeat_at=now,
            )
        )
        if _rows(done) != 1:
            raise LostClaim()  # rolls the inserts back


def _plain(value: Any) -> Any:
    # numpy scalars into JSON-friendly Python numbers.
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def execute_run(run_id: int, *, settings: Settings, fan_out: FanOut | None = None) -> None:
    """The task body: claim the run, load, solve, write; see the module docstring.

    With `fan_out`, a round whose candidate graph splits into several large components is
    handed to `fan_out` (one task per large component, see `plan_fanout`) and finished by
    `finish_components`; without it, or for a round that does not split, it is solved here.
    """
    engine = get_engine(settings)
    claim = _claim(engine, settings, run_id)
    if claim is None:
        log.info("run %s: nothing to do (finished or owned by another worker)", run_id)
        return
    log.info("run %s: attempt %s", run_id, claim.attempt)
    try:
        with _Heartbeat(engine, claim, settings):
            _advance(engine, claim, P_LOADING, "loading")
            instance, extra = _load(engine, claim)
            _advance(engine, claim, P_SOLVING, "solving")
            # Two large components need at least twice the threshold: skip the split otherwise.
            if fan_out is not None and len(instance.trainees) >= 2 * _fanout_min_trainees():
                groups = plan_fanout(_components(instance))
                if groups:
                    extra["components_fanned_out"] = len(groups)
                    log.info("run %s: fanning out %s component groups", run_id, len(groups))
                    _keep_load_stats(engine, claim, extra)
                    fan_out(run_id, claim.attempt, groups)
                    return
            t0 = time.perf_counter()
            result = _solve(instance)
            extra["solve_wall_seconds"] = round(time.perf_counter() - t0, 4)
            _advance(engine, claim, P_WRITING, "writing")
            _slow_write_for_tests()
            _write(engine, claim, result, extra)
        log.info("run %s: succeeded", run_id)
    except LostClaim:
        log.warning("run %s: attempt %s lost its claim; stopping", run_id, claim.attempt)
    except SolverFailure as exc:
        _fail(engine, claim, str(exc))
    except Exception as exc:
        _retry_or_fail(engine, settings, claim, exc)


def _components(instance: Any) -> list[Any]:
    try:
        return list(matching.components(instance))
    except Exception as exc:
        raise SolverFailure(f"solver error: {exc.__class__.__name__}: {exc}") from exc


def solve_components(
    run_id: int, attempt: int, indices: Sequence[int], *, settings: Settings
) -> list[dict[str, Any]] | None:
    """Solve some components of a fanned-out run; their results as result dicts, or None
    when the attempt no longer owns the run (or failed it)."""
    engine = get_engine(settings)
    claim = _current(engine, run_id, attempt)
    if claim is None:
        return None
    try:
        with _Heartbeat(engine, claim, settings):
            instance, _ = _load_stored(engine, claim)
            parts = _components(instance)
            results = [matching.result_to_dict(_solve(parts[i])) for i in indices]
            _step(engine, claim, max(1, (P_SOLVED - P_SOLVING) // len(parts)), P_SOLVED)
            return results
    except LostClaim:
        return None
    except SolverFailure as exc:
        _fail(engine, claim, str(exc))
    except Exception as exc:
        _retry_or_fail(engine, settings, claim, exc)
    return None


def finish_components(
    results: Sequence[list[dict[str, Any]] | None],
    run_id: int,
    attempt: int,
    *,
    settings: Settings,
) -> None:
    """Merge the component results of a fanned-out run and write them (the chord's end)."""
    engine = get_engine(settings)
    claim = _current(engine, run_id, attempt)
    if claim is None or any(r is None for r in results):
        return
    try:
        with _Heartbeat(engine, claim, settings):
            _advance(engine, claim, P_SOLVED, "solving")
            instance, extra = _load_stored(engine, claim)
            parts = [result_from_dict(d) for group in results if group for d in group]
            try:
                merged = matching.merge_results(instance, parts)
            except Exception as exc:
                raise SolverFailure(f"merge error: {exc.__class__.__name__}: {exc}") from exc
            extra["components_fanned_out"] = len(results)
            _advance(engine, claim, P_WRITING, "writing")
            _slow_write_for_tests()
            _write(engine, claim, merged, extra)
    except LostClaim:
        pass
    except SolverFailure as exc:
        _fail(engine, claim, str(exc))
    except Exception as exc:
        _retry_or_fail(engine, settings, claim, exc)


def reconcile(*, settings: Settings) -> list[int]:
    """Re-enqueue runs the broker may have lost; returns their ids.

    Queued runs not (re-)enqueued for `requeue_after` seconds, and running runs whose
    heartbeat and last enqueue are both older than that. A running run that has used its
    attempts fails instead. Each re-enqueue first moves `enqueued_at` with a conditional
    UPDATE, so reconcilers of several workers do not enqueue the same run twice in a row.
    """
    engine = get_engine(settings)
    stale = _stale_before(settings)
    not_recent = or_(col(MatchRun.enqueued_at).is_(None), col(MatchRun.enqueued_at) < stale)
    lost_worker = and_(
        col(MatchRun.status) == "running",
        or_(col(MatchRun.heartbeat_at).is_(None), col(MatchRun.heartbeat_at) < stale),
    )
    due = and_(not_recent, or_(col(MatchRun.status) == "queued", lost_worker))
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
            if status == "running" and attempts >= MAX_ATTEMPTS:
                session.execute(
                    update(MatchRun)
                    .where(same)
                    .values(status="failed", error=_gave_up(error), finished_at=utcnow())
                )
                continue
            moved = session.execute(update(MatchRun).where(same).values(enqueued_at=utcnow()))
            if _rows(moved) != 1:
                continue
        if not _enqueue(settings, run_id):
            continue
        log.info("reconciler re-enqueued run %s (%s)", run_id, status)
        requeued.append(run_id)
    return requeued
