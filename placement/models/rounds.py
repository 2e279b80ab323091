"""A round and what it matches: hosts, slots, trainees, preferences, rankings."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from placement.models.base import (
    DEFAULT_DBS_MAX_AGE_YEARS,
    ORGANISATION_KINDS,
    ROUND_STATUSES,
    _fk,
    _in,
    _json_list,
    _ts,
    leave_room,
)


class Organisation(SQLModel, table=True):
    __tablename__: ClassVar[str] = "organisations"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", ORGANISATION_KINDS), name="kind"),
        sa.CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude"),
        sa.CheckConstraint(
            "longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # One organisation per employer account; the owner's account may go, the host stays.
    owner_id: int | None = Field(
        default=None,
        sa_column_args=[sa.ForeignKey("users.id", ondelete="SET NULL")],
        sa_column_kwargs={"unique": True, "nullable": True},
    )
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    accreditations: list[str] = _json_list()
    postcode: str | None = Field(default=None, max_length=10)
    latitude: float | None = None
    longitude: float | None = None
    website: str | None = Field(default=None, max_length=300)
    verified: bool = Field(default=False)
    created_at: datetime = _ts(nullable=False, default=True)


class Round(SQLModel, table=True):
    __tablename__: ClassVar[str] = "rounds"
    __table_args__ = (
        sa.CheckConstraint(_in("status", ROUND_STATUSES), name="status"),
        sa.CheckConstraint("max_preferences BETWEEN 1 AND 50", name="max_preferences"),
        sa.CheckConstraint("offer_days BETWEEN 1 AND 60", name="offer_days"),
        sa.CheckConstraint("starts_on <= ends_on", name="dates_ordered"),
        sa.CheckConstraint("dbs_max_age_years BETWEEN 1 AND 10", name="dbs_max_age_years"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    region: str = Field(default="", max_length=100)
    starts_on: date
    ends_on: date
    preference_deadline: date | None = None
    max_preferences: int = Field(default=10)
    # When the round is solved, a trainee counts as DBS cleared only with a recorded check
    # issued at most this many years before.
    dbs_max_age_years: int = Field(
        default=DEFAULT_DBS_MAX_AGE_YEARS, sa_column_kwargs={"server_default": sa.text("3")}
    )
    # Days a trainee has to accept an offer, counted from when it is made.
    offer_days: int = Field(default=7, sa_column_kwargs={"server_default": "7"})
    status: str = Field(default="draft", max_length=20, index=True)
    created_at: datetime = _ts(nullable=False, default=True)


class Slot(SQLModel, table=True):
    __tablename__: ClassVar[str] = "slots"
    __table_args__ = (
        sa.CheckConstraint("min_level IN (4, 5)", name="min_level"),
        sa.CheckConstraint("capacity BETWEEN 1 AND 100", name="capacity"),
        sa.CheckConstraint("filled >= 0", name="filled_non_negative"),
        sa.CheckConstraint("filled <= capacity", name="filled_within_capacity"),
        sa.CheckConstraint("starts_on <= ends_on", name="dates_ordered"),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude"),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = _fk("rounds.id", "CASCADE")
    organisation_id: int = _fk("organisations.id", "RESTRICT")
    title: str = Field(max_length=200)
    discipline: str = Field(default="", max_length=100, index=True)
    description: str = Field(default="")
    required_skills: list[str] = _json_list()
    min_level: int = Field(default=4)
    capacity: int = Field(default=1)
    # Seats taken by live placements; moved only by a conditional UPDATE (see approvals).
    filled: int = Field(default=0)
    postcode: str | None = Field(default=None, max_length=10)
    latitude: float
    longitude: float
    remote: bool = Field(default=False)
    requires_dbs: bool = Field(default=False)
    starts_on: date
    ends_on: date
    created_at: datetime = _ts(nullable=False, default=True)


# Every approval, withdrawal and decline moves `filled`: with room in the page that is a HOT
# update, and "approve all" rewrites each seat of a national round in a fraction of the time.
leave_room(Slot, 50)


class Trainee(SQLModel, table=True):
    __tablename__: ClassVar[str] = "trainees"
    __table_args__ = (
        sa.CheckConstraint("level IS NULL OR level IN (4, 5)", name="level"),
        sa.CheckConstraint("max_travel_km IS NULL OR max_travel_km > 0", name="max_travel_km"),
        sa.CheckConstraint(
            "available_from IS NULL OR available_to IS NULL OR available_from <= available_to",
            name="dates_ordered",
        ),
        sa.CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude"),
        sa.CheckConstraint(
            "longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The login that owns this profile; an imported trainee has none until they register.
    user_id: int | None = Field(
        default=None,
        sa_column_args=[sa.ForeignKey("users.id", ondelete="SET NULL")],
        sa_column_kwargs={"unique": True, "nullable": True},
    )
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254, sa_column_kwargs={"unique": True})
    level: int | None = None
    provider: str = Field(default="", max_length=200)
    skills: list[str] = _json_list()
    postcode: str | None = Field(default=None, max_length=10)
    latitude: float | None = None
    longitude: float | None = None
    max_travel_km: float | None = None
    available_from: date | None = None
    available_to: date | None = None
    # Both kept by the vetting service from the recorded DBS checks, never by the trainee:
    # `dbs_checked_on` is the date the newest check counts from (its issue date), and
    # `dbs_cleared` whether that is within the default age (refreshed daily). A run uses
    # `dbs_checked_on` with its round's own `dbs_max_age_years`.
    dbs_cleared: bool = Field(default=False)
    dbs_checked_on: date | None = None
    needs: str = Field(default="")
    # Whether the host of an accepted offer may read `needs`.
    share_needs: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    created_at: datetime = _ts(nullable=False, default=True)
    updated_at: datetime = _ts(nullable=False, default=True)
    erased_at: datetime | None = _ts()


class RoundTrainee(SQLModel, table=True):
    """A trainee takes part in a round once imported into it or after ranking its slots."""

    __tablename__: ClassVar[str] = "round_trainees"

    round_id: int = Field(
        sa_column_args=[sa.ForeignKey("rounds.id", ondelete="CASCADE")], primary_key=True
    )
    trainee_id: int = Field(
        sa_column_args=[sa.ForeignKey("trainees.id", ondelete="CASCADE")],
        primary_key=True,
        index=True,
    )
    joined_at: datetime = _ts(nullable=False, default=True)


class Preference(SQLModel, table=True):
    __tablename__: ClassVar[str] = "preferences"
    __table_args__ = (
        sa.UniqueConstraint("trainee_id", "round_id", "slot_id"),
        sa.UniqueConstraint("trainee_id", "round_id", "rank"),
        sa.CheckConstraint("rank >= 1", name="rank_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = _fk("rounds.id", "CASCADE")
    trainee_id: int = _fk("trainees.id", "CASCADE")
    slot_id: int = _fk("slots.id", "CASCADE")
    rank: int
    updated_at: datetime = _ts(nullable=False, default=True)


class EmployerRanking(SQLModel, table=True):
    __tablename__: ClassVar[str] = "employer_rankings"
    __table_args__ = (
        sa.UniqueConstraint("slot_id", "trainee_id"),
        sa.UniqueConstraint("slot_id", "rank"),
        sa.CheckConstraint("rank >= 1", name="rank_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slot_id: int = _fk("slots.id", "CASCADE")
    trainee_id: int = _fk("trainees.id", "CASCADE")
    rank: int


class Exclusion(SQLModel, table=True):
    """A trainee-slot pair a coordinator has ruled out."""

    __tablename__: ClassVar[str] = "exclusions"
    __table_args__ = (sa.UniqueConstraint("slot_id", "trainee_id"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = _fk("rounds.id", "CASCADE")
    slot_id: int = _fk("slots.id", "CASCADE")
    trainee_id: int = _fk("trainees.id", "CASCADE")
    reason: str = Field(default="")
    created_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    created_at: datetime = _ts(nullable=False, default=True)


class TraineeNote(SQLModel, table=True):
    """A coordinator's note on a trainee's record: seen by coordinators only, part of the
    trainee's data export, and removed when the trainee's personal data is erased."""

    __tablename__: ClassVar[str] = "trainee_notes"
    __table_args__ = (sa.CheckConstraint("length(text) > 0", name="text_not_empty"),)

    id: int | None = Field(default=None, primary_key=True)
    trainee_id: int = _fk("trainees.id", "CASCADE")
    author_id: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    text: str = Field(max_length=2000)
    created_at: datetime = _ts(nullable=False, default=True)
