"""Match runs through a real `placement worker` subprocess on a real broker.

Embedded default (SQLite database, SQLite broker) and Postgres + Redis. Recovery is tested
by SIGKILLing a worker mid-run and by killing a private, non-persistent redis-server while
runs are queued. `PLACEMENT_TEST_SLOW_WRITE_SECONDS` (tests only, see
placement/services/runs/execution.py) holds a run in its writing phase so a kill lands mid-run.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from placement import matching, migrate
from placement.config import Settings
from placement.db import make_engine
from placement.models import (
    MatchRun,
    PlacementStatus,
    Proposal,
    RunExplanation,
    RunSeatValue,
    UnplacedTrainee,
)
from placement.services.instances import build_instance
from placement.services.runs import execution, reading, stored
from tests import factories as f
from tests.conftest import CI, create_postgres_database, require, service_env

WorkerFactory = Callable[..., Any]
TERMINAL = ("succeeded", "failed")


class Env:
    """One database (and broker) for a test, with helpers to seed, start and watch runs."""

    def __init__(self, url: str, instance_dir: Path, redis: str | None = None) -> None:
        migrate.upgrade(url)
        self.url = url
        self.env = service_env(url, instance_dir, redis)
        self.settings = Settings.from_env(self.env)
        self.engine: Engine = make_engine(url)

    def worker_env(self, **extra: str) -> dict[str, str]:
        return {**self.env, **extra}

    def seed(self, n: int, seed: int = 0, **kw: Any) -> f.LoadedRound:
        return f.load_round(self.engine, f.generate(n, seed=seed, **kw))

    def start(self, loaded: f.LoadedRound) -> int:
        with Session(self.engine, expire_on_commit=False) as session:
            actor = f.user(session, role="coordinator")
            session.commit()
            run = reading.start_run(
                session=session, actor=actor, round_id=loaded.round_id, settings=self.settings
            )
        assert run.id is not None
        return run.id

    def run(self, run_id: int) -> MatchRun:
        with Session(self.engine) as session:
            run = session.get(MatchRun, run_id)
            assert run is not None
            return run

    def watch(
        self,
        run_ids: list[int],
        timeout: float = 90,
        until: Callable[[dict[int, MatchRun]], bool] | None = None,
    ) -> dict[int, list[tuple[str, str, int]]]:
        """Poll the runs until all are finished (or `until` holds); every state seen."""
        seen: dict[int, list[tuple[str, str, int]]] = {r: [] for r in run_ids}
        deadline = time.monotonic() + timeout
        while True:
            current = {r: self.run(r) for r in run_ids}
            for r, run in current.items():
                state = (run.status, run.phase, run.progress)
                if not seen[r] or seen[r][-1] != state:
                    seen[r].append(state)
            done = (
                until(current)
                if until is not None
                else all(run.status in TERMINAL for run in current.values())
            )
            if done:
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"runs not done after {timeout}s: {seen}")
            time.sleep(0.05)

    def assert_matches_engine(self, run_id: int) -> None:
        """The stored proposals are the engine's result on the exported instance, once."""
        run = self.run(run_id)
        assert run.status == "succeeded", run.error
        with Session(self.engine) as session:
            doc = build_instance(
                session=session,
                round_id=run.round_id,
                weights=run.weights,
                allow_unranked=run.allow_unranked,
            )
            proposals = session.exec(
                select(Proposal.trainee_id, Proposal.slot_id, Proposal.rank).where(
                    Proposal.run_id == run_id
                )
            ).all()
            unplaced = session.exec(
                select(UnplacedTrainee.trainee_id, UnplacedTrainee.reason).where(
                    UnplacedTrainee.run_id == run_id
                )
            ).all()
        result = matching.solve(matching.load_instance(doc))
        expected = {
            (int(a.trainee_id), int(a.slot_id), a.rank) for a in result.assignments if not a.locked
        }
        assert len(proposals) == len(expected)
        assert {tuple(p) for p in proposals} == expected
        assert {tuple(u) for u in unplaced} == {
            (int(u.trainee_id), u.reason) for u in result.unplaced
        }
        assert (run.stats or {})["placed"] == len(expected)

    def duplicate_proposals(self) -> int:
        with Session(self.engine) as session:
            groups = session.exec(
                select(Proposal.run_id, Proposal.trainee_id, func.count())
                .group_by(Proposal.run_id, Proposal.trainee_id)  # type: ignore[arg-type]
                .having(func.count() > 1)
            ).all()
        return len(groups)


@pytest.fixture
def workers(worker_factory: WorkerFactory) -> Iterator[WorkerFactory]:
    """`worker_factory`, but the workers are SIGKILLed when the test is over: a warm
    shutdown of an idle worker on the embedded broker alone takes several seconds, and these
    throw-away databases and queues need no clean goodbye."""
    started: list[Any] = []

    def factory(env: dict[str, str], *extra: str) -> Any:
        worker = worker_factory(env, *extra)
        started.append(worker)
        return worker

    yield factory
    for worker in started:
        worker.kill(signal.SIGKILL)


