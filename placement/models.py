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


class OfferStatus(StrEnum):
    """A placement's offer, once its round is published. `offered` and `accepted` hold a
    seat (the placement is live); the others ended it (the placement is withdrawn)."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


ROLES = ("trainee", "employer", "coordinator")
ORGANISATION_KINDS = ("test_lab", "device_maker", "clinical_lab", "other")
ROUND_STATUSES = tuple(RoundStatus)
RUN_STATUSES = tuple(RunStatus)
RUN_PHASES = ("queued", "loading", "solving", "writing", "done")
RUN_MODES = ("optimal", "stable")
PROPOSAL_STATUSES = tuple(ProposalStatus)
PLACEMENT_STATUSES = tuple(PlacementStatus)
OFFER_STATUSES = tuple(OfferStatus)
HOLDING_OFFERS = (OfferStatus.OFFERED, OfferStatus.ACCEPTED)
ENDED_OFFERS = (OfferStatus.DECLINED, OfferStatus.EXPIRED, OfferStatus.WITHDRAWN)
UNPLACED_REASONS = ("no_eligible_slot", "outcompeted")
DBS_LEVELS = ("basic", "standard", "enhanced")
# How a DBS check came to be recorded: a coordinator saw the certificate, or a
# coordinator's trainee import said so.
DBS_SOURCES = ("seen", "import")
DEFAULT_DBS_MAX_AGE_YEARS = 3


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
    # When the owner proved the address by a link; None: no sign-in until they do.
    email_verified_at: datetime | None = _ts()
    # Failed sign-ins before this no longer count against the account.
    password_changed_at: datetime | None = _ts()
    # TOTP (RFC 6238): the secret in use once confirmed, the one waiting for confirmation,
    # and the last time step accepted (a code is good once).
    mfa_secret: str | None = Field(default=None, max_length=64)
    mfa_pending_secret: str | None = Field(default=None, max_length=64)
    mfa_enabled_at: datetime | None = _ts()
    mfa_last_step: int | None = Field(default=None, sa_type=sa.BigInteger)

    @property
    def mfa_enabled(self) -> bool:
        return self.mfa_secret is not None


class ApiToken(SQLModel, table=True):
    """A bearer token of the API."""

    __tablename__: ClassVar[str] = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id", "CASCADE")
    # Only a SHA-256 of the token is kept: a leaked table reveals no usable token.
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = _ts(nullable=False, default=True)
    last_used_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()


class WebSession(SQLModel, table=True):
    """A signed-in page session. The cookie carries only its random id, which is no bearer
    token: the API never looks in this table."""

    __tablename__: ClassVar[str] = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id", "CASCADE")
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = _ts(nullable=False, default=True)
    last_used_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()
    ip: str | None = Field(default=None, max_length=64)


class RecoveryCode(SQLModel, table=True):
    """One of the ten single-use codes that stand in for the authenticator app."""

    __tablename__: ClassVar[str] = "mfa_recovery_codes"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id", "CASCADE")
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = _ts()


LINK_PURPOSES = ("register", "invite", "confirm", "reset")


class EmailLink(SQLModel, table=True):
    """A signed, expiring, single-use link sent to an address: it proves that whoever uses
    it reads that mailbox. `register` and `invite` create an account, `confirm` proves the
    address of an existing one, `reset` sets a new password."""

    __tablename__: ClassVar[str] = "email_links"
    __table_args__ = (
        sa.CheckConstraint(_in("purpose", LINK_PURPOSES), name="purpose"),
        sa.CheckConstraint(_in("role", ROLES), name="role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    email: str = Field(max_length=254, index=True)
    name: str = Field(default="", max_length=200)
    role: str = Field(default="trainee", max_length=20)
    user_id: int | None = _fk("users.id", "CASCADE", nullable=True)
    trainee_id: int | None = _fk("trainees.id", "SET NULL", nullable=True)
    created_at: datetime = _ts(nullable=False, default=True)
    expires_at: datetime = _ts(nullable=False, default=True)
    used_at: datetime | None = _ts()


class LoginFailure(SQLModel, table=True):
    """A failed sign-in (wrong password or wrong second factor), from the API or a page:
    the one login limiter counts these."""

    __tablename__: ClassVar[str] = "login_failures"
    __table_args__ = (
        sa.Index("ix_login_failures_email_at", "email", "at"),
        sa.Index("ix_login_failures_ip_at", "ip", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False, default=True)
    email: str = Field(max_length=254)
    ip: str = Field(max_length=64)
    kind: str = Field(default="password", max_length=20)


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
    # What the coordinator calls the run ("More weight on travel"); "" when unnamed.
    name: str = Field(default="", max_length=100)
    status: str = Field(default="queued", max_length=20, index=True)
    phase: str = Field(default="queued", max_length=20)
    progress: int = Field(default=0)
    weights: dict[str, float] = _json_dict()
    allow_unranked: bool = Field(default=False)
    # A run started on a published round: it fills freed seats, its approvals are offers.
    clearing: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
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
        # A live placement holds its seat as an offer (or before publication, no offer yet);
        # an ended offer leaves the placement withdrawn, its row kept.
        sa.CheckConstraint(
            f"offer_status IS NULL OR (status = 'live' AND {_in('offer_status', HOLDING_OFFERS)})"
            f" OR (status = 'withdrawn' AND {_in('offer_status', ENDED_OFFERS)})",
            name="offer_status",
        ),
        sa.CheckConstraint(
            "offer_status IS NULL OR offer_expires_at IS NOT NULL", name="offer_expires"
        ),
        # The expiry and reminder jobs look for offers by status and deadline.
        sa.Index("ix_placements_offer_due", "offer_status", "offer_expires_at"),
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
    # The offer (see OfferStatus); null until the round is published.
    offer_status: str | None = Field(default=None, max_length=20)
    offered_at: datetime | None = _ts()
    offer_expires_at: datetime | None = _ts()
    # When the trainee accepted or declined, or the offer expired or was withdrawn.
    offer_decided_at: datetime | None = _ts()
    decline_reason: str | None = Field(default=None, max_length=1000)
    # Set once the 48-hour reminder is queued: it is sent once.
    offer_reminded_at: datetime | None = _ts()


class AuditEvent(SQLModel, table=True):
    __tablename__: ClassVar[str] = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        sa_column_kwargs={"nullable": False},
        index=True,
    )
    actor_id: int | None = _fk("users.id", "SET NULL", nullable=True)
    action: str = Field(max_length=50, index=True)
    object_type: str = Field(default="", max_length=50)
    object_id: str = Field(default="", max_length=50)
    detail: dict[str, Any] = _json_dict()
    ip: str | None = Field(default=None, max_length=64)
    # What the event is about, for the log's filters. Plain ids, no foreign keys: the log
    # outlives the rounds and trainees it names.
    round_id: int | None = Field(default=None, index=True)
    trainee_id: int | None = Field(default=None, index=True)


class Accreditation(SQLModel, table=True):
    """One accreditation of a host: a standard, who accredits it, until when, and the
    evidence the host uploaded (a file under the instance directory)."""

    __tablename__: ClassVar[str] = "accreditations"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = _fk("organisations.id", "CASCADE")
    standard: str = Field(max_length=100)
    body: str = Field(default="", max_length=200)
    number: str = Field(default="", max_length=100)
    scope: str = Field(default="", max_length=2000)
    expires_on: date | None = None
    # The stored file's name under `instance/evidence/`, never a path the client chose.
    evidence_file: str | None = Field(default=None, max_length=100)
    evidence_name: str | None = Field(default=None, max_length=200)
    evidence_type: str | None = Field(default=None, max_length=50)
    evidence_size: int | None = None
    created_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    created_at: datetime = _ts(nullable=False, default=True)
    updated_at: datetime = _ts(nullable=False, default=True)


class Verification(SQLModel, table=True):
    """A coordinator's vetting of a host: who, when, what they saw, and what the host's
    record said then. It lapses when that changes or an accreditation expires."""

    __tablename__: ClassVar[str] = "verifications"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = _fk("organisations.id", "CASCADE")
    verified_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    verified_at: datetime = _ts(nullable=False, default=True)
    seen: str = Field(default="", max_length=2000)
    snapshot: dict[str, Any] = _json_dict()
    lapsed_at: datetime | None = _ts()
    lapse_reason: str | None = Field(default=None, max_length=300)


class DbsCheck(SQLModel, table=True):
    """A DBS certificate a coordinator saw (or a coordinator's import vouched for)."""

    __tablename__: ClassVar[str] = "dbs_checks"
    __table_args__ = (
        sa.CheckConstraint(f"level IS NULL OR {_in('level', DBS_LEVELS)}", name="level"),
        sa.CheckConstraint(_in("source", DBS_SOURCES), name="source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    trainee_id: int = _fk("trainees.id", "CASCADE")
    certificate_number: str | None = Field(default=None, max_length=20)
    level: str | None = Field(default=None, max_length=20)
    # None for an import that only said "cleared": the check counts from `seen_at`.
    issued_on: date | None = None
    source: str = Field(default="seen", max_length=20)
    seen_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    seen_at: datetime = _ts(nullable=False, default=True)


class PlacementSafety(SQLModel, table=True):
    """What a host confirms before a trainee starts, and the coordinator's sign-off."""

    __tablename__: ClassVar[str] = "placement_safety"

    id: int | None = Field(default=None, primary_key=True)
    placement_id: int = Field(
        sa_column_args=[sa.ForeignKey("placements.id", ondelete="CASCADE")],
        sa_column_kwargs={"unique": True, "nullable": False},
    )
    supervisor_name: str = Field(default="", max_length=200)
    supervisor_contact: str = Field(default="", max_length=254)
    induction_arranged: bool = Field(default=False)
    risk_assessment_done: bool = Field(default=False)
    insurance_confirmed: bool = Field(default=False)
    updated_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    updated_at: datetime = _ts(nullable=False, default=True)
    signed_off_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    signed_off_at: datetime | None = _ts()


OUTBOX_STATUSES = ("queued", "sending", "sent", "failed")


class OutboxMessage(SQLModel, table=True):
    """A mail to send, written in the transaction of the change that causes it.

    `queued` -> `sending` (claimed by one worker, `claimed_at`) -> `sent`; a failed attempt
    goes back to `queued` until `next_attempt_at`, and to `failed` after the last attempt.
    """

    __tablename__: ClassVar[str] = "outbox_messages"
    __table_args__ = (
        sa.CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        sa.Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        # "How much mail went to this address lately" (rate limits) reads this index.
        sa.Index("ix_outbox_messages_to_created", "to_address", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The Message-ID header, fixed when queued: a resend after a crash carries the same one.
    message_id: str = Field(max_length=255, sa_column_kwargs={"unique": True})
    # At most one message per key (a reminder per trainee per round, say); None: no limit.
    dedupe_key: str | None = Field(
        default=None, max_length=200, sa_column_kwargs={"unique": True, "nullable": True}
    )
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    text_body: str
    html_body: str
    kind: str = Field(max_length=50, index=True)
    user_id: int | None = _fk("users.id", "SET NULL", nullable=True)
    status: str = Field(default="queued", max_length=20)
    attempts: int = Field(default=0)
    last_error: str | None = None
    created_at: datetime = _ts(nullable=False, default=True)
    next_attempt_at: datetime | None = _ts()
    claimed_at: datetime | None = _ts()
    sent_at: datetime | None = _ts()


class Notification(SQLModel, table=True):
    """What a user was told, in the app; every mail to a user is also one of these."""

    __tablename__: ClassVar[str] = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # The index on (user_id, read_at) serves the list and the unread count.
    user_id: int = _fk("users.id", "CASCADE", index=False)
    kind: str = Field(max_length=50)
    subject: str = Field(max_length=300)
    body: str
    created_at: datetime = _ts(nullable=False, default=True)
    read_at: datetime | None = _ts()


# SQLite hands out the highest deleted rowid again unless a table says AUTOINCREMENT; audit
# events, exports and run instances name rows by id, so ids are never reused, on SQLite as on
# Postgres (whose sequences never go back).
for _table in SQLModel.metadata.tables.values():
    if [column.name for column in _table.primary_key.columns] == ["id"]:
        _table.dialect_kwargs["sqlite_autoincrement"] = True


class Postcode(SQLModel, table=True):
    """A postcode's centre, from the ONS Postcode Directory (`placement load-postcodes`).

    `outward` (the part before the space) is indexed: an unknown postcode in a known
    district resolves to the mean of that district's postcodes."""

    __tablename__: ClassVar[str] = "postcodes"
    __table_args__ = (
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude"),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude"),
    )

    postcode: str = Field(primary_key=True, max_length=8)
    outward: str = Field(max_length=4, index=True)
    latitude: float
    longitude: float


# --- jobs: new models ---

JOB_KINDS = ("approve_all", "import_trainees", "import_slots", "export_instance")
JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(SQLModel, table=True):
    """Long work done in the background (approve-all, imports, the instance export), asked
    for with `?async=true`: its state, its progress and the synchronous answer it ended with.
    Claimed like a run (attempts, heartbeat), so a job whose worker died is taken again."""

    __tablename__: ClassVar[str] = "jobs"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", JOB_KINDS), name="kind"),
        sa.CheckConstraint(_in("status", JOB_STATUSES), name="status"),
        sa.CheckConstraint("progress BETWEEN 0 AND 1", name="progress"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    status: str = Field(default="queued", max_length=20, index=True)
    progress: float = Field(default=0.0)
    owner_id: int = _fk("users.id", "CASCADE")
    round_id: int | None = _fk("rounds.id", "CASCADE", nullable=True)
    run_id: int | None = _fk("match_runs.id", "CASCADE", nullable=True, index=False)
    # The uploaded file of an import, cleared once the job has finished.
    payload: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    # The HTTP status and body the synchronous route would have answered.
    code: int | None = None
    result: dict[str, Any] | None = _json_dict(nullable=True)
    # A large body (the instance file) as gzip of its JSON, instead of `result`.
    result_gz: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    error: str | None = None
    attempts: int = Field(default=0)
    created_at: datetime = _ts(nullable=False, default=True)
    enqueued_at: datetime | None = _ts()
    started_at: datetime | None = _ts()
    heartbeat_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # Files and bodies are megabytes: load them only when asked for.
        table: sa.Table = getattr(cls, "__table__")  # noqa: B009  (set by the mapping)
        return {
            "properties": {
                "payload": deferred(table.c.payload),
                "result_gz": deferred(table.c.result_gz),
            }
        }
