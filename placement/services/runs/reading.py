"""Start a run (queued, then its id sent to the workers) and read runs, their proposals
and the trainees they left unplaced."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session, col, select

from placement.config import Settings
from placement.errors import InvalidInput, NotFound, WrongState
from placement.jobs import RUN_MATCH_TASK, enqueue
from placement.models import (
    PROPOSAL_STATUSES,
    MatchRun,
    Proposal,
    RoundStatus,
    RunStatus,
    UnplacedTrainee,
    User,
    utcnow,
)
from placement.services.common import Page, audit, get_round, paginate, require_role
from placement.services.instances import resolve_weights
from placement.services.validation import RUN_NAME_MAX

log = logging.getLogger(__name__)


def start_run(
    *,
    session: Session,
    actor: User | None,
    round_id: int,
    weights: dict[str, Any] | None = None,
    allow_unranked: bool = False,
    settings: Settings,
    name: str = "",
) -> MatchRun:
    """Create a queued run for a closed round, or a clearing run for a published one
    (it matches those without an offered or accepted placement to the seats still free:
    live placements are locked pairs of its instance), commit, then enqueue its id.

    If the broker is unreachable the run stays queued and the reconciler of any worker
    enqueues it later: the database, not the broker, is the record of work to do.
    """
    actor = require_role(actor, "coordinator")
    rnd = get_round(session, round_id, actor=actor)
    if rnd.status not in (RoundStatus.CLOSED, RoundStatus.PUBLISHED):
        raise WrongState(
            f"A run needs a closed round (or a published one, for a clearing run); "
            f"this round is {rnd.status}."
        )
    resolved = resolve_weights(weights)
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
        clearing=rnd.status == RoundStatus.PUBLISHED,
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
    enqueue_run(settings, run.id)
    return run


def enqueue_run(settings: Settings, run_id: int) -> bool:
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
