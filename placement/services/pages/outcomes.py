"""Read model of a trainee's explained outcomes (their placement page, after publish)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from placement.errors import NotFound, WrongState
from placement.models import Placement, Round, RoundStatus, RoundTrainee, User
from placement.services.common import trainee_of
from placement.services.pages.lookups import SlotLabel, slot_labels
from placement.services.runs import explanations


@dataclass(frozen=True)
class OutcomeView:
    round: Round
    explanation: dict[str, Any]  # as GET /rounds/{id}/outcome: no other trainee's name
    labels: dict[int, SlotLabel]


def trainee_outcomes(session: Session, actor: User) -> list[OutcomeView]:
    """The explanation of the trainee's outcome in every published round they took part in
    that a match run included them in; newest round first."""
    if actor.role != "trainee":
        return []
    trainee = trainee_of(session, actor)
    joined = select(RoundTrainee.round_id).where(RoundTrainee.trainee_id == trainee.id)
    placed = select(Placement.round_id).where(Placement.trainee_id == trainee.id)
    rounds = session.exec(
        select(Round)
        .where(
            Round.status == RoundStatus.PUBLISHED,
            col(Round.id).in_(joined.union(placed).scalar_subquery()),
        )
        .order_by(col(Round.starts_on).desc())
    ).all()
    out: list[OutcomeView] = []
    for rnd in rounds:
        assert rnd.id is not None
        try:
            said = explanations.my_outcome(session=session, actor=actor, round_id=rnd.id)
        except (NotFound, WrongState):
            continue
        ids = [c["slot_id"] for c in said["choices"]]
        if said["slot_id"] is not None:
            ids.append(said["slot_id"])
        out.append(OutcomeView(round=rnd, explanation=said, labels=slot_labels(session, ids)))
    return out
