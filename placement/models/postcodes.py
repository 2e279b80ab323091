from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from placement.models.base import _ts


class Postcode(SQLModel, table=True):
    """A postcode's centre, from the ONS Postcode Directory (`placement load-postcodes`).

    `outward` (the part before the space) is indexed: an unknown postcode in a known
    district resolves to the mean of that district's postcodes."""

    __tablename__: ClassVar[str] = "postcodes"
    __table_args__ = (
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude"),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude"),
    )

    postcode: str = Field(primary_key=True, max_length=8)
    outward: str = Field(max_length=4, index=True)
    latitude: float
    longitude: float


class DistrictCentre(SQLModel, table=True):
    """A district centre that postcodes.io gave for a postcode it did not know.

    Places given such a centre are approximate, but the `postcodes` table cannot say so (it
    may not hold the district at all): this remembers each centre handed out, so pages can
    still say "Location approximate". Written in the transaction of the lookup's caller."""

    __tablename__: ClassVar[str] = "postcode_district_centres"
    __table_args__ = (
        sa.UniqueConstraint("outward", "latitude", "longitude"),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude"),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude"),
    )

    id: int | None = Field(default=None, primary_key=True)
    outward: str = Field(max_length=4, index=True)
    latitude: float
    longitude: float
    recorded_at: datetime = _ts(nullable=False, default=True)
