"""Migration 5b0e7d2c9a41 (lean indexes for approve all) both ways, on each backend: the
offer-due index holds open offers only, the run_id indexes that repeat the unique
(run_id, trainee_id) are gone; the downgrade puts the old indexes back and upgrading
again matches the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from placement import migrate
from placement.db import make_engine
from tests.conftest import create_postgres_database, require


def _indexes(engine: sa.Engine) -> dict[str, dict[str, list[str]]]:
    inspector = sa.inspect(engine)
    return {
        table: {ix["name"]: list(ix["column_names"]) for ix in inspector.get_indexes(table)}
        for table in ("placements", "proposals", "unplaced_trainees")
    }


def _offer_due_is_partial(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_placements_offer_due'"
        else:
            sql = "SELECT sql FROM sqlite_master WHERE name = 'ix_placements_offer_due'"
        definition = conn.execute(sa.text(sql)).scalar_one()
    return "offered" in definition


@pytest.mark.parametrize("name", ["sqlite", "postgres"])
def test_lean_indexes_go_and_come_back(name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if name == "postgres":
        require("postgres")
        url = create_postgres_database("lean_indexes")
    else:
        url = f"sqlite:///{tmp_path / 'lean_indexes.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        indexes = _indexes(engine)
        assert indexes["placements"]["ix_placements_offer_due"] == ["offer_expires_at"]
        assert _offer_due_is_partial(engine)
        assert "ix_proposals_run_id" not in indexes["proposals"]
        assert "ix_unplaced_trainees_run_id" not in indexes["unplaced_trainees"]
        engine.dispose()

        command.downgrade(migrate.alembic_config(url), "8c55563b8b33")
        indexes = _indexes(engine)
        assert indexes["placements"]["ix_placements_offer_due"] == [
            "offer_status",
            "offer_expires_at",
        ]
        assert not _offer_due_is_partial(engine)
        assert indexes["proposals"]["ix_proposals_run_id"] == ["run_id"]
        assert indexes["unplaced_trainees"]["ix_unplaced_trainees_run_id"] == ["run_id"]
        engine.dispose()

        migrate.upgrade(url)
        migrate.check(url)
    finally:
        engine.dispose()
