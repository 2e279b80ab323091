"""Without PostgreSQL or Redis the suite passes on SQLite and says what it skipped; with
CI=true the same missing services fail the run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DEAD = {
    "TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:1/postgres",
    "TEST_REDIS_URL": "redis://127.0.0.1:1",
}
SELECTION = [
    "tests/integration/test_foundation.py::test_migrations_match_models",
    "tests/workers/test_worker_basics.py::test_worker_on_redis",
]


def _pytest(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_XDIST_WORKER"}}
    env.update(DEAD)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", *SELECTION],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_missing_services_are_skipped_and_listed() -> None:
    result = _pytest(ci=False)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "what this run skipped" in result.stdout
    assert "SKIPPED 1 postgres test(s): no PostgreSQL at" in result.stdout
    assert "SKIPPED 1 redis test(s): no Redis at" in result.stdout
    assert "1 passed, 2 skipped" in result.stdout  # SQLite ran


@pytest.mark.slow
def test_missing_services_fail_the_run_in_ci() -> None:
    result = _pytest(ci=True)
    assert result.returncode != 0
    assert "CI=true and postgres is mandatory" in result.stdout
    assert "CI=true and redis is mandatory" in result.stdout
