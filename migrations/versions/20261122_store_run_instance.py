"""store run instance

Each match run keeps the instance file it solved (gzip of the canonical JSON) and the
SHA-256 of that JSON. Both are nullable: runs made before this revision have neither, and
their explanations fall back to rebuilding the instance from the round.

Revision ID: 9884cd18df6f
Revises: 25732edfd4ba
Create Date: 2026-11-22 01:36:48.143492

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '9884cd18df6f'
down_revision: str | None = '25732edfd4ba'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('match_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instance_gz', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('instance_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('match_runs', schema=None) as batch_op:
        batch_op.drop_column('instance_sha256')
        batch_op.drop_column('instance_gz')
