"""who acted: no foreign keys on audit_events.actor_id, placements.approved_by and
proposals.decided_by

"Approve all" of a national run checked the same coordinator's `users` row once for every
proposal decided, placement written and audit event recorded (about 370,000 times, 5.4 s
of a 24 s statement under load). Those ids are always the signed-in user's own, so the
check proves nothing; an account's deletion (trainee erasure) now nulls them itself, as
ON DELETE SET NULL did. The index on audit_events.actor_id stays (a trainee's export and
erasure look their events up by it).

Downgrade nulls any id whose user is gone, then puts the foreign keys back.

Revision ID: 8c55563b8b33
Revises: 36c655ef547b
Create Date: 2026-12-02 17:20:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "8c55563b8b33"
down_revision: str | None = "36c655ef547b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP_IDS = {"sqlite_autoincrement": True}
# (table, column) of each "who acted" id.
ACTOR_COLUMNS = (
    ("audit_events", "actor_id"),
    ("placements", "approved_by"),
    ("proposals", "decided_by"),
)


def upgrade() -> None:
    for table, column in ACTOR_COLUMNS:
        with op.batch_alter_table(table, schema=None, table_kwargs=KEEP_IDS) as batch_op:
            batch_op.drop_constraint(op.f(f"fk_{table}_{column}_users"), type_="foreignkey")


def downgrade() -> None:
    for table, column in ACTOR_COLUMNS:
        op.execute(
            f"UPDATE {table} SET {column} = NULL WHERE {column} IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM users WHERE users.id = {table}.{column})"
        )
        with op.batch_alter_table(table, schema=None, table_kwargs=KEEP_IDS) as batch_op:
            batch_op.create_foreign_key(
                op.f(f"fk_{table}_{column}_users"),
                "users",
                [column],
                ["id"],
                ondelete="SET NULL",
            )
