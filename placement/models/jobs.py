"""Long work done in the background: approve-all, imports and the instance export."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr, deferred
from sqlmodel import Field, SQLModel

from placement.models.base import _fk, _in, _json_dict, _ts

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
