"""Mail to send (the outbox) and the in-app notifications."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from placement.models.base import (
    _fk,
    _in,
    _ts,
)

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
