"""What people are told: their notifications, and the events that tell them.

Each event function runs inside the transaction of the change it reports and queues one
mail per person (which is also their notification) through `placement.services.mail`.
Only people with an account hear anything: an imported trainee without one has nowhere
to read a notification, and their address is not yet proved theirs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from placement.config import Settings
from placement.db import session_scope
from placement.errors import NotFound
from placement.models import (
    MatchRun,
    Notification,
    Organisation,
    OutboxMessage,
    Placement,
    Preference,
    Round,
    RoundTrainee,
    Slot,
    Trainee,
    UnplacedTrainee,
    User,
    utcnow,
)
from placement.services.common import Page, paginate, require_role
from placement.services.mail import queue_mail
from placement.services.offers import uk_time

DEADLINE_REMINDERS_TASK = "workers.tasks.send_deadline_reminders"
ANY_ROLE = ("trainee", "employer", "coordinator")
REMINDER_BEFORE = timedelta(hours=48)

UNPLACED_REASONS = {
    "no_eligible_slot": (
        "none of the placements you ranked was open to you. Each needed something your "
        "profile does not show, such as a level, a skill, DBS clearance, the dates you are "
        "available or a site within your travel distance."
    ),
    "outcompeted": (
        "the placements you could take were all filled by other trainees the match placed there."
    ),
}
NO_APPROVED_PLACEMENT = "no placement was approved for you in this round."


# --- reading and marking -------------------------------------------------------------------


def list_notifications(
    *, session: Session, actor: User, page: int = 1, per_page: int = 50
) -> Page[Notification]:
    """The actor's own notifications, newest first."""
    require_role(actor, *ANY_ROLE)
    statement = (
        select(Notification)
        .where(Notification.user_id == actor.id)
        .order_by(col(Notification.id).desc())
    )
    return paginate(session, statement, page, per_page)


def unread_count(*, session: Session, actor: User) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == actor.id, col(Notification.read_at).is_(None))
        ).one()
    )


def mark_read(*, session: Session, actor: User, notification_id: int) -> Notification:
    """Mark one of the actor's notifications read (again is fine); anyone else's is a 404."""
    require_role(actor, *ANY_ROLE)
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != actor.id:
        raise NotFound("No such notification.")
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.commit()
    return notification


