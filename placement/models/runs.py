"""Match runs and what they produce: seat values, explanations, proposals."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr, deferred
from sqlmodel import Field, SQLModel

from placement.models.base import (
    PROPOSAL_STATUSES,
    RUN_MODES,
    RUN_PHASES,
    RUN_STATUSES,
    UNPLACED_REASONS,
    _actor,
    _fk,
    _in,
    _json_dict,
    _ts,
    leave_room,
)


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
    # The page reads a run's slots that place one more, then those that only save, each
    # as a range of this index in the API's order.
    __table_args__ = (
        sa.Index("ix_seat_values_run_gain_cost", "run_id", "placed_gain", "cost_change", "slot_id"),
    )

    run_id: int = Field(
        sa_column_args=[sa.ForeignKey("match_runs.id", ondelete="CASCADE")], primary_key=True
    )
    slot_id: int = Field(
        sa_column_args=[sa.ForeignKey("slots.id", ondelete="CASCADE")], primary_key=True, index=True
    )
    placed_gain: int
    cost_change: float
    # The chain of moves one more seat here sets off (`matching.seat_values.seat_chains`),
    # in order, as [trainee_id, from_slot_id, to_slot_id]: for placed_gain 1 the trainee it
    # places first (from null), the last move ending here; for a saving, the cycle (to
    # null: that trainee gives up their place). Null where the seat helps nobody. A JSON
    # list on the row, not a child table: a national run has ~100,000 moves, and rows with
    # foreign keys cost seconds to write for what the page reads 50 slots at a time.
    moves: list[list[int | None]] | None = Field(
        default=None, sa_type=sa.JSON, sa_column_kwargs={"nullable": True}
    )


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
    # No index of its own: the unique (run_id, trainee_id) serves lookups by run.
    run_id: int = _fk("match_runs.id", "CASCADE", index=False)
    trainee_id: int = _fk("trainees.id", "CASCADE")
    slot_id: int = _fk("slots.id", "CASCADE")
    rank: int | None = None
    cost: float
    terms: dict[str, float] = _json_dict()
    # Not indexed, and the table's pages are left half empty on Postgres (`leave_room`):
    # a decision (status, decided_by, decided_at) then rewrites the row in its own page and
    # touches none of the table's indexes (a HOT update), which is what lets "approve all"
    # decide a national run in seconds. Look proposals up by run, trainee or slot.
    status: str = Field(default="proposed", max_length=20)
    reason: str | None = None
    decided_by: int | None = _actor()  # users.id, no foreign key (see _actor)
    decided_at: datetime | None = _ts()


# Room in each page for the decided version of its rows (see Proposal.status).
leave_room(Proposal, 45)


class UnplacedTrainee(SQLModel, table=True):
    __tablename__: ClassVar[str] = "unplaced_trainees"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "trainee_id"),
        sa.CheckConstraint(_in("reason", UNPLACED_REASONS), name="reason"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: the unique (run_id, trainee_id) serves lookups by run.
    run_id: int = _fk("match_runs.id", "CASCADE", index=False)
    trainee_id: int = _fk("trainees.id", "CASCADE")
    reason: str = Field(max_length=30)
