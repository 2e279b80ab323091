"""The data model. The database itself enforces the invariants (checks, unique and partial
indexes, foreign keys); services rely on them rather than on checks alone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr, deferred
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class RoundStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    PUBLISHED = "published"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ProposalStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class PlacementStatus(StrEnum):
    LIVE = "live"
    WITHDRAWN = "withdrawn"


ROLES = ("trainee", "employer", "coordinator")
ORGANISATION_KINDS = ("test_lab", "device_maker", "clinical_lab", "other")
ROUND_STATUSES = tuple(RoundStatus)
RUN_STATUSES = tuple(RunStatus)
RUN_PHASES = ("queued", "loading", "solving", "writing", "done")
RUN_MODES = ("optimal", "stable")
PROPOSAL_STATUSES = tuple(ProposalStatus)
PLACEMENT_STATUSES = tuple(PlacementStatus)
UNPLACED_REASONS = ("no_eligible_slot", "outcompeted")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps on every backend (SQLite keeps no zone, so we restore UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC timestamps")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def _ts(*, nullable: bool = True, default: bool = False) -> Any:
    return Field(
        default_factory=utcnow if default else lambda: None,
        sa_column_kwargs={"nullable": nullable},
        sa_type=UTCDateTime,
    )


def _json_list() -> Any:
    return Field(default_factory=list, sa_type=sa.JSON, sa_column_kwargs={"nullable": False})


def _json_dict(nullable: bool = False) -> Any:
    return Field(
        default_factory=dict if not nullable else lambda: None,
        sa_type=sa.JSON,
        sa_column_kwargs={"nullable": nullable},
    )


def _fk(target: str, ondelete: str, *, nullable: bool = False, index: bool = True) -> Any:
    return Field(
        default=None,
        sa_column_args=[sa.ForeignKey(target, ondelete=ondelete)],
        sa_column_kwargs={"nullable": nullable},
        index=index,
    )


class User(SQLModel, table=True):
    __tablename__: ClassVar[str] = "users"
    __table_args__ = (sa.CheckConstraint(_in("role", ROLES), name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    created_at: datetime = _ts(nullable=False, default=True)
    last_login_at: datetime | None = _ts()


class ApiToken(SQLModel, table=True):
    __tablename__: ClassVar[str] = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id", "CASCADE")
    # Only a SHA-256 of the token is kept: a leaked table reveals no usable token.
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = _ts(nullable=False, default=True)
    last_used_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()


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
        sa.CheckConstraint("starts_on <= ends_on", name="dates_ordered"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    region: str = Field(default="", max_length=100)
    starts_on: date
    ends_on: date
    preference_deadline: date | None = None
    max_preferences: int = Field(default=10)
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
    dbs_cleared: bool = Field(default=False)
    needs: str = Field(default="")
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


class MatchRun(SQLModel, table=True):
    __tablename__: ClassVar[str] = "match_runs"
    __table_args__ = (
        sa.CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        sa.CheckConstraint(_in("phase", RUN_PHASES), name="phase"),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        sa.CheckConstraint(_in("mode", RUN_MODES), name="mode"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = _fk("rounds.id", "CASCADE")
    status: str = Field(default="queued", max_length=20, index=True)
    phase: str = Field(default="queued", max_length=20)
    progress: int = Field(default=0)
    weights: dict[str, float] = _json_dict()
    allow_unranked: bool = Field(default=False)
    name: str | None = Field(default=None, max_length=200)
    mode: str = Field(
        default="optimal", max_length=20, sa_column_kwargs={"server_default": "optimal"}
    )
    seed: int = Field(default=0, sa_type=sa.BigInteger, sa_column_kwargs={"server_default": "0"})
    # Stable runs: every trainee id of the instance in lottery order (first = best).
    lottery: list[str] | None = Field(
        default=None, sa_type=sa.JSON, sa_column_kwargs={"nullable": True}
    )
    stats: dict[str, Any] | None = _json_dict(nullable=True)
    error: str | None = None
    attempts: int = Field(default=0)
    created_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    created_at: datetime = _ts(nullable=False, default=True)
    enqueued_at: datetime | None = _ts()
    started_at: datetime | None = _ts()
    heartbeat_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    # The instance file the run solved: gzip of its canonical JSON (sorted keys, compact),
    # and the SHA-256 of that JSON, so a published instance file can be checked. Written by
    # the attempt that loads the round; explanations read it, not the round as it is now.
    instance_gz: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    instance_sha256: str | None = Field(default=None, max_length=64)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # A national instance is megabytes: load it only when asked for, not with the run.
        table: sa.Table = getattr(cls, "__table__")  # noqa: B009  (set by the mapping)
        return {
            "properties": {
                "instance_gz": deferred(table.c.instance_gz),
                "lottery": deferred(table.c.lottery),
            }
        }


class RunSeatValue(SQLModel, table=True):
    """How an optimal run's optimum changes with one more seat at a slot (API.md)."""

    __tablename__: ClassVar[str] = "seat_values"

    run_id: int = Field(
        sa_column_args=[sa.ForeignKey("match_runs.id", ondelete="CASCADE")], primary_key=True
    )
    slot_id: int = Field(
        sa_column_args=[sa.ForeignKey("slots.id", ondelete="CASCADE")], primary_key=True, index=True
    )
    placed_gain: int
    cost_change: float