def _assert_monotonic(states: list[tuple[str, str, int]]) -> None:
    progress = [p for _, _, p in states]
    assert progress == sorted(progress), states
    assert states[-1] == ("succeeded", "done", 100), states


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Env]:
    env = Env(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "instance")
    yield env
    env.engine.dispose()


@pytest.fixture
def on_redis(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[Env]:
    require("postgres")
    env = Env(create_postgres_database(f"runs_{request.node.name[:20]}"), tmp_path / "i", redis_url)
    yield env
    env.engine.dispose()


def test_run_on_the_embedded_broker(embedded: Env, workers: WorkerFactory) -> None:
    loaded = embedded.seed(400, seed=1)
    # A short pause in the writing phase makes the intermediate states observable.
    worker = workers(embedded.worker_env(**{execution.SLOW_WRITE_ENV: "1"}))
    run_id = embedded.start(loaded)
    states = embedded.watch([run_id])[run_id]
    _assert_monotonic(states)
    assert ("running", "writing", execution.P_WRITING) in states
    embedded.assert_matches_engine(run_id)
    run = embedded.run(run_id)
    assert run.attempts == 1 and run.error is None
    for key in ("total_seconds", "solve_seconds", "load_seconds", "write_seconds"):
        assert (run.stats or {})[key] >= 0
    assert "workers.tasks.run_match" in worker.output()


@pytest.mark.parametrize("where", ["embedded", "on_redis"])
def test_both_modes_side_by_side(
    where: str, request: pytest.FixtureRequest, workers: WorkerFactory
) -> None:
    """Issue 12: one round, both modes, through the real worker; the optimal run keeps a
    seat value per slot, the stable run its lottery and no blocking pair; both keep their
    explanations."""
    env: Env = request.getfixturevalue(where)
    loaded = env.seed(300, seed=4)
    workers(env.worker_env())
    with Session(env.engine, expire_on_commit=False) as session:
        actor = f.user(session, role="coordinator")
        session.commit()
        optimal, stable = reading.start_runs(
            session=session, actor=actor, round_id=loaded.round_id,
            modes=("optimal", "stable"), settings=env.settings, seed=11,
        )  # fmt: skip
    assert optimal.id is not None and stable.id is not None
    env.watch([optimal.id, stable.id])
    with Session(env.engine) as session:
        doc = stored.stored_instance(session=session, run_id=stable.id).data()
        expected = matching.solve(matching.load_instance(doc))
        s_run = session.get(MatchRun, stable.id)
        o_run = session.get(MatchRun, optimal.id)
        assert s_run is not None and o_run is not None
        assert (s_run.status, o_run.status) == ("succeeded", "succeeded")
        assert s_run.lottery == list(expected.lottery or ())
        assert (s_run.stats or {})["blocking_pairs"] == 0 and s_run.seed == 11
        values = session.exec(
            select(func.count()).select_from(RunSeatValue).where(RunSeatValue.run_id == o_run.id)
        ).one()
        assert values == len(doc["slots"])
        for run_id in (optimal.id, stable.id):
            explained = session.exec(
                select(func.count())
                .select_from(RunExplanation)
                .where(RunExplanation.run_id == run_id)
            ).one()
            unplaced = session.exec(
                select(func.count())
                .select_from(UnplacedTrainee)
                .where(UnplacedTrainee.run_id == run_id)
            ).one()
            assert explained >= unplaced > 0


def test_two_rounds_at_once_on_redis_and_postgres(on_redis: Env, workers: WorkerFactory) -> None:
    first, second = on_redis.seed(500, seed=2), on_redis.seed(300, seed=3)
    workers(on_redis.worker_env(**{execution.SLOW_WRITE_ENV: "0.5"}))
    run_ids = [on_redis.start(first), on_redis.start(second)]
    seen = on_redis.watch(run_ids)
    for run_id in run_ids:
        _assert_monotonic(seen[run_id])
        on_redis.assert_matches_engine(run_id)
    assert on_redis.duplicate_proposals() == 0


def test_a_failing_run_fails_with_its_reason(embedded: Env, workers: WorkerFactory) -> None:
    from sqlalchemy import update

    from placement.models import Placement, Slot

    loaded = embedded.seed(60, seed=4)
    slot_id = next(iter(loaded.slot_ids.values()))
    with Session(embedded.engine) as session:
        # Two live placements on a one-seat slot (behind the counter's back): the engine
        # rejects an instance with more locked pairs than seats.
        session.execute(update(Slot).where(col(Slot.id) == slot_id).values(capacity=1, filled=0))
        session.execute(update(Placement).values(status=PlacementStatus.WITHDRAWN))
        for tid in list(loaded.trainee_ids.values())[:2]:
            session.add(Placement(round_id=loaded.round_id, trainee_id=tid, slot_id=slot_id))
        session.commit()
    workers(embedded.worker_env())
    run_id = embedded.start(loaded)
    embedded.watch([run_id])
    run = embedded.run(run_id)
    assert run.status == "failed" and run.attempts == 1
    assert run.error is not None and run.error.startswith("invalid instance: locked")
    with Session(embedded.engine) as session:
        assert session.exec(select(Proposal).where(Proposal.run_id == run_id)).all() == []
        assert (
            session.exec(select(UnplacedTrainee).where(UnplacedTrainee.run_id == run_id)).all()
            == []
        )


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_sigkill_mid_run_then_a_new_worker_finishes_it_once(
    broker: str, request: pytest.FixtureRequest, workers: WorkerFactory
) -> None:
    env: Env = request.getfixturevalue("embedded" if broker == "embedded" else "on_redis")
    loaded = env.seed(500, seed=5)
    fast_reconcile = {"PLACEMENT_REQUEUE_AFTER": "2"}
    doomed = workers(env.worker_env(**fast_reconcile, **{execution.SLOW_WRITE_ENV: "60"}))
    run_id = env.start(loaded)
    env.watch([run_id], until=lambda runs_: runs_[run_id].phase == "writing")
    doomed.kill(signal.SIGKILL)
    assert env.run(run_id).status == "running"

    workers(env.worker_env(**fast_reconcile))
    states = env.watch([run_id], timeout=60)[run_id]
    _assert_monotonic(states)
    run = env.run(run_id)
    assert run.attempts == 2
    env.assert_matches_engine(run_id)
    assert env.duplicate_proposals() == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of our own, with no persistence: killing it loses its queue."""

    def __init__(self, tmp: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server is not installed"
            if CI:
                pytest.fail(f"CI=true and {message}")
            pytest.skip(message)
        self.binary, self.tmp, self.port = binary, tmp, _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def queued(self) -> int:
        import redis

        return int(redis.Redis.from_url(self.url).llen("celery"))


@pytest.mark.slow
def test_runs_survive_a_broker_that_lost_its_queue(tmp_path: Path, workers: WorkerFactory) -> None:
    require("postgres")
    broker = PrivateRedis(tmp_path)
    broker.start()
    try:
        env = Env(create_postgres_database("runs_redis_lost"), tmp_path / "i", broker.url)
        rounds = [env.seed(200, seed=6), env.seed(150, seed=7)]
        run_ids = [env.start(loaded) for loaded in rounds]
        assert broker.queued() == 2
        broker.kill()
        broker.start()  # empty: the messages are gone
        assert broker.queued() == 0
        workers(env.worker_env(PLACEMENT_REQUEUE_AFTER="2"))
        seen = env.watch(run_ids, timeout=60)
        for run_id in run_ids:
            _assert_monotonic(seen[run_id])
            env.assert_matches_engine(run_id)
            assert env.run(run_id).attempts == 1
        env.engine.dispose()
    finally:
        broker.kill()


@pytest.mark.slow
def test_fan_out_across_workers_equals_the_single_task_result(
    on_redis: Env, workers: WorkerFactory
) -> None:
    # Strictly regional choices split the candidate graph into one component per region.
    loaded = on_redis.seed(900, seed=8, local_share=1.0)
    env = on_redis.worker_env(**{execution.FANOUT_ENV: "40"})
    workers(env)
    workers(env)
    run_id = on_redis.start(loaded)
    _assert_monotonic(on_redis.watch([run_id])[run_id])
    run = on_redis.run(run_id)
    assert (run.stats or {}).get("components_fanned_out", 0) >= 3
    on_redis.assert_matches_engine(run_id)


def test_export_instance_command(embedded: Env) -> None:
    import json
    import sys

    loaded = embedded.seed(30, seed=9)
    out = subprocess.run(
        [sys.executable, "-m", "placement.cli", "export-instance", "--round", str(loaded.round_id)],
        env=embedded.env,
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    doc = json.loads(out.stdout)
    assert doc["format"] == "placement-instance/1" and len(doc["trainees"]) == 30
    missing = subprocess.run(
        [sys.executable, "-m", "placement.cli", "export-instance", "--round", "999999"],
        env=embedded.env,
        capture_output=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert missing.returncode == 2 and b"No such round" in missing.stderr
    assert os.environ.get(execution.SLOW_WRITE_ENV) is None

    # `placement run` queues a run as the first coordinator (no worker here: it stays queued).
    with Session(embedded.engine) as session:
        f.user(session, role="coordinator")
        session.commit()
    started = subprocess.run(
        [sys.executable, "-m", "placement.cli", "run", "--round", str(loaded.round_id)],
        env=embedded.env,
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert started.stdout.decode().strip().endswith("queued")
    with Session(embedded.engine) as session:
        queued = session.exec(select(MatchRun)).one()
    assert (queued.round_id, queued.status) == (loaded.round_id, "queued")
