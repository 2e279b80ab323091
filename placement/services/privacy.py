"""Personal data: a trainee's export of everything held about them, and erasure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, or_, update
from sqlmodel import Session, SQLModel, col, select

from placement.models import (
    ApiToken,
    AuditEvent,
    EmployerRanking,
    Exclusion,
    MatchRun,
    Placement,
    Preference,
    Proposal,
    RoundTrainee,
    Slot,
    Trainee,
    UnplacedTrainee,
    User,
    utcnow,
)
from placement.services.common import audit, trainee_of
from placement.services.trainees import get_trainee

ERASED_NAME = "Erased trainee"

# What `privacy.erase_trainee` does, in words. Every trainee field is on one list or the
# other (a test holds these lists to the service's behaviour).
ERASURE_REMOVED: tuple[tuple[tuple[str, ...], str], ...] = (
    (("name",), "Their name: from now on they are shown as “Erased trainee”"),
    (("email",), "Their email address"),
    (("provider",), "Their college or training provider"),
    (("skills",), "Their skills"),
    (("postcode", "latitude", "longitude"), "Their home postcode and location"),
    (("max_travel_km",), "How far they can travel"),
    (("available_from", "available_to"), "When they are available"),
    (("dbs_cleared",), "Their DBS check status"),
    (
        ("needs", "share_needs"),
        "What they told us about their needs, whether hosts may see them, and why they "
        "declined any offer",
    ),
    (
        ("user_id",),
        "Their login, if they have one: the account's email, name and password, and its "
        "sessions and API tokens (they are signed out everywhere)",
    ),
    ((), "The IP addresses recorded with the things they did"),
    (
        (),
        "The stored input of every match run in their rounds (its fingerprint stays, so a "
        "published result can still be identified, but it can no longer be re-run offline)",
    ),
)
ERASURE_KEPT: tuple[tuple[tuple[str, ...], str], ...] = (
    (("id", "level"), "An anonymous record with its number and qualification level"),
    ((), "The rounds they took part in, their ranked choices and employers' rankings of them"),
    ((), "Match runs' proposals for them, and why a run did not place them"),
    (
        (),
        "Their placements, live or withdrawn: they stay counted, and appear as "
        "“Erased trainee” in lists and in the CSV export",
    ),
    ((), "The audit log of what was done, without their name, login or IP address"),
    (("created_at", "updated_at", "erased_at"), "When the record was made, changed and erased"),
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _row(obj: SQLModel, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: _plain(v) for k, v in obj.model_dump().items() if k not in skip}


def export_own_data(*, session: Session, actor: User) -> dict[str, Any]:
    """Every piece of personal data held about the calling trainee, as plain JSON."""
    trainee = trainee_of(session, actor)
    tid = trainee.id

    def rows(model: type[SQLModel], *where: Any, skip: tuple[str, ...] = ()) -> list[Any]:
        return [_row(r, skip=skip) for r in session.exec(select(model).where(*where))]

    slot_titles = {
        s.id: s.title
        for s in session.exec(
            select(Slot).where(
                col(Slot.id).in_(select(Preference.slot_id).where(Preference.trainee_id == tid))
            )
        )
    }
    preferences = rows(Preference, Preference.trainee_id == tid)
    for p in preferences:
        p["slot_title"] = slot_titles.get(p["slot_id"])
    proposals = rows(Proposal, Proposal.trainee_id == tid, skip=("decided_by",))
    placements = rows(Placement, Placement.trainee_id == tid, skip=("approved_by",))
    # What others did about them: on their record, their proposals and placements. Who
    # did it and from where is the staff's data, not the trainee's.
    about = or_(
        and_(col(AuditEvent.object_type) == "trainee", col(AuditEvent.object_id) == str(tid)),
        and_(
            col(AuditEvent.object_type) == "proposal",
            col(AuditEvent.object_id).in_([str(p["id"]) for p in proposals]),
        ),
        and_(
            col(AuditEvent.object_type) == "placement",
            col(AuditEvent.object_id).in_([str(p["id"]) for p in placements]),
        ),
    )
    return {
        "format": "placement-personal-data/1",
        "exported_at": utcnow().isoformat(),
        "account": _row(actor, skip=("password_hash",)),
        "profile": _row(trainee),
        "rounds": rows(RoundTrainee, RoundTrainee.trainee_id == tid),
        "preferences": preferences,
        "employer_rankings": rows(EmployerRanking, EmployerRanking.trainee_id == tid, skip=("id",)),
        "exclusions": rows(Exclusion, Exclusion.trainee_id == tid, skip=("created_by",)),
        "proposals": proposals,
        "unplaced": rows(UnplacedTrainee, UnplacedTrainee.trainee_id == tid),
        "placements": placements,
        "api_tokens": rows(ApiToken, ApiToken.user_id == actor.id, skip=("token_hash",)),
        "activity": rows(AuditEvent, AuditEvent.actor_id == actor.id),
        "about_you": rows(
            AuditEvent,
            about,
            or_(col(AuditEvent.actor_id).is_(None), col(AuditEvent.actor_id) != actor.id),
            skip=("actor_id", "ip"),
        ),
    }


@dataclass(frozen=True)
class ErasurePreview:
    """What erasing a trainee would remove and keep, or why there is nothing to do."""

    trainee: Trainee
    removed: list[str]
    kept: list[str]
    problem: str | None


def erasure_preview(*, session: Session, actor: User, trainee_id: int) -> ErasurePreview:
    trainee = get_trainee(session=session, actor=actor, trainee_id=trainee_id)
    problem = None
    if trainee.erased_at is not None:
        problem = (
            "This trainee's personal data was already erased on "
            f"{trainee.erased_at.strftime('%Y-%m-%d')}."
        )
    return ErasurePreview(
        trainee=trainee,
        removed=[text for _, text in ERASURE_REMOVED],
        kept=[text for _, text in ERASURE_KEPT],
        problem=problem,
    )


def erase_trainee(*, session: Session, actor: User, trainee_id: int) -> Trainee:
    """Remove a trainee's personal fields and their login; the match history (preferences,
    proposals, placements) stays, attached to the anonymised record."""
    trainee = get_trainee(session=session, actor=actor, trainee_id=trainee_id)
    if trainee.erased_at is not None:
        return trainee
    user_id = trainee.user_id
    trainee.user_id = None
    trainee.name = ERASED_NAME
    trainee.email = None
    trainee.provider = ""
    trainee.skills = []
    trainee.postcode = None
    trainee.latitude = None
    trainee.longitude = None
    trainee.max_travel_km = None
    trainee.available_from = None
    trainee.available_to = None
    trainee.dbs_cleared = False
    trainee.needs = ""
    trainee.share_needs = False
    trainee.erased_at = utcnow()
    trainee.updated_at = trainee.erased_at
    session.flush()
    # A declined offer's reason is the trainee's own words.
    session.execute(
        update(Placement).where(col(Placement.trainee_id) == trainee.id).values(decline_reason=None)
    )
    # Runs keep the instance they solved, which holds the trainee's location, skills and
    # availability under their id: erasure wins over re-running those runs offline. Each
    # run keeps the SHA-256 of what it solved.
    session.execute(
        update(MatchRun)
        .where(
            col(MatchRun.round_id).in_(
                select(RoundTrainee.round_id).where(RoundTrainee.trainee_id == trainee.id)
            ),
            col(MatchRun.instance_gz).is_not(None),
        )
        .values(instance_gz=None)
    )
    if user_id is not None:
        # The account (email, name, password) goes; audit rows keep an empty actor and
        # lose the address they were made from.
        for event in session.exec(select(AuditEvent).where(AuditEvent.actor_id == user_id)):
            event.ip = None
        session.execute(delete(User).where(col(User.id) == user_id))
    audit(session, actor=actor, action="trainee.erase", object_type="trainee", object_id=trainee.id)
    session.commit()
    return trainee
