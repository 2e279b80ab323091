"""A real `placement worker` subprocess completes a task over each broker."""

from __future__ import annotations

from pathlib import Path

from placement import jobs
from placement.config import Settings
from tests.conftest import service_env


def _round_trip(env: dict[str, str], worker_factory) -> None:  # type: ignore[no-untyped-def]
    worker = worker_factory(env)
    settings = Settings.from_env(env)
    result = jobs._producer(settings).send_task("workers.tasks.ping", args=["hello"])
    assert result.get(timeout=60) == "hello"
    assert "workers.tasks.ping" in worker.output()


def test_worker_on_embedded_broker(tmp_path: Path, worker_factory) -> None:  # type: ignore[no-untyped-def]
    env = service_env(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "instance")
    settings = Settings.from_env(env)
    assert settings.embedded_broker and settings.broker_url.startswith("sqla+sqlite:")
    _round_trip(env, worker_factory)


def test_worker_on_redis(tmp_path: Path, redis_url: str, worker_factory) -> None:  # type: ignore[no-untyped-def]
    env = service_env(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "instance", redis_url)
    assert Settings.from_env(env).broker_url == redis_url
    _round_trip(env, worker_factory)
