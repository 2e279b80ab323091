"""Why a trainee got what they got in a succeeded run, judged on the instance it solved."""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from placement.errors import NotFound, WrongState
from placement.matching import (
    Assignment,
    Instance,
    Result,
    Stats,
    Unplaced,
    explain,
    load_instance,
)
from placement.models import MatchRun, Proposal, RunStatus, UnplacedTrainee, User
from placement.services.common import require_role
from placement.services.instances import build
from placement.services.runs.reading import get_run
from placement.services.runs.stored import unpack_instance


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _run_result(session: Session, run: MatchRun) -> tuple[Instance, Result]:
    """The instance the run solved and its result from the stored rows.

    The stored instance when there is one; for runs made before instances were stored,
    the round rebuilt as it stands now with the run's weights (an approximation: profiles
    may have changed since).
    """
    if run.status != RunStatus.SUCCEEDED:
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
        instance = load_instance(unpack_instance(run.id, packed, sha256).data())
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
        instance = load_instance(data)
    assignments = [
        Assignment(
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
        Assignment(
            trainee_id=str(pair.trainee_id),
            slot_id=str(pair.slot_id),
            rank=None,
            cost=0.0,
            terms={},
            locked=True,
        )
        for pair in instance.locked
    ]
    result = Result(
        assignments=tuple(assignments),
        unplaced=tuple(Unplaced(trainee_id=str(u.trainee_id), reason=u.reason) for u in unplaced),
        stats=Stats(**_stats_fields(run.stats or {})),
    )
    return instance, result


def _stats_fields(stats: dict[str, Any]) -> dict[str, Any]:
    return {f.name: stats.get(f.name, 0) for f in fields(Stats)}


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
    explained = explain(instance, result, str(trainee_id))
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
