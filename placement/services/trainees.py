"""Trainee profiles: their own, and all of them for coordinators."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from placement.config import Settings
from placement.errors import Conflict, InvalidInput, NotFound
from placement.models import RoundTrainee, Trainee, User, utcnow
from placement.services.common import (
    Page,
    audit,
    changes,
    paginate,
    require_role,
    snapshot,
    trainee_of,
)
from placement.services.postcodes import fill_coordinates

PROFILE_FIELDS = (
    "name",
    "level",
    "provider",
    "skills",
    "postcode",
    "latitude",
    "longitude",
    "max_travel_km",
    "available_from",
    "available_to",
    "needs",
    "share_needs",
)
# Follows from the DBS checks a coordinator records (services.vetting), never set directly.
DBS_REFUSED = "is recorded by a coordinator who has seen the DBS certificate; it cannot be set here"


# Without these the matcher cannot judge a trainee's eligibility for any slot.
MATCHING_FIELDS = (
    "level",
    "latitude",
    "longitude",
    "max_travel_km",
    "available_from",
    "available_to",
)


def missing_for_matching(trainee: Trainee) -> list[str]:
    """The profile fields a trainee must fill in before they can be matched."""
    return [name for name in MATCHING_FIELDS if getattr(trainee, name) is None]


# What to do about each missing field, in the words the profile page uses.
_TO_DO = (
    (("level",), "Choose your level (4 or 5)"),
    (("latitude", "longitude"), "Add your home postcode"),
    (("max_travel_km",), "Say how far you can travel"),
    (("available_from", "available_to"), "Add the dates you are available"),
)


def missing_in_words(trainee: Trainee) -> list[str]:
    """What a trainee must still do before they can be matched, in plain words."""
    missing = set(missing_for_matching(trainee))
    return [text for names, text in _TO_DO if missing.intersection(names)]


def _check(trainee: Trainee) -> None:
    if (
        trainee.available_from is not None
        and trainee.available_to is not None
        and trainee.available_from > trainee.available_to
    ):
        raise InvalidInput(errors={"available_to": ["must not be before available_from"]})


def _apply(
    session: Session,
    trainee: Trainee,
    values: dict[str, Any],
    *,
    allow_email: bool,
    settings: Settings | None,
) -> None:
    if "dbs_cleared" in values:
        raise InvalidInput(
            "DBS clearance is recorded by a coordinator.", errors={"dbs_cleared": [DBS_REFUSED]}
        )
    values = dict(values)
    fill_coordinates(session, values, current=trainee, settings=settings)
    for key, value in values.items():
        if key in PROFILE_FIELDS or (allow_email and key == "email"):
            if key in ("name", "provider", "needs", "skills") and value is None:
                raise InvalidInput(errors={key: ["Field may not be null."]})
            setattr(trainee, key, value)
    trainee.updated_at = utcnow()
    _check(trainee)


def _email_free(session: Session, email: str | None, *, other_than: int | None = None) -> None:
    if email is None:
        return
    found = session.exec(select(Trainee).where(Trainee.email == email)).first()
    if found is not None and found.id != other_than:
        raise Conflict("Another trainee has that email address.")


def get_own_profile(*, session: Session, actor: User) -> Trainee:
    return trainee_of(session, actor)


def update_own_profile(
    *, session: Session, actor: User, values: dict[str, Any], settings: Settings | None = None
) -> Trainee:
    """A trainee updates their own profile; their email is their login's and stays.
    A postcode given without coordinates sets them (see services.postcodes)."""
    trainee = trainee_of(session, actor)
    before = snapshot(trainee)
    _apply(session, trainee, values, allow_email=False, settings=settings)
    audit(
        session,
        actor=actor,
        action="trainee.update",
        object_type="trainee",
        object_id=trainee.id,
        trainee_id=trainee.id,
        changes=changes(before, trainee),
    )
    session.commit()
    return trainee


def list_trainees(
    *,
    session: Session,
    actor: User,
    round_id: int | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Trainee]:
    require_role(actor, "coordinator")
    return paginate(session, matching(select(Trainee), round_id, q), page, per_page)


def matching(statement: Any, round_id: int | None, q: str | None) -> Any:
    """`statement` (a select of trainees or their ids) narrowed to the round and to names or
    emails containing `q`, in id order: the list's rule, shared with bulk actions."""
    if round_id is not None:
        statement = statement.where(
            col(Trainee.id).in_(
                select(RoundTrainee.trainee_id).where(RoundTrainee.round_id == round_id)
            )
        )
    if q:
        pattern = f"%{q.lower()}%"
        statement = statement.where(
            or_(col(Trainee.name).ilike(pattern), col(Trainee.email).ilike(pattern))
        )
    return statement.order_by(col(Trainee.id))


def create_trainee(
    *, session: Session, actor: User, values: dict[str, Any], settings: Settings | None = None
) -> Trainee:
    """A profile without a login; whoever registers with its email takes it over."""
    require_role(actor, "coordinator")
    _email_free(session, values.get("email"))
    trainee = Trainee(name=values["name"])
    _apply(session, trainee, values, allow_email=True, settings=settings)
    session.add(trainee)
    session.flush()
    audit(
        session,
        actor=actor,
        action="trainee.create",
        object_type="trainee",
        object_id=trainee.id,
        trainee_id=trainee.id,
        changes=changes(None, trainee),
    )
    session.commit()
    return trainee


def get_trainee(*, session: Session, actor: User, trainee_id: int) -> Trainee:
    require_role(actor, "coordinator")
    trainee = session.get(Trainee, trainee_id)
    if trainee is None:
        raise NotFound("No such trainee.")
    return trainee


def update_trainee(
    *,
    session: Session,
    actor: User,
    trainee_id: int,
    values: dict[str, Any],
    settings: Settings | None = None,
) -> Trainee:
    trainee = get_trainee(session=session, actor=actor, trainee_id=trainee_id)
    if trainee.erased_at is not None:
        raise Conflict("The trainee's personal data was erased.")
    if "email" in values:
        if trainee.user_id is not None and values["email"] != trainee.email:
            raise Conflict("The trainee has a login; their email is changed through it.")
        _email_free(session, values["email"], other_than=trainee.id)
    before = snapshot(trainee)
    _apply(session, trainee, values, allow_email=True, settings=settings)
    audit(
        session,
        actor=actor,
        action="trainee.update",
        object_type="trainee",
        object_id=trainee.id,
        trainee_id=trainee.id,
        changes=changes(before, trainee),
    )
    session.commit()
    return trainee
