"""Seat values carry the moves one more seat sets off: who it would place and who moves
where (issue 12); seat values indexed in the order the page reads them.

Revision ID: 28bc4fe2f503
Revises: 6d36bb2e7d5e
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "28bc4fe2f503"
down_revision: str | None = "6d36bb2e7d5e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seat_values", schema=None) as batch_op:
        batch_op.add_column(sa.Column("moves", sa.JSON(), nullable=True))
        batch_op.create_index(
            "ix_seat_values_run_gain_cost", ["run_id", "placed_gain", "cost_change", "slot_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("seat_values", schema=None) as batch_op:
        batch_op.drop_index("ix_seat_values_run_gain_cost")
        batch_op.drop_column("moves")
