"""A trainee's ranked list of the slots they want in a round."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from placement.errors import InvalidInput, WrongState
from placement.models import (
    Preference,
    Round,
    RoundStatus,
    RoundTrainee,
    Slot,
    Trainee,
    User,
    utcnow,
)
from placement.services.common import audit, changes, get_round, trainee_of
from placement.services.rounds import require_status
from placement.services.trainees import missing_for_matching, missing_in_words


@dataclass(frozen=True)
class Preferences:
    round_id: int
    slot_ids: list[int]
    updated_at: datetime | None
    # Ranked slots a hard rule forbids, said at once: [{slot_id, message}].
    warnings: list[dict[str, Any]] = field(default_factory=list)


def get_preferences(*, session: Session, actor: User, round_id: int) -> Preferences:
    trainee = trainee_of(session, actor)
    rnd = get_round(session, round_id, actor=actor)
    rows = session.exec(
        select(Preference)
        .where(Preference.round_id == rnd.id, Preference.trainee_id == trainee.id)
        .order_by(col(Preference.rank))
    ).all()
    assert rnd.id is not None
    slot_ids = [p.slot_id for p in rows]
    return Preferences(
        round_id=rnd.id,
        slot_ids=slot_ids,
        updated_at=max((p.updated_at for p in rows), default=None),
        warnings=eligibility_warnings(session, trainee, slot_ids),
    )


def check_preferences(session: Session, rnd: Round, slot_ids: list[int]) -> list[str]:
    """What is wrong with a ranked list for `rnd` (empty when it is acceptable)."""
    problems: list[str] = []
    if len(set(slot_ids)) != len(slot_ids):
        problems.append("must not repeat a slot")
    if len(slot_ids) > rnd.max_preferences:
        problems.append(f"at most {rnd.max_preferences} slots may be ranked in this round")
    known = set(
        session.exec(
            select(Slot.id).where(Slot.round_id == rnd.id, col(Slot.id).in_(set(slot_ids)))
        ).all()
    )
    strangers = [s for s in slot_ids if s not in known]
    if strangers:
        problems.append(
            "not slots of this round: " + ", ".join(map(str, list(dict.fromkeys(strangers))[:20]))
        )
    return problems


def eligibility_warnings(
    session: Session, trainee: Trainee, slot_ids: list[int]
) -> list[dict[str, Any]]:
    """`{slot_id, message}` for each listed slot the trainee cannot be matched to, with the
    rule in words and its numbers (the engine's rules, not a copy of them). Empty when the
    profile is incomplete (that has its own message) or nothing is wrong."""
    from placement.matching import InstanceError, load_instance
    from placement.matching.explanations import ineligible_choices
    from placement.services.runs.explanations import choice_sentence

    if not slot_ids or missing_for_matching(trainee):
        return []
    slots = session.exec(select(Slot).where(col(Slot.id).in_(set(slot_ids)))).all()
    known = {s.id for s in slots}
    doc = {
        "format": "placement-instance/1",
        "max_preferences": max(len(slot_ids), 1),
        "trainees": [
            {
                "id": "me",
                "level": trainee.level,
                "skills": list(trainee.skills),
                "latitude": trainee.latitude,
                "longitude": trainee.longitude,
                "max_travel_km": trainee.max_travel_km,
                "available_from": trainee.available_from.isoformat()
                if trainee.available_from
                else None,
                "available_to": trainee.available_to.isoformat() if trainee.available_to else None,
                "dbs_cleared": bool(trainee.dbs_cleared),
                "preferences": [str(s) for s in dict.fromkeys(slot_ids) if s in known],
            }
        ],
        "slots": [
            {
                "id": str(s.id),
                "capacity": 1,
                "min_level": s.min_level,
                "required_skills": list(s.required_skills),
                "latitude": s.latitude,
                "longitude": s.longitude,
                "remote": bool(s.remote),
                "requires_dbs": bool(s.requires_dbs),
                "starts_on": s.starts_on.isoformat(),
                "ends_on": s.ends_on.isoformat(),
                "rankings": [],
            }
            for s in slots
        ],
        "locked": [],
        "excluded": [],
    }
    try:
        found = ineligible_choices(load_instance(doc)).get("me", [])
    except InstanceError:
        return []  # a record the matcher would reject is reported where it is edited
    return [
        {"slot_id": int(c["slot_id"]), "message": choice_sentence(c, audience="trainee")}
        for c in found
    ]


def replace_preferences(
    session: Session, rnd: Round, trainee: Trainee, slot_ids: list[int]
) -> datetime:
    """Write a checked list (no commit); the trainee joins the round.

    The caller holds the trainee's row lock (`lock_trainee`), so two replaces of one list
    run one after the other and the last wins: they never interleave on the unique
    `(trainee, round, rank)` index.
    """
    assert rnd.id is not None and trainee.id is not None
    now = utcnow()
    session.execute(
        delete(Preference).where(
            col(Preference.round_id) == rnd.id, col(Preference.trainee_id) == trainee.id
        )
    )
    if slot_ids:
        session.execute(
            insert(Preference),
            [
                {
                    "round_id": rnd.id,
                    "trainee_id": trainee.id,
                    "slot_id": slot_id,
                    "rank": rank,
                    "updated_at": now,
                }
                for rank, slot_id in enumerate(slot_ids, start=1)
            ],
        )
    joined = session.exec(
        select(RoundTrainee.trainee_id).where(
            RoundTrainee.round_id == rnd.id, RoundTrainee.trainee_id == trainee.id
        )
    ).first()
    if joined is None:
        session.execute(
            insert(RoundTrainee), [{"round_id": rnd.id, "trainee_id": trainee.id, "joined_at": now}]
        )
    return now


def lock_trainee(session: Session, trainee: Trainee) -> None:
    """Serialise writes to one trainee's lists (a row lock; SQLite already serialises)."""
    session.exec(select(Trainee.id).where(Trainee.id == trainee.id).with_for_update()).first()


def set_preferences(
    *, session: Session, actor: User, round_id: int, slot_ids: list[int]
) -> Preferences:
    """Replace the trainee's ranked list (first = most wanted) while the round is open."""
    trainee = trainee_of(session, actor)
    lock_trainee(session, trainee)
    rnd = get_round(session, round_id, actor=actor)
    require_status(rnd, RoundStatus.OPEN, doing="change preferences")
    if rnd.preference_deadline is not None and utcnow().date() > rnd.preference_deadline:
        raise WrongState("The deadline for preferences in this round has passed.")
    to_do = missing_in_words(trainee)
    if slot_ids and to_do:
        steps = "; ".join(step[0].lower() + step[1:] for step in to_do)
        raise InvalidInput(
            f"Complete your profile before ranking slots: {steps}.", errors={"profile": to_do}
        )
    problems = check_preferences(session, rnd, slot_ids)
    if problems:
        raise InvalidInput(errors={"slot_ids": problems})
    before = session.exec(
        select(Preference.slot_id)
        .where(Preference.round_id == rnd.id, Preference.trainee_id == trainee.id)
        .order_by(col(Preference.rank))
    ).all()
    updated_at = replace_preferences(session, rnd, trainee, slot_ids)
    audit(
        session,
        actor=actor,
        action="preference.set",
        object_type="trainee",
        object_id=trainee.id,
        round_id=rnd.id,
        trainee_id=trainee.id,
        changes=changes({"slot_ids": list(before)}, {"slot_ids": list(slot_ids)}),
    )
    session.commit()
    assert rnd.id is not None
    return Preferences(
        round_id=rnd.id,
        slot_ids=list(slot_ids),
        updated_at=updated_at,
        warnings=eligibility_warnings(session, trainee, slot_ids),
    )
