"""The worker side of a run: claim it, load the round, solve, write the proposals.

An attempt loads the round, stores the instance it built on the run (see `stored`), then
solves it here or, for a round whose candidate graph splits into several large
components, fans the components out to other tasks (`solve_components`) and merges their
results (`finish_components`). Claims, heartbeats and recovery are in `claims`.

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

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from placement.config import Settings
from placement.db import get_engine, session_scope
from placement.matching import (
    Instance,
    Result,
    merge_results,
    result_from_dict,
    result_to_dict,
)
from placement.models import (
    MatchRun,
    Proposal,
    ProposalStatus,
    RunExplanation,
    RunSeatValue,
    RunStatus,
    UnplacedTrainee,
    utcnow,
)
from placement.services.common import bulk_insert
from placement.services.runs.claims import (
    Claim,
    Heartbeat,
    LostClaim,
    advance,
    claim_run,
    current_claim,
    fail,
    owned,
    retry_or_fail,
    rows_matched,
    step_progress,
)
from placement.services.runs.explanations import explanation_rows
from placement.services.runs.loading import decode_file as _decode
from placement.services.runs.loading import load_instance as _load
from placement.services.runs.loading import (  # re-exported: the tests call it here
    store_attempt_instance as store_attempt_instance,
)
from placement.services.runs.seat_moves import seat_move_chains, without_erased_moves
from placement.services.runs.solving import (
    SolverFailure,
    solve_instance,
    split_components,
    with_seat_values,
)
from placement.services.runs.stored import (
    erased_participants,
    lock_round_for_instances,
    unpack_instance,
)

log = logging.getLogger(__name__)

SLOW_WRITE_ENV = "PLACEMENT_TEST_SLOW_WRITE_SECONDS"
FANOUT_ENV = "PLACEMENT_FANOUT_MIN_TRAINEES"
# A component is worth its own task only when it is large: each task reads and parses the
# whole stored instance.
DEFAULT_FANOUT_MIN_TRAINEES = 5000

# Progress milestones (percent) of one attempt.
P_LOADING, P_LOADED, P_SOLVING, P_SOLVED, P_WRITING = 2, 15, 25, 80, 85

FanOut = Callable[[int, int, list[list[int]]], None]
"""Sends component groups of a run (run id, attempt, component indices per task) to workers."""


def _fanout_min_trainees() -> int:
    raw = os.environ.get(FANOUT_ENV, "")
    return int(raw) if raw.strip() else DEFAULT_FANOUT_MIN_TRAINEES


def plan_fanout(sizes: Sequence[int], min_trainees: int | None = None) -> list[list[int]]:
    """Component groups worth solving on separate workers, given the trainee count of each
    component: one task per component with at least `min_trainees` trainees, plus one for
    all the small ones. Empty when fewer than two components are large (then one task
    solves the whole round)."""
    threshold = _fanout_min_trainees() if min_trainees is None else min_trainees
    big = [i for i, size in enumerate(sizes) if size >= threshold]
    if len(big) < 2:
        return []
    small = [i for i in range(len(sizes)) if i not in set(big)]
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


def _keep_load_stats(engine: Engine, claim: Claim, extra: dict[str, Any]) -> None:
    """Keep what loading found (timings, left-out counts) on the run while its components
    are solved elsewhere, for `finish_components` to write with the merged result."""
    with session_scope(engine) as session:
        kept = session.execute(update(MatchRun).where(owned(claim)).values(stats=extra))
        if rows_matched(kept) != 1:
            raise LostClaim()


def _load_stored(engine: Engine, claim: Claim) -> tuple[Instance, dict[str, Any]]:
    """The instance this attempt stored (for fanned-out pieces: they solve exactly what the
    attempt loaded, whatever has changed in the round since), with the load stats kept by
    `_keep_load_stats`; LostClaim if not ours."""
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        row = session.execute(
            sa_select(
                col(MatchRun.instance_gz), col(MatchRun.instance_sha256), col(MatchRun.stats)
            ).where(owned(claim))
        ).first()
    if row is None or row.instance_gz is None:
        raise LostClaim()
    content = unpack_instance(claim.run_id, row.instance_gz, row.instance_sha256).content
    instance, problem = _decode(content)
    if instance is None:
        raise SolverFailure(f"invalid instance: {problem}")
    extra: dict[str, Any] = dict(row.stats or {})
    extra["reload_seconds"] = round(time.perf_counter() - t0, 4)
    extra["trainees"] = len(instance.trainees)
    extra["slots"] = len(instance.slots)
    return instance, extra


def _explanations(
    run_id: int, instance: Instance, result: Result, extra: dict[str, Any]
) -> list[dict[str, Any]]:
    """The explanation rows of a run (see `placement.matching.explanations`): computed here,
    once, so that no request ever re-solves. An error here is logged and leaves the run
    without explanations rather than failing a good result."""
    t0 = time.perf_counter()
    try:
        rows = explanation_rows(run_id, instance, result)
    except Exception:
        log.exception("run %s: explanations failed; the run is kept without them", run_id)
        extra["explanations_failed"] = True
        return []
    extra["explain_seconds"] = round(time.perf_counter() - t0, 4)
    return rows


def _write(
    engine: Engine,
    claim: Claim,
    result: Result,
    extra: dict[str, Any],
    explanations: list[dict[str, Any]] | None = None,
    *,
    seat_moves: dict[int, list[list[int | None]]] | None = None,
) -> None:
    """Replace the run's proposals, unplaced rows, seat values (with the moves each seat
    sets off) and explanations and mark it succeeded, atomically. `write_seconds` times the
    proposals, unplaced rows and the run's row; the seat values and explanations have their
    own `*_write_seconds`."""
    t0 = time.perf_counter()
    proposals = [
        {
            "run_id": claim.run_id,
            "trainee_id": int(a.trainee_id),
            "slot_id": int(a.slot_id),
            "rank": a.rank,
            "cost": float(a.cost),
            "terms": {k: float(v) for k, v in a.terms.items()},
            "status": ProposalStatus.PROPOSED,
        }
        for a in result.assignments
        if not a.locked
    ]
    unplaced = [
        {"run_id": claim.run_id, "trainee_id": int(u.trainee_id), "reason": u.reason}
        for u in result.unplaced
    ]
    seat_values: list[dict[str, Any]] = [
        {
            "run_id": claim.run_id,
            "slot_id": int(v.slot_id),
            "placed_gain": int(v.placed_gain),
            "cost_change": float(v.cost_change),
        }
        for v in result.seat_values or ()
    ]
    lottery = None if result.lottery is None else [str(t) for t in result.lottery]
    with session_scope(engine) as session:
        # A trainee erased while the run solved gets no proposal and no unplaced row: the
        # round's lock makes this exclusive with erasure, as in `store_attempt_instance`.
        lock_round_for_instances(session, claim.round_id, exclusive=False)
        erased = {int(t) for t in erased_participants(session, claim.round_id)}
        if erased:
            proposals = [p for p in proposals if p["trainee_id"] not in erased]
            unplaced = [u for u in unplaced if u["trainee_id"] not in erased]
            seat_moves = without_erased_moves(seat_moves or {}, erased)
        started_at = session.execute(
            select(col(MatchRun.started_at)).where(col(MatchRun.id) == claim.run_id)
        ).scalar_one()
        # An attempt only ever commits together with `succeeded`: these deletes find
        # nothing unless something outside this module wrote rows for a running run.
        session.execute(delete(Proposal).where(col(Proposal.run_id) == claim.run_id))
        session.execute(delete(UnplacedTrainee).where(col(UnplacedTrainee.run_id) == claim.run_id))
        session.execute(delete(RunSeatValue).where(col(RunSeatValue.run_id) == claim.run_id))
        session.execute(delete(RunExplanation).where(col(RunExplanation.run_id) == claim.run_id))
        bulk_insert(session, Proposal, proposals)
        bulk_insert(session, UnplacedTrainee, unplaced)
        # Seat values and explanations are timed on their own: they are extras of the run,
        # not the proposals people wait for.
        t1 = time.perf_counter()
        chains = seat_moves or {}
        for row in seat_values:
            row["moves"] = chains.get(row["slot_id"])
        bulk_insert(session, RunSeatValue, seat_values)
        t2 = time.perf_counter()
        bulk_insert(session, RunExplanation, explanations or [])
        t3 = time.perf_counter()
        now = utcnow()
        stats = {k: _plain(v) for k, v in asdict(result.stats).items()}
        stats.update(extra)
        stats["seat_values_write_seconds"] = round(t2 - t1, 4)
        stats["explanations_write_seconds"] = round(t3 - t2, 4)
        stats["write_seconds"] = round(time.perf_counter() - t0 - (t3 - t1), 4)
        stats["total_seconds"] = round((now - started_at).total_seconds(), 4)
        stats["attempts"] = claim.attempt
        done = session.execute(
            update(MatchRun)
            .where(owned(claim))
            .values(
                status=RunStatus.SUCCEEDED,
                phase="done",
                progress=100,
                stats=stats,
                lottery=lottery,
                error=None,
                finished_at=now,
                heartbeat_at=now,
            )
        )
        if rows_matched(done) != 1:
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
    claim = claim_run(engine, settings, run_id)
    if claim is None:
        log.info("run %s: nothing to do (finished or owned by another worker)", run_id)
        return
    log.info("run %s: attempt %s", run_id, claim.attempt)
    try:
        with Heartbeat(engine, claim, settings):
            advance(engine, claim, P_LOADING, "loading")
            instance, extra = _load(engine, claim)
            advance(engine, claim, P_SOLVING, "solving")
            # Two large components need at least twice the threshold: skip the split otherwise.
            if fan_out is not None and len(instance.trainees) >= 2 * _fanout_min_trainees():
                groups = plan_fanout([len(p.trainees) for p in split_components(instance)])
                if groups:
                    extra["components_fanned_out"] = len(groups)
                    log.info("run %s: fanning out %s component groups", run_id, len(groups))
                    _keep_load_stats(engine, claim, extra)
                    fan_out(run_id, claim.attempt, groups)
                    return
            t0 = time.perf_counter()
            # Seat values are an extra of the run, timed on their own line: the solve
            # proper runs without them, and they come from what it kept.
            instance, wanted = replace(instance, seat_values=False), instance.seat_values
            result = solve_instance(instance)
            extra["solve_wall_seconds"] = round(time.perf_counter() - t0, 4)
            if wanted and instance.mode != "stable":
                t0 = time.perf_counter()
                result = with_seat_values(instance, result)
                extra["seat_values_seconds"] = round(time.perf_counter() - t0, 4)
            rows = _explanations(run_id, instance, result, extra)
            moves = seat_move_chains(run_id, instance, result, extra)
            advance(engine, claim, P_WRITING, "writing")
            _slow_write_for_tests()
            _write(engine, claim, result, extra, rows, seat_moves=moves)
        log.info("run %s: succeeded", run_id)
    except LostClaim:
        log.warning("run %s: attempt %s lost its claim; stopping", run_id, claim.attempt)
    except SolverFailure as exc:
        fail(engine, claim, str(exc))
    except Exception as exc:
        retry_or_fail(engine, settings, claim, exc)


def solve_components(
    run_id: int, attempt: int, indices: Sequence[int], *, settings: Settings
) -> list[dict[str, Any]] | None:
    """Solve some components of a fanned-out run; their results as result dicts, or None
    when the attempt no longer owns the run (or failed it)."""
    engine = get_engine(settings)
    claim = current_claim(engine, run_id, attempt)
    if claim is None:
        return None
    try:
        with Heartbeat(engine, claim, settings):
            instance, _ = _load_stored(engine, claim)
            parts = split_components(instance)
            results = [result_to_dict(solve_instance(parts[i])) for i in indices]
            step_progress(engine, claim, max(1, (P_SOLVED - P_SOLVING) // len(parts)), P_SOLVED)
            return results
    except LostClaim:
        return None
    except SolverFailure as exc:
        fail(engine, claim, str(exc))
    except Exception as exc:
        retry_or_fail(engine, settings, claim, exc)
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
    claim = current_claim(engine, run_id, attempt)
    if claim is None or any(r is None for r in results):
        return
    try:
        with Heartbeat(engine, claim, settings):
            advance(engine, claim, P_SOLVED, "solving")
            instance, extra = _load_stored(engine, claim)
            parts = [result_from_dict(d) for group in results if group for d in group]
            try:
                merged = merge_results(instance, parts)
            except Exception as exc:
                raise SolverFailure(f"merge error: {exc.__class__.__name__}: {exc}") from exc
            extra["components_fanned_out"] = len(results)
            rows = _explanations(run_id, instance, merged, extra)
            moves = seat_move_chains(run_id, instance, merged, extra)
            advance(engine, claim, P_WRITING, "writing")
            _slow_write_for_tests()
            _write(engine, claim, merged, extra, rows, seat_moves=moves)
    except LostClaim:
        pass
    except SolverFailure as exc:
        fail(engine, claim, str(exc))
    except Exception as exc:
        retry_or_fail(engine, settings, claim, exc)
