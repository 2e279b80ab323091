"""Start a run (queued, then its id sent to the workers) and read runs, their proposals
and the trainees they left unplaced."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from placement.config import Settings
from placement.errors import InvalidInput, NotFound, WrongState
from placement.jobs import RUN_MATCH_TASK
from placement.models import (
    PROPOSAL_STATUSES,
    RUN_MODES,
    MatchRun,
    Proposal,
    RoundStatus,
    RunSeatValue,
    RunStatus,
    UnplacedTrainee,
    User,
    utcnow,
)
from placement.services import claiming
from placement.services.common import Page, audit, get_round, paginate, require_role
from placement.services.instances import resolve_weights
from placement.services.validation import RUN_NAME_MAX


def start_run(
    *,
    session: Session,
    actor: User | None,
    round_id: int,
    weights: dict[str, Any] | None = None,
    allow_unranked: bool = False,
    settings: Settings,
    name: str = "",
    mode: str = "optimal",
    seed: int = 0,
) -> MatchRun:
    """Create a queued run for a closed round, or a clearing run for a published one
    (it matches those without an offered or accepted placement to the seats still free:
    live placements are locked pairs of its instance), commit, then enqueue its id.

    If the broker is unreachable the run stays queued and the reconciler of any worker
    enqueues it later: the database, not the broker, is the record of work to do.
    """
    (run,) = start_runs(
        session=session,
        actor=actor,
        round_id=round_id,
        modes=(mode,),
        weights=weights,
        allow_unranked=allow_unranked,
        settings=settings,
        seed=seed,
        name=name,
    )
    return run


def start_runs(
    *,
    session: Session,
    actor: User | None,
    round_id: int,
    modes: tuple[str, ...],
    weights: dict[str, Any] | None = None,
    allow_unranked: bool = False,
    settings: Settings,
    seed: int = 0,
    name: str | None = None,
) -> list[MatchRun]:
    """One queued run per mode on the same round, weights and seed (side by side), in one
    commit; then each id is enqueued."""
    actor = require_role(actor, "coordinator")
    rnd = get_round(session, round_id, actor=actor)
    bad = [m for m in modes if m not in RUN_MODES]
    if bad or not modes:
        raise InvalidInput(
            "Unknown mode.", errors={"mode": [f"must be one of {', '.join(RUN_MODES)}"]}
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InvalidInput(
            "Invalid seed.", errors={"seed": ["must be a whole number from 0 to 2^63 - 1"]}
        )
    if rnd.status not in (RoundStatus.CLOSED, RoundStatus.PUBLISHED):
        raise WrongState(
            f"A run needs a closed round (or a published one, for a clearing run); "
            f"this round is {rnd.status}."
        )
    resolved = resolve_weights(weights)
    created = [
        _queue_run(
            session,
            actor,
            round_id,
            resolved,
            bool(allow_unranked),
            m,
            seed,
            name,
            clearing=rnd.status == RoundStatus.PUBLISHED,
        )
        for m in modes
    ]
    session.commit()
    for run in created:
        assert run.id is not None
        enqueue_run(settings, run.id)
    return created


def _queue_run(
    session: Session,
    actor: User,
    round_id: int,
    resolved: dict[str, float],
    allow_unranked: bool,
    mode: str,
    seed: int,
    name: str | None,
    *,
    clearing: bool,
) -> MatchRun:
    now = utcnow()
    name = (name or "").strip()
    if len(name) > RUN_NAME_MAX:
        raise InvalidInput(errors={"name": [f"must be at most {RUN_NAME_MAX} characters"]})
    run = MatchRun(
        round_id=round_id,
        name=name,
        status=RunStatus.QUEUED,
        phase="queued",
        progress=0,
        weights=resolved,
        allow_unranked=bool(allow_unranked),
        clearing=clearing,
        mode=mode,
        seed=seed,
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
        allow_unranked=allow_unranked,
        mode=mode,
        seed=seed,
    )
    return run


def enqueue_run(settings: Settings, run_id: int) -> bool:
    """Send the run id; False (logged) when the broker is unreachable."""
    return claiming.try_enqueue(settings, RUN_MATCH_TASK, "run", run_id)


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


def list_seat_values(
    *, session: Session, actor: User | None, run_id: int, page: int = 1, per_page: int = 50
) -> Page[RunSeatValue]:
    """Every slot's seat value (one more seat: `placed_gain`, `cost_change`), most placed
    first, then the largest saving; optimal runs only (409 for a stable run)."""
    run = get_run(session=session, actor=actor, run_id=run_id)
    if run.mode != "optimal":
        raise WrongState("Seat values come from the optimal mode; this is a stable run.")
    if run.status != RunStatus.SUCCEEDED:
        raise WrongState("The run has not succeeded yet.")
    statement = (
        select(RunSeatValue)
        .where(col(RunSeatValue.run_id) == run_id)
        .order_by(
            col(RunSeatValue.placed_gain).desc(),
            col(RunSeatValue.cost_change),
            col(RunSeatValue.slot_id),
        )
    )
    return paginate(session, statement, page, per_page)