class RunExplanation(SQLModel, table=True):
    """Why a trainee got their outcome in a run: the engine's structured reasons, written
    by the worker with the run (trainees placed at their first choice have none)."""

    __tablename__: ClassVar[str] = "explanations"

    run_id: int = Field(
        sa_column_args=[sa.ForeignKey("match_runs.id", ondelete="CASCADE")], primary_key=True
    )
    trainee_id: int = Field(
        sa_column_args=[sa.ForeignKey("trainees.id", ondelete="CASCADE")],
        primary_key=True,
        index=True,
    )
    body: dict[str, Any] = _json_dict()


class Proposal(SQLModel, table=True):
    __tablename__: ClassVar[str] = "proposals"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "trainee_id"),
        sa.CheckConstraint(_in("status", PROPOSAL_STATUSES), name="status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = _fk("match_runs.id", "CASCADE")
    trainee_id: int = _fk("trainees.id", "CASCADE")
    slot_id: int = _fk("slots.id", "CASCADE")
    rank: int | None = None
    cost: float
    terms: dict[str, float] = _json_dict()
    status: str = Field(default="proposed", max_length=20, index=True)
    reason: str | None = None
    decided_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    decided_at: datetime | None = _ts()


class UnplacedTrainee(SQLModel, table=True):
    __tablename__: ClassVar[str] = "unplaced_trainees"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "trainee_id"),
        sa.CheckConstraint(_in("reason", UNPLACED_REASONS), name="reason"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = _fk("match_runs.id", "CASCADE")
    trainee_id: int = _fk("trainees.id", "CASCADE")
    reason: str = Field(max_length=30)


class Placement(SQLModel, table=True):
    __tablename__: ClassVar[str] = "placements"
    __table_args__ = (
        sa.CheckConstraint(_in("status", PLACEMENT_STATUSES), name="status"),
        # At most one live placement per trainee per round, enforced by the database.
        sa.Index(
            "uq_placements_live_trainee",
            "round_id",
            "trainee_id",
            unique=True,
            sqlite_where=sa.text("status = 'live'"),
            postgresql_where=sa.text("status = 'live'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = _fk("rounds.id", "CASCADE")
    trainee_id: int = _fk("trainees.id", "CASCADE")
    slot_id: int = _fk("slots.id", "RESTRICT")
    proposal_id: int | None = _fk("proposals.id", "SET NULL", nullable=True)
    status: str = Field(default="live", max_length=20)
    approved_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    created_at: datetime = _ts(nullable=False, default=True)
    withdrawn_at: datetime | None = _ts()


class AuditEvent(SQLModel, table=True):
    __tablename__: ClassVar[str] = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False, default=True)
    actor_id: int | None = _fk("users.id", "SET NULL", nullable=True)
    action: str = Field(max_length=50, index=True)
    object_type: str = Field(default="", max_length=50)
    object_id: str = Field(default="", max_length=50)
    detail: dict[str, Any] = _json_dict()
    ip: str | None = Field(default=None, max_length=64)


# SQLite hands out the highest deleted rowid again unless a table says AUTOINCREMENT; audit
# events, exports and run instances name rows by id, so ids are never reused, on SQLite as on
# Postgres (whose sequences never go back).
for _table in SQLModel.metadata.tables.values():
    if [column.name for column in _table.primary_key.columns] == ["id"]:
        _table.dialect_kwargs["sqlite_autoincrement"] = True
