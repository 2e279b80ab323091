from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from placement.models.base import (
    ENDED_OFFERS,
    HOLDING_OFFERS,
    PLACEMENT_STATUSES,
    _actor,
    _fk,
    _in,
    _ts,
)


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
        # The expiry and reminder jobs look for open offers by deadline. Only open offers
        # are entered: a placement made before publication (or an ended offer) is not,
        # which spares "approve all" of an unpublished round one index entry per row.
        sa.Index(
            "ix_placements_offer_due",
            "offer_expires_at",
            sqlite_where=sa.text("offer_status = 'offered'"),
            postgresql_where=sa.text("offer_status = 'offered'"),
        ),
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
    approved_by: int | None = _actor()  # users.id, no foreign key (see _actor)
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
