"""Match runs carry an optional name (API.md: POST /rounds/{round_id}/runs {name?, ...}).

Revision ID: 7c4e2a91d5f3
Revises: 0b89f7b14224
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "7c4e2a91d5f3"
down_revision: str | None = '0b89f7b14224'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("match_runs") as batch:
        batch.add_column(
            sa.Column(
                "name",
                sqlmodel.sql.sqltypes.AutoString(length=100),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("match_runs") as batch:
        batch.drop_column("name")
