"""Whether a host and a trainee may meet: accreditations, checks, safety sign-off."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from placement.models.base import (
    DBS_LEVELS,
    DBS_SOURCES,
    _fk,
    _in,
    _json_dict,
    _ts,
)


class Accreditation(SQLModel, table=True):
    """One accreditation of a host: a standard, who accredits it, until when, and the
    evidence the host uploaded (a file under the instance directory)."""

    __tablename__: ClassVar[str] = "accreditations"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = _fk("organisations.id", "CASCADE")
    standard: str = Field(max_length=100)
    body: str = Field(default="", max_length=200)
    number: str = Field(default="", max_length=100)
    scope: str = Field(default="", max_length=2000)
    expires_on: date | None = None
    # The stored file's name under `instance/evidence/`, never a path the client chose.
    evidence_file: str | None = Field(default=None, max_length=100)
    evidence_name: str | None = Field(default=None, max_length=200)
    evidence_type: str | None = Field(default=None, max_length=50)
    evidence_size: int | None = None
    created_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    created_at: datetime = _ts(nullable=False, default=True)
    updated_at: datetime = _ts(nullable=False, default=True)


class Verification(SQLModel, table=True):
    """A coordinator's vetting of a host: who, when, what they saw, and what the host's
    record said then. It lapses when that changes or an accreditation expires."""

    __tablename__: ClassVar[str] = "verifications"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = _fk("organisations.id", "CASCADE")
    verified_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    verified_at: datetime = _ts(nullable=False, default=True)
    seen: str = Field(default="", max_length=2000)
    snapshot: dict[str, Any] = _json_dict()
    lapsed_at: datetime | None = _ts()
    lapse_reason: str | None = Field(default=None, max_length=300)


class DbsCheck(SQLModel, table=True):
    """A DBS certificate a coordinator saw (or a coordinator's import vouched for)."""

    __tablename__: ClassVar[str] = "dbs_checks"
    __table_args__ = (
        sa.CheckConstraint(f"level IS NULL OR {_in('level', DBS_LEVELS)}", name="level"),
        sa.CheckConstraint(_in("source", DBS_SOURCES), name="source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    trainee_id: int = _fk("trainees.id", "CASCADE")
    certificate_number: str | None = Field(default=None, max_length=20)
    level: str | None = Field(default=None, max_length=20)
    # None for an import that only said "cleared": the check counts from `seen_at`.
    issued_on: date | None = None
    source: str = Field(default="seen", max_length=20)
    seen_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    seen_at: datetime = _ts(nullable=False, default=True)


class PlacementSafety(SQLModel, table=True):
    """What a host confirms before a trainee starts, and the coordinator's sign-off."""

    __tablename__: ClassVar[str] = "placement_safety"

    id: int | None = Field(default=None, primary_key=True)
    placement_id: int = Field(
        sa_column_args=[sa.ForeignKey("placements.id", ondelete="CASCADE")],
        sa_column_kwargs={"unique": True, "nullable": False},
    )
    supervisor_name: str = Field(default="", max_length=200)
    supervisor_contact: str = Field(default="", max_length=254)
    induction_arranged: bool = Field(default=False)
    risk_assessment_done: bool = Field(default=False)
    insurance_confirmed: bool = Field(default=False)
    updated_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    updated_at: datetime = _ts(nullable=False, default=True)
    signed_off_by: int | None = _fk("users.id", "SET NULL", nullable=True, index=False)
    signed_off_at: datetime | None = _ts()
