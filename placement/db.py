"""Engine and sessions: one session per request, `session_scope()` for workers and the CLI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from placement.config import Settings

# Where a session carries the settings it was opened with: mail queued in it is enqueued
# after its commit, and the login limiter and session lifetimes read their limits there.
SETTINGS_KEY = "placement_settings"


def session_settings(session: Session) -> Settings | None:
    """The settings a session was opened with (None for a bare session, as in tests)."""
    value = session.info.get(SETTINGS_KEY)
    return value if isinstance(value, Settings) else None


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; SQLAlchemy
    # emits BEGIN itself instead (see _sqlite_on_begin), as its SQLite docs recommend.
    dbapi_connection.isolation_level = None
    # SQLite leaves foreign keys off by default; WAL lets the worker write while pages read.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails at once with "database is
    # locked" if another writer committed in between (the busy timeout does not apply).
    # Units of work that may write therefore begin IMMEDIATE: they queue for the lock.
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


# A pooled connection is pinged before use only when it has sat unused this long: one used
# moments ago is almost surely alive, and a round trip per request is what the API's busiest
# routes can least afford. Should the server have restarted within this window, the first
# request on such a connection fails, and SQLAlchemy then drops every connection of the pool
# (its disconnect handling), so the next requests reconnect.
PING_AFTER_IDLE_S = 10.0
# Connections older than this are replaced at checkout (servers and proxies drop old ones).
POOL_RECYCLE_S = 1800


def _mark_checked_in(_dbapi_connection: Any, record: Any) -> None:
    record.info["placement_idle_since"] = time.monotonic()


def _ping_if_idle(engine: Engine) -> Any:
    def ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("placement_idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError() from error
        if not alive:
            raise exc.DisconnectionError()

    return ping


def for_writing(engine: Engine) -> Engine:
    """The engine to use for a unit of work that will write (matters on SQLite only)."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin="IMMEDIATE")
    return engine


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_S)
    engine = create_engine(database_url, **kwargs)
    event.listen(engine.pool, "checkin", _mark_checked_in)
    event.listen(engine.pool, "checkout", _ping_if_idle(engine))
    return engine


@lru_cache(maxsize=8)
def engine_for(database_url: str) -> Engine:
    """One engine (and pool) per database URL per process."""
    return make_engine(database_url)


def get_engine(settings: Settings) -> Engine:
    return engine_for(settings.database_url)


@contextmanager
def session_scope(
    settings_or_engine: Settings | Engine, *, readonly: bool = False
) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    On SQLite it queues for the write lock up front unless `readonly` (see for_writing).
    """
    settings: Settings | None = None
    if isinstance(settings_or_engine, Settings):
        settings = settings_or_engine
        engine = get_engine(settings)
    else:
        engine = settings_or_engine
    if not readonly:
        engine = for_writing(engine)
    # With the settings on the session, mail queued in it is enqueued after its commit.
    info = {SETTINGS_KEY: settings} if settings is not None else {}
    with Session(engine, expire_on_commit=False, info=info) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
