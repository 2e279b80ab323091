"""What every table shares: the naming convention, the status enums and value lists,
UTC timestamps and the field helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
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


def _actor(*, index: bool = False) -> Any:
    """The user who did something (an audit event's actor, who decided a proposal or
    approved a placement): a plain users.id, with no foreign key (approve all checked the
    same coordinator's row once per proposal, placement and audit event). Instead
    `actor_guard` checks the ids a transaction writes once, at its commit, locking the
    users rows FOR KEY SHARE on Postgres as the key did. When an account is deleted, the
    code deleting it locks the row, then nulls these columns itself, as ON DELETE SET NULL
    did: see `privacy.forget_actor`. A record of what was done outlives the people who did
    it."""
    return Field(default=None, sa_column_kwargs={"nullable": True}, index=index)


def leave_room(model: Any, fillfactor: int) -> None:
    """Fill `model`'s table pages only to `fillfactor` percent on Postgres (set when the
    table is created; the migrations set it on existing databases), so an update of its
    unindexed columns rewrites the row inside its own page (a HOT update, no index entry)."""
    sa.event.listen(
        model.__table__,
        "after_create",
        sa.DDL(f"ALTER TABLE {model.__tablename__} SET (fillfactor = {fillfactor})").execute_if(
            dialect="postgresql"
        ),
    )
