"""A run, approve all and the instance export at national scale, in-process, old against new.

``python -m benchmarks.bench_bulk 145000 --repeat 2 --compare /path/to/other/checkout``
loads the seeded national round once into a template database (COPY), then for each
repeat and each code tree (this checkout, and the other one when ``--compare`` is given,
ALTERNATELY so both see the same machine load): copies the template, runs the round's
match in-process (`runs.execution.execute_run`, the worker's task body, its phases from the
run's own `stats`), asks `GET /api/v1/rounds/{id}/instance` through the app (Flask test
client) and approves the whole run (`approvals.approve_all`). Each measurement runs in a
fresh subprocess whose ``PYTHONPATH`` is its tree; the table shows medians per tree.
``bench_runs`` measures the same run end to end through a real worker.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PHASES = (
    ("load_seconds", "load"),
    ("store_seconds", "store"),
    ("build_seconds", "build"),
    ("solve_wall_seconds", "solve (with seat values)"),
    ("explain_seconds", "explanations"),
    ("write_seconds", "write (proposals; before: everything)"),
    ("seat_values_write_seconds", "write seat values"),
    ("explanations_write_seconds", "write explanations"),
    ("total_seconds", "run total"),
    ("to_proposals", "to written proposals (total less explanations and their writing)"),
    ("export", "instance export (GET, through the app)"),
    ("approve", "approve all"),
    ("peak_rss_mb", "peak RSS of the run's process, MB"),
)


def _url(name: str) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def _recreate(name: str, template: str | None = None) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def make_template(n: int, seed: int) -> str:
    """The seeded national round of `n` trainees in a template database; its name."""
    from placement import migrate
    from placement.db import make_engine
    from placement.matching.synthetic import generate
    from placement.services.round_loader import load_round

    name = f"placement_bench_bulk_{n}"
    _recreate(name)
    url = _url(name)
    migrate.upgrade(url)
    engine = make_engine(url)
    load_round(engine, generate(n, seed=seed), name=f"National round ({n:,} trainees)")
    engine.dispose()
    import psycopg

    with psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return name


def measure(template: str) -> dict[str, Any]:
    """One run, export and approve-all on a copy of `template` (the code of this process's
    PYTHONPATH); the timings."""
    from sqlmodel import Session, select

    from placement import create_app
    from placement.config import Settings
    from placement.db import get_engine
    from placement.models import MatchRun, Round, User
    from placement.services.accounts import issue_token
    from placement.services.approvals import approve_all
    from placement.services.runs.execution import execute_run
    from placement.services.runs.reading import start_run

    work = f"{template}_work"
    _recreate(work, template)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_URL": _url(work), "PLACEMENT_INSTANCE_DIR": tmp, "SECRET_KEY": "b"}
        settings = Settings.from_env(env)
        engine = get_engine(settings)
        with Session(engine, expire_on_commit=False) as session:
            actor = User(
                email="bench@example.test", name="Bench", role="coordinator",
                password_hash="-", email_verified_at=datetime.now(UTC),
            )  # fmt: skip
            session.add(actor)
            session.commit()
            token = issue_token(session=session, user=actor)
            round_id = session.exec(select(Round.id)).one()
            run = start_run(session=session, actor=actor, round_id=round_id, settings=settings)
        assert run.id is not None
        execute_run(run.id, settings=settings)
        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        with Session(engine) as session:
            done = session.get(MatchRun, run.id)
            assert done is not None and done.status == "succeeded", done and done.error
            stats = dict(done.stats or {})
        out.update({k: v for k, v in stats.items() if k.endswith("_seconds")})
        out["to_proposals"] = round(
            stats["total_seconds"]
            - stats.get("explain_seconds", 0.0)
            - stats.get("seat_values_write_seconds", 0.0)
            - stats.get("explanations_write_seconds", 0.0),
            2,
        )
        client = create_app(settings).test_client()
        t0 = time.perf_counter()
        answer = client.get(
            f"/api/v1/rounds/{round_id}/instance", headers={"Authorization": f"Bearer {token}"}
        )
        answer.get_data()
        out["export"] = round(time.perf_counter() - t0, 2)
        assert answer.status_code == 200, answer.status_code
        with Session(engine) as session:
            coordinator = session.get(User, actor.id)
            assert coordinator is not None
            t0 = time.perf_counter()
            approve_all(session=session, actor=coordinator, run_id=run.id)
            out["approve"] = round(time.perf_counter() - t0, 2)
        engine.dispose()
    _drop(work)
    return out


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _in_tree(tree: Path, template: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", template],
        env=env, cwd=tree, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def markdown(results: dict[str, list[dict[str, Any]]]) -> str:
    names = list(results)
    lines = [
        "| phase | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for key, title in PHASES:
        cells = []
        for name in names:
            values = [r[key] for r in results[name] if key in r]
            cells.append(f"{statistics.median(values):.2f}" if values else "-")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trainees", nargs="?", type=int, default=145_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--compare", type=Path, help="another checkout, measured alternately")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    template = make_template(args.trainees, args.seed)
    trees = {"this checkout": ROOT}
    if args.compare:
        trees = {"compared": args.compare.resolve(), **trees}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for _ in range(args.repeat):
        for name, tree in trees.items():
            one = _in_tree(tree, template)
            print(name, json.dumps(one), file=sys.stderr, flush=True)
            results[name].append(one)
    _drop(template)
    load = os.getloadavg()[0]
    print(f"{args.trainees:,} trainees; medians of {args.repeat}; load {load:.1f} on "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
