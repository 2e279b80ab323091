"""Writes that race past the services' checks meet the database's invariants and come
back as 409, never 500."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

from placement import create_app
from placement.config import Settings
from placement.db import make_engine
from placement.models import User, utcnow
from placement.services.accounts import issue_token
from tests.accounts_support import last_token
from tests.conftest import Backend
from tests.factories import FAST_HASH

API = "/api/v1"


def test_simultaneous_uses_of_one_registration_link(
    committed_backend: Backend, tmp_path: Path
) -> None:
    """Twenty requests race with one emailed link: one account, one success, the rest
    400 (a used link), never a 500."""
    engine = make_engine(committed_backend.url, pool_size=25, max_overflow=0)
    try:
        settings = Settings.from_env(
            {
                "DATABASE_URL": committed_backend.url,
                "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
                "SECRET_KEY": "test-secret-key",
            }
        )
        app = create_app(settings, bind=engine)
        r = app.test_client().post(
            f"{API}/auth/register",
            json={"email": "twin@example.test", "name": "Twin", "role": "trainee"},
        )
        assert r.status_code == 202
        with Session(engine) as session:
            token = last_token(session, "twin@example.test")
        racers = 20
        barrier = threading.Barrier(racers)
        statuses: list[int] = []
        lock = threading.Lock()

        def verify(n: int) -> None:
            client = app.test_client()
            body = {"token": token, "password": f"a-long-secret-{n}"}
            barrier.wait()
            response = client.post(f"{API}/auth/verify", json=body)
            with lock:
                statuses.append(response.status_code)

        threads = [threading.Thread(target=verify, args=(n,)) for n in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        counts = Counter(statuses)
        assert counts[200] == 1, counts
        assert counts[400] + counts[409] == racers - 1, counts
        with Session(engine) as session:
            users = session.exec(
                select(func.count()).select_from(User).where(User.email == "twin@example.test")
            ).one()
        assert users == 1
    finally:
        engine.dispose()


def test_parallel_reads_that_write_audit_rows(committed_backend: Backend, tmp_path: Path) -> None:
    """Refused requests and a token's first use write rows even on GET; many at once must
    queue for the database, never fail with "database is locked"."""
    engine = make_engine(committed_backend.url, pool_size=10, max_overflow=0)
    try:
        with Session(engine, expire_on_commit=False) as session:
            tokens = []
            for n in range(8):
                user = User(
                    email=f"reader{n}@example.test",
                    name=f"Reader {n}",
                    role="trainee",
                    password_hash=FAST_HASH,
                    email_verified_at=utcnow(),
                )
                session.add(user)
                session.flush()
                tokens.append(issue_token(session=session, user=user, commit=False))
            session.commit()
        settings = Settings.from_env(
            {
                "DATABASE_URL": committed_backend.url,
                "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
                "SECRET_KEY": "test-secret-key",
            }
        )
        app = create_app(settings, bind=engine)
        statuses: list[int] = []
        lock = threading.Lock()

        def hammer(token: str) -> None:
            client = app.test_client()
            for _ in range(15):
                response = client.get(f"{API}/audit", headers={"Authorization": f"Bearer {token}"})
                with lock:
                    statuses.append(response.status_code)

        threads = [threading.Thread(target=hammer, args=(t,)) for t in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert Counter(statuses) == {403: 8 * 15}
    finally:
        engine.dispose()
