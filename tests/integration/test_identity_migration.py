"""The identity migration: existing accounts stay verified, except self-registered trainee
accounts that joined a profile imported before them (nobody proved that address)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from placement import migrate
from placement.db import make_engine
from tests.conftest import create_postgres_database, require

BEFORE = ("5a1d7c3e9b20", "a7c3e5f1d2b4")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_legacy_claims_of_imported_profiles_must_be_confirmed(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        require("postgres")
        url = create_postgres_database("identity_migration")
    else:
        url = f"sqlite:///{tmp_path / 'legacy.sqlite'}"
    for revision in BEFORE:
        migrate.upgrade(url, revision)
    engine = make_engine(url)
    with engine.begin() as conn:
        users = [
            (1, "imported@x.test", "trainee", "2026-11-02 10:00:00+00"),  # claimed, self-registered
            (
                2,
                "fresh@x.test",
                "trainee",
                "2026-11-02 10:00:00+00",
            ),  # new profile, self-registered
            (3, "boss@x.test", "coordinator", "2026-11-01 10:00:00+00"),  # create-user
            (4, "byoperator@x.test", "trainee", "2026-11-02 10:00:00+00"),  # create-user, claimed
        ]
        for uid, email, role, at in users:
            conn.execute(
                text(
                    "INSERT INTO users"
                    " (id, email, name, role, password_hash, is_active, created_at)"
                    " VALUES (:id, :email, 'N', :role, 'x', true, :at)"
                ),
                {"id": uid, "email": email, "role": role, "at": at},
            )
        profiles = [
            (1, 1, "imported@x.test", "2026-11-01 09:00:00+00"),
            (2, 2, "fresh@x.test", "2026-11-02 10:00:00+00"),
            (3, 4, "byoperator@x.test", "2026-11-01 09:00:00+00"),
        ]
        for tid, uid, email, at in profiles:
            conn.execute(
                text(
                    "INSERT INTO trainees (id, user_id, name, email, provider, skills, dbs_cleared,"
                    " needs, created_at, updated_at)"
                    " VALUES (:id, :uid, 'N', :email, '', '[]', false, '', :at, :at)"
                ),
                {"id": tid, "uid": uid, "email": email, "at": at},
            )
        for uid in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO audit_events"
                    " (at, actor_id, action, object_type, object_id, detail) VALUES"
                    " ('2026-11-02 10:00:00+00', :uid, 'account.register', 'user', :oid, '{}')"
                ),
                {"uid": uid, "oid": str(uid)},
            )
    engine.dispose()
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                text("SELECT id, email_verified_at IS NOT NULL FROM users ORDER BY id")
            ).all()
        )
    engine.dispose()
    assert {k: bool(v) for k, v in rows.items()} == {1: False, 2: True, 3: True, 4: True}
