"""Runs carry a mode, a seed and the stable lottery; seat values and
explanations per run (issue 12).

Revision ID: 7c2e4b91d5a3
Revises: 7c4e2a91d5f3
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "7c2e4b91d5a3"
down_revision: str | None = "7c4e2a91d5f3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=20), server_default="optimal", nullable=False)
        )
        batch_op.add_column(sa.Column("seed", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("lottery", sa.JSON(), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f("ck_match_runs_mode"), "mode IN ('optimal', 'stable')"
        )
    op.create_table(
        "seat_values",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("placed_gain", sa.Integer(), nullable=False),
        sa.Column("cost_change", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["match_runs.id"], name=op.f("fk_seat_values_run_id_match_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["slots.id"], name=op.f("fk_seat_values_slot_id_slots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "slot_id", name=op.f("pk_seat_values")),
    )  # fmt: skip
    with op.batch_alter_table("seat_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seat_values_slot_id"), ["slot_id"], unique=False)
    op.create_table(
        "explanations",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["match_runs.id"], name=op.f("fk_explanations_run_id_match_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trainee_id"], ["trainees.id"], name=op.f("fk_explanations_trainee_id_trainees"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "trainee_id", name=op.f("pk_explanations")),
    )  # fmt: skip
    with op.batch_alter_table("explanations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_explanations_trainee_id"), ["trainee_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("explanations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_explanations_trainee_id"))
    op.drop_table("explanations")
    with op.batch_alter_table("seat_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seat_values_slot_id"))
    op.drop_table("seat_values")
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_match_runs_mode"), type_="check")
        batch_op.drop_column("lottery")
        batch_op.drop_column("seed")
        batch_op.drop_column("mode")
