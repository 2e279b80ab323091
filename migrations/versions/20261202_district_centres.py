"""district centres from postcodes.io

A district centre that postcodes.io gave for a postcode it did not know, kept so that
pages can say "Location approximate" for the places given it.

Revision ID: 6d36bb2e7d5e
Revises: ae183f32863e
Create Date: 2026-12-02 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6d36bb2e7d5e"
down_revision: str | None = "ae183f32863e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "postcode_district_centres",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outward", sa.String(length=4), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "latitude BETWEEN -90 AND 90", name=op.f("ck_postcode_district_centres_latitude")
        ),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_postcode_district_centres_longitude")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postcode_district_centres")),
        sa.UniqueConstraint(
            "outward",
            "latitude",
            "longitude",
            name=op.f("uq_postcode_district_centres_outward_latitude_longitude"),
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("postcode_district_centres", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_postcode_district_centres_outward"), ["outward"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("postcode_district_centres", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postcode_district_centres_outward"))
    op.drop_table("postcode_district_centres")
