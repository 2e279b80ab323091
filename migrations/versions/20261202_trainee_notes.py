"""Coordinators' notes on a trainee's record (issue 13).

Revision ID: 3f8a1c6d2b90
Revises: 7c2e4b91d5a3
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "3f8a1c6d2b90"
down_revision: str | None = "7c2e4b91d5a3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trainee_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(text) > 0", name=op.f("ck_trainee_notes_text_not_empty")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_trainee_notes_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["trainee_id"],
            ["trainees.id"],
            name=op.f("fk_trainee_notes_trainee_id_trainees"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trainee_notes")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("trainee_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trainee_notes_trainee_id"), ["trainee_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("trainee_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trainee_notes_trainee_id"))
    op.drop_table("trainee_notes")
