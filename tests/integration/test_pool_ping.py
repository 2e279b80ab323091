"""Postgres connections are pinged only after sitting idle in the pool, and a dead one is
replaced there, before any request uses it."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from placement import db
from tests.conftest import PG_ADMIN_URL, create_postgres_database, require


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_an_idle_connection_killed_by_the_server_is_replaced_at_checkout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require("postgres")
    engine = db.make_engine(create_postgres_database("pool_ping"), pool_size=1, max_overflow=0)
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first  # reused at once, with no ping in between
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # as if it had sat idle
        second = _backend_pid(engine)
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_used_moments_ago_is_not_pinged() -> None:
    require("postgres")
    engine = db.make_engine(create_postgres_database("pool_no_ping"), pool_size=1, max_overflow=0)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(conn: object) -> bool:
        pings.append(conn)
        return real_ping(conn)

    engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]
    try:
        for _ in range(5):
            _backend_pid(engine)
        assert pings == []
    finally:
        engine.dispose()
