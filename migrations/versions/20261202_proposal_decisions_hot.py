"""decisions and seats as HOT updates: no index on proposals.status; fillfactor 45 on
proposals and 50 on slots

A decision rewrites a proposal's status, decided_by and decided_at. With `status` indexed,
or with the row's page full, Postgres writes the new version elsewhere and adds it to all
six indexes of `proposals`; "approve all" of a national run did that 123,196 times. Without
the index and with half of each page free, the new version stays in the page and no index
is touched (a HOT update). Queries find proposals by run, trainee or slot, never by status
alone. Likewise every approval rewrites its slot's `filled` (no index): with room in the
page, a HOT update. The fillfactor applies to pages written from now on (new runs and
rounds); existing rows stay where they are.

Revision ID: 36c655ef547b
Revises: 28bc4fe2f503
Create Date: 2026-12-02 16:20:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "36c655ef547b"
down_revision: str | None = "28bc4fe2f503"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposals_status"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE proposals SET (fillfactor = 45)")
        op.execute("ALTER TABLE slots SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE slots RESET (fillfactor)")
        op.execute("ALTER TABLE proposals RESET (fillfactor)")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposals_status"), ["status"], unique=False)
