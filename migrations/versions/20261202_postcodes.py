"""postcodes

The ONS Postcode Directory's postcodes with their latitude and longitude, loaded by
`placement load-postcodes`; indexed by outward code for the district fallback.

Revision ID: 5b1c0e7d2a94
Revises: 7c41e2a9d5f3
Create Date: 2026-12-02 07:50:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5b1c0e7d2a94'
down_revision: str | None = "7c41e2a9d5f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('postcodes',
    sa.Column('postcode', sa.String(length=8), nullable=False),
    sa.Column('outward', sa.String(length=4), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.CheckConstraint('latitude BETWEEN -90 AND 90', name=op.f('ck_postcodes_latitude')),
    sa.CheckConstraint('longitude BETWEEN -180 AND 180', name=op.f('ck_postcodes_longitude')),
    sa.PrimaryKeyConstraint('postcode', name=op.f('pk_postcodes'))
    )
    with op.batch_alter_table('postcodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postcodes_outward'), ['outward'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('postcodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postcodes_outward'))

    op.drop_table('postcodes')
