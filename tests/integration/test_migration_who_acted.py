"""Migration 8c55563b8b33 (no foreign keys on who acted) both ways, on each backend: the
upgrade lets an id without a user in, the downgrade nulls such ids and restores the keys
with ON DELETE SET NULL, and upgrading again matches the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session, select

from placement import migrate
from placement.db import make_engine
from placement.models import AuditEvent
from tests import factories as f
from tests.conftest import create_postgres_database, require

WHO_ACTED = {"audit_events": "actor_id", "placements": "approved_by", "proposals": "decided_by"}


def _keys_to_users(engine: sa.Engine) -> dict[str, list[str]]:
    inspector = sa.inspect(engine)
    return {
        table: [
            c
            for fk in inspector.get_foreign_keys(table)
            if fk["referred_table"] == "users"
            for c in fk["constrained_columns"]
        ]
        for table in WHO_ACTED
    }


@pytest.mark.parametrize("name", ["sqlite", "postgres"])
def test_who_acted_keys_drop_and_come_back(name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if name == "postgres":
        require("postgres")
        url = create_postgres_database("who_acted")
    else:
        url = f"sqlite:///{tmp_path / 'who_acted.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        keys = _keys_to_users(engine)
        assert all(column not in keys[table] for table, column in WHO_ACTED.items()), keys
        with Session(engine) as session:
            kept, gone = f.user(session), f.user(session)
            assert kept.id is not None and gone.id is not None
            session.add(AuditEvent(actor_id=kept.id, action="a.kept"))
            session.add(AuditEvent(actor_id=gone.id, action="a.gone"))
            session.commit()
            # Without the key, deleting the user leaves the id behind (erasure nulls it).
            session.execute(sa.text("DELETE FROM users WHERE id = :u"), {"u": gone.id})
            session.commit()
            kept_id = kept.id
        engine.dispose()

        command.downgrade(migrate.alembic_config(url), "36c655ef547b")
        keys = _keys_to_users(engine)
        assert all(column in keys[table] for table, column in WHO_ACTED.items()), keys
        with Session(engine) as session:
            actors = dict(session.exec(select(AuditEvent.action, AuditEvent.actor_id)).all())
            assert actors == {"a.kept": kept_id, "a.gone": None}
            # The restored key does what it did: deleting the user nulls the actor.
            session.execute(sa.text("DELETE FROM users WHERE id = :u"), {"u": kept_id})
            session.commit()
            assert session.exec(select(AuditEvent.actor_id)).all() == [None, None]
        engine.dispose()

        migrate.upgrade(url)
        migrate.check(url)
    finally:
        engine.dispose()
