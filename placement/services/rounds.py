"""Rounds and their state machine: draft -> open -> closed -> published."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from placement.errors import InvalidInput, WrongState
from placement.models import Round, RoundStatus, User
from placement.services import notifications, offers
from placement.services.common import (
    Page,
    audit,
    changes,
    get_round,
    paginate,
    require_role,
    snapshot,
)

# action -> (state it starts from, state it leads to)
TRANSITIONS: dict[str, tuple[RoundStatus, RoundStatus]] = {
    "open": (RoundStatus.DRAFT, RoundStatus.OPEN),
    "close": (RoundStatus.OPEN, RoundStatus.CLOSED),
    "publish": (RoundStatus.CLOSED, RoundStatus.PUBLISHED),
}


def create_round(*, session: Session, actor: User, values: dict[str, Any]) -> Round:
    require_role(actor, "coordinator")
    rnd = Round(**values, status=RoundStatus.DRAFT)
    _check_dates(rnd)
    session.add(rnd)
    session.flush()
    audit(
        session,
        actor=actor,
        action="round.create",
        object_type="round",
        object_id=rnd.id,
        round_id=rnd.id,
        changes=changes(None, rnd),
    )
    session.commit()
    return rnd


def _check_dates(rnd: Round) -> None:
    if rnd.starts_on > rnd.ends_on:
        raise InvalidInput(errors={"ends_on": ["must not be before starts_on"]})


def list_rounds(
    *, session: Session, actor: User, status: str | None = None, page: int = 1, per_page: int = 50
) -> Page[Round]:
    """Coordinators see every round; trainees and employers never see drafts."""
    require_role(actor, "trainee", "employer", "coordinator")
    statement = select(Round)
    if actor.role != "coordinator":
        statement = statement.where(Round.status != RoundStatus.DRAFT)
    if status is not None:
        statement = statement.where(Round.status == status)
    return paginate(session, statement.order_by(col(Round.id).desc()), page, per_page)


def get_round_for(*, session: Session, actor: User, round_id: int) -> Round:
    require_role(actor, "trainee", "employer", "coordinator")
    return get_round(session, round_id, actor=actor)


def transition_round(*, session: Session, actor: User, round_id: int, action: str) -> Round:
    """Move a round one step along its life; any other move is a 409."""
    require_role(actor, "coordinator")
    source, target = TRANSITIONS[action]
    rnd = session.exec(select(Round).where(Round.id == round_id).with_for_update()).first()
    rnd = rnd or get_round(session, round_id, actor=actor)
    if rnd.status != source:
        raise WrongState(f"Cannot {action} a round that is {rnd.status}; it must be {source}.")
    before = snapshot(rnd)
    rnd.status = target
    audit(
        session,
        actor=actor,
        action=f"round.{action}",
        object_type="round",
        object_id=rnd.id,
        round_id=rnd.id,
        changes=changes(before, rnd),
    )
    # The mail commits with the change that causes it (the outbox).
    if action == "open":
        notifications.round_opened(session, rnd)
    elif action == "publish":
        # Every live placement becomes an offer, before the results mail names its deadline.
        offers.make_offers(session, rnd)
        notifications.results_published(session, rnd)
    session.commit()
    return rnd


def next_action(status: str) -> str | None:
    """The one step a round in `status` can take next, if any."""
    for action, (source, _target) in TRANSITIONS.items():
        if source == status:
            return action
    return None


def require_status(rnd: Round, *allowed: str, doing: str) -> None:
    """409 unless the round is in one of the `allowed` states."""
    if rnd.status not in allowed:
        raise WrongState(
            f"Cannot {doing} while the round is {rnd.status}; it must be {' or '.join(allowed)}."
        )
