"""The moves one more seat sets off: who it would place and who moves where (issue 12);
seat values indexed in the order the page reads them.

Revision ID: 28bc4fe2f503
Revises: 3b8f1d6e2a70
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "28bc4fe2f503"
down_revision: str | None = "3b8f1d6e2a70"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seat_values", schema=None) as batch_op:
        batch_op.create_index(
            "ix_seat_values_run_gain_cost", ["run_id", "placed_gain", "cost_change", "slot_id"]
        )
    op.create_table(
        "seat_value_moves",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("from_slot_id", sa.Integer(), nullable=True),
        sa.Column("to_slot_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id", "slot_id"], ["seat_values.run_id", "seat_values.slot_id"],
            name=op.f("fk_seat_value_moves_run_id_seat_values"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trainee_id"], ["trainees.id"],
            name=op.f("fk_seat_value_moves_trainee_id_trainees"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_slot_id"], ["slots.id"],
            name=op.f("fk_seat_value_moves_from_slot_id_slots"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_slot_id"], ["slots.id"],
            name=op.f("fk_seat_value_moves_to_slot_id_slots"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "slot_id", "step", name=op.f("pk_seat_value_moves")),
    )  # fmt: skip
    with op.batch_alter_table("seat_value_moves", schema=None) as batch_op:
        for column in ("trainee_id", "from_slot_id", "to_slot_id"):
            batch_op.create_index(batch_op.f(f"ix_seat_value_moves_{column}"), [column])


def downgrade() -> None:
    with op.batch_alter_table("seat_value_moves", schema=None) as batch_op:
        for column in ("to_slot_id", "from_slot_id", "trainee_id"):
            batch_op.drop_index(batch_op.f(f"ix_seat_value_moves_{column}"))
    op.drop_table("seat_value_moves")
    with op.batch_alter_table("seat_values", schema=None) as batch_op:
        batch_op.drop_index("ix_seat_values_run_gain_cost")
