"""Helpers for tests that execute runs in-process on committed data (the run services
open their own sessions, so nothing can live in a rolled-back transaction)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session

from placement.config import Settings
from placement.db import get_engine
from placement.models import MatchRun, User
from placement.services.runs import reading
from tests import factories as f
from tests.conftest import Backend


def run_settings(backend: Backend, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": backend.url,
            "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
            "PLACEMENT_REQUEUE_AFTER": "60",
        }
    )


def seed(settings: Settings, n: int = 300, **kw: Any) -> f.LoadedRound:
    """A generated closed round of `n` trainees, bulk-loaded and committed."""
    return f.load_round(get_engine(settings), f.generate(n, seed=n, **kw))


def coordinator(settings: Settings) -> User:
    with Session(get_engine(settings), expire_on_commit=False) as session:
        user = f.user(session, role="coordinator")
        session.commit()
        return user


def start(settings: Settings, loaded: f.LoadedRound, **kw: Any) -> int:
    """Start a run as a fresh coordinator; returns its id."""
    with Session(get_engine(settings), expire_on_commit=False) as session:
        run = reading.start_run(
            session=session,
            actor=coordinator(settings),
            round_id=loaded.round_id,
            settings=settings,
            **kw,
        )
    assert run.id is not None
    return run.id


def fetch_run(settings: Settings, run_id: int) -> MatchRun:
    with Session(get_engine(settings)) as session:
        run = session.get(MatchRun, run_id)
        assert run is not None
        return run
