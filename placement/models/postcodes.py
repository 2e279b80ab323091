from __future__ import annotations

from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


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
