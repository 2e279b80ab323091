"""A service's commit inside a test is still undone by the per-test rollback, on both
databases (pysqlite needs SQLAlchemy to emit BEGIN itself for SAVEPOINT to work)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from placement.models import Round
from tests import factories as f


@pytest.mark.parametrize("step", ["commit", "check"])
def test_commit_inside_a_test_is_rolled_back(session: Session, step: str) -> None:
    if step == "commit":
        f.round_(session, name="leak-check")
        session.commit()
        assert session.exec(select(Round).where(Round.name == "leak-check")).first() is not None
    else:
        assert session.exec(select(Round).where(Round.name == "leak-check")).first() is None
