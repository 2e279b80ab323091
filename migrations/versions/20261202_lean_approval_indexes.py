"""lean indexes for approve all: open offers only in ix_placements_offer_due; no run_id
index of its own on proposals and unplaced_trainees

"Approve all" writes one placement per approval, each entering every index of
`placements`. `ix_placements_offer_due` (offer_status, offer_expires_at) served only the
expiry and reminder jobs, which look for open offers (`offer_status = 'offered'`) by
deadline: it becomes `(offer_expires_at) WHERE offer_status = 'offered'`, so a placement
without an open offer (before publication, an accepted or ended offer) is not entered.
`ix_proposals_run_id` and `ix_unplaced_trainees_run_id` repeat the first column of the
tables' unique (run_id, trainee_id), which serves lookups by run and the run's cascade.

Downgrade puts the three indexes back as they were.

Revision ID: 5b0e7d2c9a41
Revises: 8c55563b8b33
Create Date: 2026-12-02 20:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b0e7d2c9a41"
down_revision: str | None = "8c55563b8b33"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_OFFER = sa.text("offer_status = 'offered'")
RUN_TABLES = ("proposals", "unplaced_trainees")


def upgrade() -> None:
    op.drop_index("ix_placements_offer_due", table_name="placements")
    op.create_index(
        "ix_placements_offer_due",
        "placements",
        ["offer_expires_at"],
        sqlite_where=OPEN_OFFER,
        postgresql_where=OPEN_OFFER,
    )
    for table in RUN_TABLES:
        op.drop_index(op.f(f"ix_{table}_run_id"), table_name=table)


def downgrade() -> None:
    for table in RUN_TABLES:
        op.create_index(op.f(f"ix_{table}_run_id"), table, ["run_id"])
    op.drop_index("ix_placements_offer_due", table_name="placements")
    op.create_index(
        "ix_placements_offer_due", "placements", ["offer_status", "offer_expires_at"]
    )