def mark_all_read(*, session: Session, actor: User) -> int:
    """Mark every unread notification of the actor read; returns how many."""
    require_role(actor, *ANY_ROLE)
    result = session.execute(
        update(Notification)
        .where(col(Notification.user_id) == actor.id, col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )
    session.commit()
    return int(getattr(result, "rowcount", 0))


# --- who is concerned ----------------------------------------------------------------------


def _round_trainees(session: Session, round_id: int) -> list[tuple[Trainee, User]]:
    """The round's trainees who have an active account, in a stable order."""
    rows = session.exec(
        select(Trainee, User)
        .join(RoundTrainee, col(RoundTrainee.trainee_id) == col(Trainee.id))
        .join(User, col(User.id) == col(Trainee.user_id))
        .where(
            RoundTrainee.round_id == round_id,
            col(User.is_active).is_(True),
            col(Trainee.erased_at).is_(None),
        )
        .order_by(col(Trainee.id))
    ).all()
    return [(t, u) for t, u in rows]


def _user_id(user: User) -> int:
    assert user.id is not None
    return user.id


# --- events --------------------------------------------------------------------------------


def round_opened(session: Session, rnd: Round) -> int:
    """Tell the round's trainees (to rank its placements) and the employers with slots in
    it (that trainees can see them). Returns how many mails were queued."""
    assert rnd.id is not None
    queued = 0
    for trainee, user in _round_trainees(session, rnd.id):
        queue_mail(
            session,
            to=user.email,
            kind="round_opened",
            user_id=_user_id(user),
            context={
                "recipient_name": trainee.name,
                "round_name": rnd.name,
                "region": rnd.region,
                "starts_on": rnd.starts_on,
                "ends_on": rnd.ends_on,
                "deadline": rnd.preference_deadline,
                "max_preferences": rnd.max_preferences,
            },
        )
        queued += 1
    employers = session.exec(
        select(User, Organisation, func.count(col(Slot.id)))
        .join(Organisation, col(Organisation.owner_id) == col(User.id))
        .join(Slot, col(Slot.organisation_id) == col(Organisation.id))
        .where(Slot.round_id == rnd.id, col(User.is_active).is_(True))
        .group_by(col(User.id), col(Organisation.id))
        .order_by(col(User.id))
    ).all()
    for user, organisation, slot_count in employers:
        queue_mail(
            session,
            to=user.email,
            kind="round_opened_employer",
            user_id=_user_id(user),
            context={
                "recipient_name": user.name,
                "round_name": rnd.name,
                "organisation_name": organisation.name,
                "slot_count": int(slot_count),
                "deadline": rnd.preference_deadline,
            },
        )
        queued += 1
    return queued


def _unplaced_reasons(session: Session, round_id: int) -> dict[int, str]:
    """trainee id -> why the round's latest successful run left them out."""
    run_id = session.exec(
        select(func.max(MatchRun.id)).where(
            MatchRun.round_id == round_id, MatchRun.status == "succeeded"
        )
    ).one()
    if run_id is None:
        return {}
    rows = session.exec(
        select(UnplacedTrainee.trainee_id, UnplacedTrainee.reason).where(
            UnplacedTrainee.run_id == run_id
        )
    ).all()
    return {trainee_id: reason for trainee_id, reason in rows}


def results_published(session: Session, rnd: Round) -> int:
    """Tell each trainee of the round with an account where they are placed, or that they
    are not and why (the reason the match gave). Returns how many mails were queued."""
    assert rnd.id is not None
    placed = {
        p.trainee_id: (p, s, o)
        for p, s, o in session.exec(
            select(Placement, Slot, Organisation)
            .join(Slot, col(Slot.id) == col(Placement.slot_id))
            .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
            .where(Placement.round_id == rnd.id, Placement.status == "live")
        ).all()
    }
    reasons = _unplaced_reasons(session, rnd.id)
    queued = 0
    for trainee, user in _round_trainees(session, rnd.id):
        assert trainee.id is not None
        if trainee.id in placed:
            placement, slot, organisation = placed[trainee.id]
            site = "remote" if slot.remote else (slot.postcode or organisation.postcode or "")
            queue_mail(
                session,
                to=user.email,
                kind="results_placed",
                user_id=_user_id(user),
                context={
                    "recipient_name": trainee.name,
                    "round_name": rnd.name,
                    "slot_title": slot.title,
                    "organisation_name": organisation.name,
                    "site": site or "site to be confirmed by the host",
                    "starts_on": slot.starts_on,
                    "ends_on": slot.ends_on,
                    # Publishing made the placement an offer (services/offers.py).
                    "deadline": uk_time(placement.offer_expires_at),
                },
            )
        else:
            reason = UNPLACED_REASONS.get(reasons.get(trainee.id, ""), NO_APPROVED_PLACEMENT)
            queue_mail(
                session,
                to=user.email,
                kind="results_unplaced",
                user_id=_user_id(user),
                context={
                    "recipient_name": trainee.name,
                    "round_name": rnd.name,
                    "reason": reason[:1].upper() + reason[1:],
                },
            )
        queued += 1
    return queued


def placement_withdrawn(session: Session, placement: Placement) -> bool:
    """Tell the trainee their placement was withdrawn, once they could know they had it
    (the round's results are published). True when a mail was queued."""
    rnd = session.get(Round, placement.round_id)
    if rnd is None or rnd.status != "published":
        return False
    row = session.exec(
        select(Trainee, User, Slot, Organisation)
        .join(User, col(User.id) == col(Trainee.user_id))
        .join(Slot, col(Slot.id) == placement.slot_id)
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .where(Trainee.id == placement.trainee_id, col(User.is_active).is_(True))
    ).first()
    if row is None:
        return False
    trainee, user, slot, organisation = row
    queue_mail(
        session,
        to=user.email,
        kind="placement_withdrawn",
        user_id=_user_id(user),
        context={
            "recipient_name": trainee.name,
            "round_name": rnd.name,
            "slot_title": slot.title,
            "organisation_name": organisation.name,
        },
    )
    return True


# --- the deadline reminder (a periodic job) ------------------------------------------------


def deadline_end(deadline: date) -> datetime:
    """Choices are accepted through the whole deadline day (UTC): it ends at midnight after."""
    return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=UTC)


def reminder_key(round_id: int, user_id: int) -> str:
    return f"deadline_reminder:round:{round_id}:user:{user_id}"


def send_deadline_reminders(*, settings: Settings, now: datetime | None = None) -> int:
    """Remind the trainees of every open round whose preference deadline ends within 48 h.

    Each trainee is reminded at most once per round: the reminder's outbox row carries a
    unique key, so a second pass (or a second beat) finds it and queues nothing. A trainee
    who joins the round later, before the deadline, is reminded on the next pass.
    Returns how many reminders were queued.
    """
    now = now or utcnow()
    queued = 0
    with session_scope(settings) as session:
        candidates = session.exec(
            select(Round).where(
                Round.status == "open",
                col(Round.preference_deadline).is_not(None),
                col(Round.preference_deadline) >= (now - timedelta(days=1)).date(),
                col(Round.preference_deadline) <= (now + REMINDER_BEFORE).date(),
            )
        ).all()
        for rnd in candidates:
            assert rnd.id is not None and rnd.preference_deadline is not None
            end = deadline_end(rnd.preference_deadline)
            if not end - REMINDER_BEFORE <= now < end:
                continue
            recipients = _round_trainees(session, rnd.id)
            keys = [reminder_key(rnd.id, _user_id(u)) for _, u in recipients]
            sent = set(
                session.exec(
                    select(OutboxMessage.dedupe_key).where(col(OutboxMessage.dedupe_key).in_(keys))
                ).all()
            )
            ranked = dict(
                session.exec(
                    select(Preference.trainee_id, func.count())
                    .where(Preference.round_id == rnd.id)
                    .group_by(col(Preference.trainee_id))
                ).all()
            )
            for (trainee, user), key in zip(recipients, keys, strict=True):
                if key in sent:
                    continue
                queue_mail(
                    session,
                    to=user.email,
                    kind="deadline_reminder",
                    user_id=_user_id(user),
                    dedupe_key=key,
                    context={
                        "recipient_name": trainee.name,
                        "round_name": rnd.name,
                        "deadline": rnd.preference_deadline,
                        "ranked": int(ranked.get(trainee.id or 0, 0)),
                        "max_preferences": rnd.max_preferences,
                    },
                )
                queued += 1
    return queued
