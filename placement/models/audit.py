from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlmodel import Field, SQLModel

from placement.models.base import (
    UTCDateTime,
    _actor,
    _json_dict,
    utcnow,
)


class AuditEvent(SQLModel, table=True):
    __tablename__: ClassVar[str] = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        sa_column_kwargs={"nullable": False},
        index=True,
    )
    # users.id of whoever did it, no foreign key (see base._actor); indexed for "their
    # activity" (a trainee's export, erasure).
    actor_id: int | None = _actor(index=True)
    action: str = Field(max_length=50, index=True)
    object_type: str = Field(default="", max_length=50)
    object_id: str = Field(default="", max_length=50)
    detail: dict[str, Any] = _json_dict()
    ip: str | None = Field(default=None, max_length=64)
    # What the event is about, for the log's filters. Plain ids, no foreign keys: the log
    # outlives the rounds and trainees it names.
    round_id: int | None = Field(default=None, index=True)
    trainee_id: int | None = Field(default=None, index=True)
