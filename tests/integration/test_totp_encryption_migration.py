"""The migration that encrypts stored TOTP secrets: up encrypts an existing secret (the
account still signs in with its app's codes), down gives the plain secret back; with it,
the district-centres table after it goes down and up again."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session

from placement import encryption, migrate
from placement.config import Settings
from placement.db import SETTINGS_KEY, make_engine
from placement.models import User
from placement.services import mfa
from tests.conftest import create_postgres_database, require

BEFORE = "3b8f1d6e2a70"
AFTER = "ae183f32863e"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PENDING = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_existing_secrets_are_encrypted_and_decrypted_back(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        require("postgres")
        url = create_postgres_database("totp_migration")
    else:
        url = f"sqlite:///{tmp_path / 'totp.sqlite'}"
    settings = Settings.from_env(
        {
            "DATABASE_URL": url,
            "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "migration-secret-key",
            "PLACEMENT_ENCRYPTION_KEY": "the-totp-key-of-2026",
        }
    )
    migrate.upgrade(url, BEFORE)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, role, password_hash, is_active, created_at,"
                " email_verified_at, mfa_secret, mfa_pending_secret, mfa_enabled_at) VALUES"
                " (1, 'two@x.test', 'N', 'coordinator', 'x', true, '2026-11-02 10:00:00+00',"
                " '2026-11-02 10:00:00+00', :secret, NULL, '2026-11-02 10:00:00+00'),"
                " (2, 'half@x.test', 'N', 'employer', 'x', true, '2026-11-02 10:00:00+00',"
                " '2026-11-02 10:00:00+00', NULL, :pending, NULL),"
                " (3, 'none@x.test', 'N', 'trainee', 'x', true, '2026-11-02 10:00:00+00',"
                " NULL, NULL, NULL, NULL)"
            ),
            {"secret": SECRET, "pending": PENDING},
        )
    engine.dispose()

    migrate.upgrade(url, settings=settings)  # this one and the district centres after it
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = {
            row.id: (row.mfa_secret, row.mfa_pending_secret)
            for row in conn.execute(
                text("SELECT id, mfa_secret, mfa_pending_secret FROM users ORDER BY id")
            )
        }
    assert rows[3] == (None, None)
    stored, pending = rows[1][0], rows[2][1]
    assert stored is not None and SECRET not in stored and len(stored) > 64
    assert pending is not None and PENDING not in pending
    assert encryption.decrypt(settings.encryption_keys, stored) == SECRET
    # The service reads it: the app's current code is accepted.
    with Session(engine, info={SETTINGS_KEY: settings}) as session:
        user = session.get(User, 1)
        assert user is not None
        assert mfa.secret_of(session=session, user=user) == SECRET
        assert mfa.check(session=session, user=user, code=pyotp.TOTP(SECRET).now())
        half = session.get(User, 2)
        assert half is not None
        enrolment = mfa.pending(half, session=session)
        assert enrolment is not None and enrolment.secret == PENDING
    migrate.downgrade(url, BEFORE, settings=settings)
    engine.dispose()

    engine = make_engine(url)
    with engine.connect() as conn:
        back = {
            row[0]: row[1]
            for row in conn.execute(
                text("SELECT id, COALESCE(mfa_secret, mfa_pending_secret) FROM users")
            )
        }
        tables = inspect(conn).get_table_names()
    engine.dispose()
    assert back == {1: SECRET, 2: PENDING, 3: None}
    assert "postcode_district_centres" not in tables
    migrate.upgrade(url, settings=settings)
    engine = make_engine(url)
    with engine.connect() as conn:
        again = conn.execute(text("SELECT mfa_secret FROM users WHERE id = 1")).scalar_one()
        tables = inspect(conn).get_table_names()
    engine.dispose()
    assert "postcode_district_centres" in tables
    assert encryption.decrypt(settings.encryption_keys, again) == SECRET


def test_upgrade_with_the_wrong_key_refuses_to_downgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wrong.sqlite'}"
    right = Settings.from_env(
        {"DATABASE_URL": url, "PLACEMENT_INSTANCE_DIR": str(tmp_path), "SECRET_KEY": "one"}
    )
    wrong = Settings.from_env(
        {"DATABASE_URL": url, "PLACEMENT_INSTANCE_DIR": str(tmp_path), "SECRET_KEY": "two"}
    )
    migrate.upgrade(url, BEFORE)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, role, password_hash, is_active, created_at,"
                " mfa_secret) VALUES (1, 'a@x.test', 'N', 'trainee', 'x', true,"
                " '2026-11-02 10:00:00+00', :secret)"
            ),
            {"secret": SECRET},
        )
    engine.dispose()
    migrate.upgrade(url, AFTER, settings=right)
    with pytest.raises(encryption.SecretUnreadable):
        migrate.downgrade(url, BEFORE, settings=wrong)
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT mfa_secret FROM users")).scalar_one()
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    assert version == AFTER and encryption.decrypt(right.encryption_keys, stored) == SECRET
