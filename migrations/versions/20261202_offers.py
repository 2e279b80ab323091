"""offers: placements become offers once their round is published

`placements` gain the offer (`offer_status`, when it was made, when it expires, when it was
decided, the decline reason, when the 48-hour reminder went); `rounds` gain `offer_days`;
`trainees` gain `share_needs`; `match_runs` gain `clearing` (a run on a published round).
Placements of rounds published before offers existed were final, so they are recorded as
accepted (or withdrawn); nothing expires by this migration.

Revision ID: 0b89f7b14224
Revises: b7e2f4a91c05
Create Date: 2026-12-02 08:03:25.648186

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0b89f7b14224'
down_revision: str | None = 'b7e2f4a91c05'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite batch mode copies a table to change it; the copy keeps AUTOINCREMENT only if told.
KEEP_IDS = {"sqlite_autoincrement": True}
OFFER_STATUS_CHECK = (
    "offer_status IS NULL OR (status = 'live' AND offer_status IN ('offered', 'accepted'))"
    " OR (status = 'withdrawn' AND offer_status IN ('declined', 'expired', 'withdrawn'))"
)


def upgrade() -> None:
    with op.batch_alter_table('placements', schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column('offer_status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('offered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('offer_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('offer_decided_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('decline_reason', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('offer_reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_placements_offer_due', ['offer_status', 'offer_expires_at'], unique=False)

    with op.batch_alter_table('rounds', schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column('offer_days', sa.Integer(), server_default='7', nullable=False))
        batch_op.create_check_constraint(op.f('ck_rounds_offer_days'), 'offer_days BETWEEN 1 AND 60')

    with op.batch_alter_table('match_runs', schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column('clearing', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('trainees', schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column('share_needs', sa.Boolean(), server_default=sa.false(), nullable=False))

    # Published before offers existed: those placements were final.
    published = "round_id IN (SELECT id FROM rounds WHERE status = 'published')"
    op.execute(
        "UPDATE placements SET offer_status = 'accepted', offered_at = created_at, "
        "offer_expires_at = created_at, offer_decided_at = created_at "
        f"WHERE status = 'live' AND {published}"
    )
    op.execute(
        "UPDATE placements SET offer_status = 'withdrawn', offered_at = created_at, "
        "offer_expires_at = created_at, offer_decided_at = withdrawn_at "
        f"WHERE status = 'withdrawn' AND {published}"
    )

    with op.batch_alter_table('placements', schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.create_check_constraint(op.f('ck_placements_offer_status'), OFFER_STATUS_CHECK)
        batch_op.create_check_constraint(
            op.f('ck_placements_offer_expires'), 'offer_status IS NULL OR offer_expires_at IS NOT NULL'
        )


def downgrade() -> None:
    with op.batch_alter_table('match_runs', schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column('clearing')

    with op.batch_alter_table('trainees', schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column('share_needs')

    with op.batch_alter_table('rounds', schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint(op.f('ck_rounds_offer_days'), type_='check')
        batch_op.drop_column('offer_days')

    with op.batch_alter_table('placements', schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint(op.f('ck_placements_offer_expires'), type_='check')
        batch_op.drop_constraint(op.f('ck_placements_offer_status'), type_='check')
        batch_op.drop_index('ix_placements_offer_due')
        batch_op.drop_column('offer_reminded_at')
        batch_op.drop_column('decline_reason')
        batch_op.drop_column('offer_decided_at')
        batch_op.drop_column('offer_expires_at')
        batch_op.drop_column('offered_at')
        batch_op.drop_column('offer_status')
