"""Offers: what a published placement becomes, and how it ends.

Publishing a round makes every live placement an offer that expires `offer_days` later;
an approval on a published round (a clearing run's, or a late one) makes an offer at once.
The trainee accepts or declines; a decline, an expiry or a withdrawal sets the placement
`withdrawn` (the row is kept) and frees its seat.

Concurrency. Every change of an offer is one conditional UPDATE (`WHERE offer_status =
'offered'`, and for acceptance `offer_expires_at > now`): of an acceptance racing the expiry
job, or a decline racing a withdrawal, exactly one matches the row, the other finds it
changed and answers 409 (or skips it). Whatever frees a seat first locks the round's row,
as every approval does (`lock_round`), so seat changes in one round take their turn, and
the slot counter moves by the same kind of conditional UPDATE as in approvals. The partial
unique index on live placements keeps a trainee to one live offer per round.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, case, literal_column, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from placement.config import Settings
from placement.db import session_scope
from placement.errors import Conflict, NotFound
from placement.models import (
    Exclusion,
    OfferStatus,
    Organisation,
    Placement,
    PlacementStatus,
    Round,
    RoundStatus,
    Slot,
    Trainee,
    User,
    utcnow,
)
from placement.services.common import audit, bulk_insert, chunks, require_role, trainee_of
from placement.services.mail import queue_mail

log = logging.getLogger(__name__)

EXPIRE_OFFERS_TASK = "workers.tasks.expire_offers"
OFFER_REMINDERS_TASK = "workers.tasks.send_offer_reminders"
REMINDER_BEFORE = timedelta(hours=48)
DECLINE_REASON_MAX = 1000
# Open offers, written as a constant so that the planner can use the partial index
# `ix_placements_offer_due` (only open offers are in it) even for a prepared statement.
_OPEN_OFFER = col(Placement.offer_status) == literal_column(f"'{OfferStatus.OFFERED.value}'")
UK = ZoneInfo("Europe/London")


# --- shared pieces ---------------------------------------------------------------------------


def lock_round(session: Session, round_id: int) -> Round:
    """The round's row, locked until commit (Postgres; SQLite's write lock is whole-file).

    Every change of a round's seats takes this lock first, so approvals, declines, expiries
    and withdrawals in one round take their turn and never deadlock on each other's rows.
    """
    # populate_existing: what the lock protects, not what this session read before it.
    return session.exec(
        select(Round)
        .where(Round.id == round_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def offer_values(rnd: Round, now: datetime) -> dict[str, Any]:
    """The offer columns of a placement made (or published) at `now` in a published round;
    none before publication."""
    if rnd.status != RoundStatus.PUBLISHED:
        return {"offer_status": None, "offered_at": None, "offer_expires_at": None}
    return {
        "offer_status": OfferStatus.OFFERED.value,
        "offered_at": now,
        "offer_expires_at": now + timedelta(days=rnd.offer_days),
    }


def uk_time(moment: datetime | None) -> str:
    """'5:00pm on 13 Sep 2027' in UK time (what a trainee's clock says)."""
    if moment is None:
        return ""
    local = moment.astimezone(UK)
    hour = local.hour % 12 or 12
    return f"{hour}:{local:%M}{'am' if local.hour < 12 else 'pm'} on {local.day} {local:%b %Y}"


def free_seats(session: Session, taken: Counter[int]) -> None:
    """Give back `taken[slot_id]` seats of each slot (the caller holds the round lock)."""
    if not taken:
        return
    slots = Slot.__table__  # type: ignore[attr-defined]
    # Never below zero, as withdrawals always did: a counter already wrong stays usable.
    session.execute(
        update(slots)
        .where(slots.c.id == bindparam("slot_id"))
        .values(
            filled=case((slots.c.filled > bindparam("n"), slots.c.filled - bindparam("n")), else_=0)
        ),
        [{"slot_id": slot_id, "n": n} for slot_id, n in taken.items()],
    )


def _exclude_pairs(
    session: Session, round_id: int, pairs: list[tuple[int, int]], reason: str
) -> None:
    """Rule out trainee-slot pairs in later runs of the round (a declined or lapsed offer
    is not made again); pairs already excluded are left as they are."""
    if not pairs:
        return
    existing: set[tuple[int, int]] = set()
    for part in chunks(sorted({t for t, _ in pairs})):
        existing.update(
            (trainee_id, slot_id)
            for trainee_id, slot_id in session.execute(
                sa_select(col(Exclusion.trainee_id), col(Exclusion.slot_id)).where(
                    col(Exclusion.trainee_id).in_(part)
                )
            )
        )
    now = utcnow()
    bulk_insert(
        session,
        Exclusion,
        [
            {
                "round_id": round_id,
                "slot_id": slot_id,
                "trainee_id": trainee_id,
                "reason": reason,
                "created_by": None,
                "created_at": now,
            }
            for trainee_id, slot_id in sorted(set(pairs))
            if (trainee_id, slot_id) not in existing
        ],
    )


# --- publishing ------------------------------------------------------------------------------


def make_offers(session: Session, rnd: Round, now: datetime | None = None) -> int:
    """Turn the round's live placements that are not offers yet into offers (the round is
    being published, in the caller's transaction). Returns how many."""
    now = now or utcnow()
    values = offer_values(rnd, now)
    result = session.execute(
        update(Placement)
        .where(
            col(Placement.round_id) == rnd.id,
            col(Placement.status) == PlacementStatus.LIVE,
            col(Placement.offer_status).is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


# --- the trainee's answer --------------------------------------------------------------------


def _own_placement(session: Session, actor: User, placement_id: int) -> Placement:
    """The calling trainee's placement; anyone else's is a 404 (never revealed)."""
    require_role(actor, "trainee")
    me = trainee_of(session, actor)
    placement = session.get(Placement, placement_id)
    if placement is None or placement.trainee_id != me.id:
        raise NotFound("No such placement.")
    return placement


def _refusal(placement: Placement, doing: str, now: datetime) -> Conflict:
    """Why an offer cannot be accepted or declined now, in plain words."""
    status = placement.offer_status
    if status is None:
        if placement.status == PlacementStatus.WITHDRAWN:
            return Conflict(f"You cannot {doing} this placement: it was withdrawn.")
        return Conflict(
            f"You cannot {doing} this placement yet: the round's results are not published."
        )
    if status == OfferStatus.OFFERED:
        return Conflict(
            f"You cannot {doing} this offer: it expired at {uk_time(placement.offer_expires_at)}."
        )
    if status == OfferStatus.ACCEPTED:
        if doing == "accept":
            return Conflict("You have already accepted this offer.")
        return Conflict(
            "You have already accepted this offer; to give it up, contact your coordinator."
        )
    if status == OfferStatus.DECLINED:
        return Conflict(f"You cannot {doing} this offer: you declined it.")
    if status == OfferStatus.EXPIRED:
        return Conflict(
            f"You cannot {doing} this offer: it expired at {uk_time(placement.offer_expires_at)}."
        )
    return Conflict(f"You cannot {doing} this offer: your coordinator withdrew it.")


def accept_offer(*, session: Session, actor: User, placement_id: int) -> Placement:
    """Accept one's own offer: 409 unless it is `offered` and not past its deadline."""
    placement = _own_placement(session, actor, placement_id)
    now = utcnow()
    changed = session.execute(
        update(Placement)
        .where(
            col(Placement.id) == placement_id,
            col(Placement.offer_status) == OfferStatus.OFFERED,
            col(Placement.offer_expires_at) > now,
        )
        .values(offer_status=OfferStatus.ACCEPTED.value, offer_decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:
        session.rollback()
        session.refresh(placement)
        raise _refusal(placement, "accept", now)
    audit(
        session,
        actor=actor,
        action="offer.accept",
        object_type="placement",
        object_id=placement_id,
        slot_id=placement.slot_id,
    )
    session.refresh(placement)
    _tell_host(session, placement, "accepted")
    session.commit()
    return placement


def decline_offer(
    *, session: Session, actor: User, placement_id: int, reason: str | None = None
) -> Placement:
    """Decline one's own offer: the seat is free again at once. 409 unless `offered`."""
    placement = _own_placement(session, actor, placement_id)
    reason = (reason or "").strip() or None
    lock_round(session, placement.round_id)
    now = utcnow()
    changed = session.execute(
        update(Placement)
        .where(
            col(Placement.id) == placement_id,
            col(Placement.status) == PlacementStatus.LIVE,
            col(Placement.offer_status) == OfferStatus.OFFERED,
        )
        .values(
            status=PlacementStatus.WITHDRAWN.value,
            offer_status=OfferStatus.DECLINED.value,
            offer_decided_at=now,
            withdrawn_at=now,
            decline_reason=reason,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:
        session.rollback()
        session.refresh(placement)
        raise _refusal(placement, "decline", now)
    free_seats(session, Counter([placement.slot_id]))
    _exclude_pairs(
        session,
        placement.round_id,
        [(placement.trainee_id, placement.slot_id)],
        "The trainee declined this offer.",
    )
    audit(
        session,
        actor=actor,
        action="offer.decline",
        object_type="placement",
        object_id=placement_id,
        slot_id=placement.slot_id,
        reason=reason,
    )
    session.refresh(placement)
    _tell_host(session, placement, "declined")
    session.commit()
    return placement


# --- the periodic jobs -----------------------------------------------------------------------


def expire_offers(*, session: Session, now: datetime | None = None) -> int:
    """End every offer past its deadline, freeing its seat; one transaction per round.
    Returns how many expired. Idempotent: an offer that was accepted, declined or expired
    meanwhile no longer matches."""
    now = now or utcnow()
    round_ids = sorted(
        session.execute(
            sa_select(col(Placement.round_id))
            .where(
                _OPEN_OFFER,
                col(Placement.offer_expires_at) <= now,
            )
            .distinct()
        ).scalars()
    )
    session.rollback()
    expired = 0
    for round_id in round_ids:
        try:
            lock_round(session, round_id)
            rows = session.execute(
                update(Placement)
                .where(
                    col(Placement.round_id) == round_id,
                    _OPEN_OFFER,
                    col(Placement.offer_expires_at) <= now,
                )
                .values(
                    status=PlacementStatus.WITHDRAWN.value,
                    offer_status=OfferStatus.EXPIRED.value,
                    offer_decided_at=now,
                    withdrawn_at=now,
                )
                .returning(col(Placement.id), col(Placement.trainee_id), col(Placement.slot_id))
                .execution_options(synchronize_session=False)
            ).all()
            if rows:
                free_seats(session, Counter(slot_id for _, _, slot_id in rows))
                _exclude_pairs(
                    session,
                    round_id,
                    [(trainee_id, slot_id) for _, trainee_id, slot_id in rows],
                    "The trainee's offer here expired.",
                )
                audit(
                    session,
                    actor=None,
                    action="offer.expire",
                    object_type="round",
                    object_id=round_id,
                    placement_ids=[placement_id for placement_id, _, _ in rows],
                )
                for placement_id, _, _ in rows:
                    placement = session.get(Placement, placement_id, populate_existing=True)
                    assert placement is not None
                    _tell_trainee(session, placement, "offer_expired")
                    _tell_host(session, placement, "expired")
            session.commit()
            expired += len(rows)
        except BaseException:
            session.rollback()
            raise
    return expired


def send_offer_reminders(*, session: Session, now: datetime | None = None) -> int:
    """Remind each trainee once, when less than 48 h are left to answer an offer (not for
    offers made with 48 h or less to go: their first mail says the deadline). Returns how
    many reminders were queued; a second pass (or a second beat) queues none."""
    now = now or utcnow()
    due = session.execute(
        sa_select(col(Placement.id), col(Placement.offered_at), col(Placement.offer_expires_at))
        .where(
            _OPEN_OFFER,
            col(Placement.offer_reminded_at).is_(None),
            col(Placement.offer_expires_at) > now,
            col(Placement.offer_expires_at) <= now + REMINDER_BEFORE,
        )
        .order_by(col(Placement.id))
    ).all()
    ids = [
        placement_id
        for placement_id, offered_at, expires_at in due
        if offered_at is None or expires_at - offered_at > REMINDER_BEFORE
    ]
    reminded = 0
    for part in chunks(ids):
        # The conditional UPDATE claims each reminder: two passes never both send it.
        claimed = session.execute(
            update(Placement)
            .where(col(Placement.id).in_(part), col(Placement.offer_reminded_at).is_(None))
            .values(offer_reminded_at=now)
            .returning(col(Placement.id))
            .execution_options(synchronize_session=False)
        ).scalars()
        for placement_id in list(claimed):
            placement = session.get(Placement, placement_id, populate_existing=True)
            assert placement is not None
            if _tell_trainee(session, placement, "offer_reminder"):
                reminded += 1
        session.commit()
    return reminded


def expire_due_offers(*, settings: Settings) -> int:
    """The beat job: expire what is due."""
    with session_scope(settings) as session:
        return expire_offers(session=session)


def remind_due_offers(*, settings: Settings) -> int:
    """The beat job: remind those 48 h from their deadline."""
    with session_scope(settings) as session:
        return send_offer_reminders(session=session)


# --- telling people --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parties:
    trainee: Trainee
    slot: Slot
    organisation: Organisation
    rnd: Round


def _parties(session: Session, placement: Placement) -> _Parties:
    trainee = session.get(Trainee, placement.trainee_id)
    slot = session.get(Slot, placement.slot_id)
    rnd = session.get(Round, placement.round_id)
    assert trainee is not None and slot is not None and rnd is not None
    organisation = session.get(Organisation, slot.organisation_id)
    assert organisation is not None
    return _Parties(trainee, slot, organisation, rnd)


def _active_user(session: Session, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user if user is not None and user.is_active else None


def _offer_context(parties: _Parties, placement: Placement) -> dict[str, Any]:
    slot, organisation = parties.slot, parties.organisation
    site = "remote" if slot.remote else (slot.postcode or organisation.postcode or "")
    return {
        "recipient_name": parties.trainee.name,
        "round_name": parties.rnd.name,
        "slot_title": slot.title,
        "organisation_name": organisation.name,
        "site": site or "site to be confirmed by the host",
        "starts_on": slot.starts_on,
        "ends_on": slot.ends_on,
        "deadline": uk_time(placement.offer_expires_at),
        "placement_id": placement.id,
    }


def _tell_trainee(session: Session, placement: Placement, kind: str) -> bool:
    """Queue `kind` (offer_made, offer_reminder, offer_expired) to the placed trainee, if
    they have an account; True when queued."""
    parties = _parties(session, placement)
    user = _active_user(session, parties.trainee.user_id)
    if user is None or parties.trainee.erased_at is not None:
        return False
    queue_mail(
        session,
        to=user.email,
        kind=kind,
        user_id=user.id,
        context=_offer_context(parties, placement),
        dedupe_key=f"{kind}:placement:{placement.id}",
    )
    return True


def tell_offer_made(session: Session, placement: Placement) -> bool:
    """A clearing or late approval made an offer: tell the trainee (with the deadline)."""
    return _tell_trainee(session, placement, "offer_made")


def _tell_host(session: Session, placement: Placement, outcome: str) -> bool:
    """Tell the host's account holder that an offer was accepted, declined or expired."""
    parties = _parties(session, placement)
    user = _active_user(session, parties.organisation.owner_id)
    if user is None:
        return False
    queue_mail(
        session,
        to=user.email,
        kind="offer_answered_employer",
        user_id=user.id,
        context={
            "recipient_name": user.name,
            "round_name": parties.rnd.name,
            "slot_title": parties.slot.title,
            "organisation_name": parties.organisation.name,
            "trainee_name": parties.trainee.name,
            "outcome": outcome,
        },
        dedupe_key=f"offer_{outcome}_employer:placement:{placement.id}",
    )
    return True
