"""Shared fixtures: real databases (SQLite and Postgres), real brokers, real workers.

Postgres and Redis tests are mandatory when CI=true: a missing service fails the run.
Elsewhere they are skipped, and the session ends by saying exactly what was skipped.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

from placement import migrate
from placement.config import Settings
from placement.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
_SKIPPED: dict[str, str] = {}
_CREATED_DATABASES: set[str] = set()


def _postgres_problem() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:
        return f"no PostgreSQL at {PG_ADMIN_URL} ({exc.__class__.__name__})"


def _redis_problem() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=3).ping()
        return None
    except Exception as exc:
        return f"no Redis at {REDIS_TEST_URL} ({exc.__class__.__name__})"


def require(service: str) -> None:
    """Skip (or, in CI, fail) a test that needs a service that is not running."""
    problem = _postgres_problem() if service == "postgres" else _redis_problem()
    if problem is None:
        return
    if CI:
        pytest.fail(f"CI=true and {service} is mandatory: {problem}")
    _SKIPPED[service] = problem
    pytest.skip(problem)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Skips happen in xdist workers, so the controller asks the services again here.
    skipped = terminalreporter.stats.get("skipped", [])
    reasons = [str(getattr(report, "longrepr", ("", "", ""))[-1]) for report in skipped]
    problems = {"postgres": _postgres_problem(), "redis": _redis_problem(), **_SKIPPED}
    lines = []
    for service, problem in sorted(problems.items()):
        if problem:
            count = sum(problem in reason for reason in reasons)
            lines.append(f"SKIPPED {count} {service} test(s): {problem}")
    other = [r for r in reasons if not any(p and p in r for p in problems.values())]
    lines.extend(f"SKIPPED: {reason}" for reason in sorted(set(other)))
    if lines:
        terminalreporter.section("what this run skipped")
        for line in lines:
            terminalreporter.write_line(line)
        terminalreporter.write_line("With CI=true (see .ci/run) these tests are mandatory.")


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@dataclass(frozen=True)
class Backend:
    name: str
    url: str


def create_postgres_database(label: str) -> str:
    """A fresh, empty database; returns its SQLAlchemy URL."""
    import psycopg

    # The process id keeps concurrent test runs (and xdist workers) apart.
    name = re.sub(r"[^a-z0-9_]", "_", f"placement_test_{os.getpid()}_{label}".lower())[:63]
    _CREATED_DATABASES.add(name)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _CREATED_DATABASES:
        return
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            for name in sorted(_CREATED_DATABASES):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass  # best effort: the next run of this process id starts from a fresh database


def _migrated(backend: str, tmp_factory: pytest.TempPathFactory, label: str) -> str:
    if backend == "postgres":
        require("postgres")
        url = create_postgres_database(label)
    else:
        url = f"sqlite:///{tmp_factory.mktemp(label) / 'test.sqlite'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    """A migrated database on each backend, shared by the session's rollback tests."""
    name = request.param
    return Backend(name, _migrated(name, tmp_path_factory, "shared"))


@pytest.fixture(scope="session")
def engines() -> Iterator[dict[str, Engine]]:
    cache: dict[str, Engine] = {}
    yield cache
    for engine in cache.values():
        engine.dispose()


@pytest.fixture
def engine(backend: Backend, engines: dict[str, Engine]) -> Engine:
    if backend.url not in engines:
        engines[backend.url] = make_engine(backend.url)
    return engines[backend.url]


@pytest.fixture
def connection(engine: Engine) -> Iterator[object]:
    """An outer transaction that every test rolls back ("joining a session into an
    external transaction")."""
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            if outer.is_active:
                outer.rollback()


@pytest.fixture
def session(connection: object) -> Iterator[Session]:
    with Session(
        bind=connection,  # type: ignore[arg-type]
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    ) as s:
        yield s


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": backend.url,
            "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
        }
    )


@pytest.fixture
def app(settings: Settings, connection: object):  # type: ignore[no-untyped-def]
    from placement import create_app

    application = create_app(settings, bind=connection)  # type: ignore[arg-type]
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def truncate_all(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(SQLModel.metadata.sorted_tables):
                conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def committed_backend(backend: Backend) -> Iterator[Backend]:
    """The shared database for tests whose work must really commit (other processes read
    it); it is emptied afterwards."""
    truncate_all(backend.url)
    yield backend
    truncate_all(backend.url)


# --- real workers -------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    require("redis")
    import redis

    # One database per xdist worker keeps parallel test processes apart.
    index = 1 + (int(_worker_suffix().removeprefix("gw")) if _worker_suffix() != "main" else 0)
    url = f"{REDIS_TEST_URL}/{index % 16}"
    redis.Redis.from_url(url).flushdb()
    return url


def service_env(database_url: str, instance_dir: Path, redis: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(
        DATABASE_URL=database_url,
        PLACEMENT_INSTANCE_DIR=str(instance_dir),
        SECRET_KEY="test-secret-key",
        PYTHONUNBUFFERED="1",
    )
    if redis:
        env["REDIS_URL"] = redis
    return env


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path
    handle: IO[bytes]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.handle.close()


def start_worker(
    env: dict[str, str], log: Path, *extra: str, timeout: float = 60.0
) -> WorkerProcess:
    """Start `placement worker` in its own process group and wait until it is ready."""
    command = [sys.executable, "-m", "placement.cli", "worker", "--loglevel=INFO", *extra]
    handle = log.open("wb")
    process = subprocess.Popen(
        command, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )
    worker = WorkerProcess(process, log, handle)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            handle.close()
            raise RuntimeError(f"worker exited early:\n{worker.output()}")
        if " ready." in worker.output():
            return worker
        time.sleep(0.2)
    worker.kill()
    handle.close()
    raise RuntimeError(f"worker not ready after {timeout}s:\n{worker.output()}")


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[object]:
    started: list[WorkerProcess] = []

    def factory(env: dict[str, str], *extra: str) -> WorkerProcess:
        w = start_worker(
            env, tmp_path / f"worker-{len(started)}-{uuid.uuid4().hex[:6]}.log", *extra
        )
        started.append(w)
        return w

    yield factory
    for w in started:
        w.stop()
