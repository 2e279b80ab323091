"""audit subjects

Audit events name the round and the trainee they are about (plain ids, no foreign keys:
the log outlives what it names), and `at` is indexed for date filters and retention.
Older events keep both empty.

Revision ID: 7c41e2a9d5f3
Revises: c4d8e2a6f913
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c41e2a9d5f3"
down_revision: str | None = "c4d8e2a6f913"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("round_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("trainee_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_events_round_id"), ["round_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_trainee_id"), ["trainee_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_trainee_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_round_id"))
        batch_op.drop_column("trainee_id")
        batch_op.drop_column("round_id")
