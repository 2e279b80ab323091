"""End-to-end match runs on Postgres: load a generated round, run it through a real worker.

``python -m benchmarks.bench_runs 20000 145000`` creates a fresh database per size, bulk
loads a seeded national round (COPY), starts one ``placement worker`` subprocess on the
embedded broker (the broker only carries the run id) and times the run's phases from the
run's own stats: load (database to instance document), build (validation), solve, write
(proposals and unplaced rows, one transaction), plus the wall time from enqueue to
``succeeded`` and the worker's peak RSS. ``--markdown`` prints the table for
docs/benchmarks.md.

The generated round is stored by ``placement.services.round_loader.load_round``, which the
tests use too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import write_section
from placement.matching.synthetic import generate
from placement.services.round_loader import load_round

ROOT = Path(__file__).resolve().parent.parent

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _fresh_database(name: str) -> str:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_one(n: int, *, seed: int = 0, redis_url: str | None = None) -> dict[str, Any]:
    """Generate, load, and run one round end to end through a real worker; the timings."""
    from sqlmodel import Session

    from placement import migrate
    from placement.config import Settings
    from placement.db import make_engine
    from placement.models import MatchRun, User
    from placement.services.runs.reading import start_run

    url = _fresh_database(f"placement_bench_runs_{n}")
    migrate.upgrade(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    instance = generate(n, seed=seed)
    generate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    loaded = load_round(engine, instance, name=f"National round ({n:,} trainees)")
    db_load_s = time.perf_counter() - t0
    del instance

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
        env.update(DATABASE_URL=url, PLACEMENT_INSTANCE_DIR=tmp, SECRET_KEY="bench")
        if redis_url:
            env["REDIS_URL"] = redis_url
        settings = Settings.from_env(env)
        log_path = Path(tmp) / "worker.log"
        with log_path.open("wb") as log:
            # The solo pool runs the task in the worker process itself: its peak RSS is
            # the run's.
            worker = subprocess.Popen(
                [sys.executable, "-m", "placement.cli", "worker", "--pool", "solo"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + 60
                while " ready." not in log_path.read_text(errors="replace"):
                    if time.monotonic() > deadline or worker.poll() is not None:
                        raise RuntimeError(log_path.read_text(errors="replace"))
                    time.sleep(0.1)
                with Session(engine, expire_on_commit=False) as session:
                    actor = User(
                        email="bench@example.test", name="Bench", role="coordinator",
                        password_hash="-",
                    )  # fmt: skip
                    session.add(actor)
                    session.commit()
                    t0 = time.perf_counter()
                    run = start_run(
                        session=session, actor=actor, round_id=loaded.round_id, settings=settings
                    )
                while True:
                    with Session(engine) as session:
                        current = session.get(MatchRun, run.id)
                        assert current is not None
                        if current.status in ("succeeded", "failed"):
                            break
                    time.sleep(0.1)
                wall_s = time.perf_counter() - t0
                rss_mb = _peak_rss_mb(worker.pid)
            finally:
                os.killpg(worker.pid, 9)
                worker.wait()
    if current.status != "succeeded":
        engine.dispose()
        raise RuntimeError(f"run failed: {current.error}")
    # The coordinator then approves the whole run in one request ("approve all").
    from placement.services.approvals import approve_all

    with Session(engine) as session:
        coordinator = session.get(User, actor.id)
        assert coordinator is not None and run.id is not None
        t0 = time.perf_counter()
        approved = approve_all(session=session, actor=coordinator, run_id=run.id)
        approve_all_s = time.perf_counter() - t0
    engine.dispose()
    stats = current.stats or {}
    return {
        "trainees": n,
        "slots": len(loaded.slot_ids),
        "placed": stats["placed"],
        "generate_s": round(generate_s, 2),
        "db_load_s": round(db_load_s, 2),
        "load_s": stats["load_seconds"],
        "build_s": stats["build_seconds"],
        "solve_s": stats.get("solve_wall_seconds", stats["solve_seconds"]),
        "write_s": stats["write_seconds"],
        "total_s": stats["total_seconds"],
        "wall_s": round(wall_s, 2),
        "worker_peak_rss_mb": round(rss_mb),
        "approved": approved.approved,
        "approve_all_s": round(approve_all_s, 2),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| trainees | slots | placed | load s | build s | solve s | write s | run total s "
        "| enqueue to succeeded s | worker peak RSS MB | approve all s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['trainees']:,} | {r['slots']:,} | {r['placed']:,} | {r['load_s']:.2f} "
            f"| {r['build_s']:.2f} | {r['solve_s']:.2f} | {r['write_s']:.2f} "
            f"| {r['total_s']:.2f} | {r['wall_s']:.2f} | {r['worker_peak_rss_mb']:,} "
            f"| {r['approve_all_s']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="End-to-end match-run benchmark on Postgres.")
    parser.add_argument("sizes", nargs="*", type=int, default=[20_000, 145_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--redis", default=None, help="broker URL (default: embedded broker)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument(
        "--write", action="store_true", help="rewrite this benchmark's section of docs"
    )
    args = parser.parse_args(argv)
    rows = []
    for n in args.sizes:
        row = bench_one(n, seed=args.seed, redis_url=args.redis)
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
    print(markdown(rows) if args.markdown else json.dumps(rows, indent=1))
    if args.write:
        write_section("run-benchmarks", document(rows))
    return 0


def document(rows: list[dict[str, Any]]) -> str:
    """The docs section: how it was measured, the table and the goal."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    largest = max(rows, key=lambda r: r["trainees"]) if rows else None
    lines = [
        "## End to end match runs",
        "",
        "Written by `python -m benchmarks.bench_runs --write` (issue 4). For each size: a fresh",
        "Postgres database, the seeded national round of `benchmarks/generate.py` bulk-loaded",
        "with COPY as a closed round, one `placement worker --pool solo` subprocess (embedded",
        "broker: it only carries the run id), and a run started with `start_run` exactly as",
        "the API starts it. The columns come from the run's own `stats`: **load** (the round",
        "read into the instance document, a few set-wise queries), **build**",
        "(`matching.load_instance`), **solve** (`matching.solve`, wall time in the worker),",
        "**write** (proposals and unplaced rows with COPY and the run's `succeeded`, one",
        "transaction), **run total** (claim to commit: also storing the run's compressed",
        "instance and the progress updates) and **enqueue to succeeded** (from `start_run` to",
        "the first poll that sees `succeeded`). Peak RSS is `VmHWM` of the worker process.",
        "**approve all** is `approvals.approve_all` on the finished run, as the coordinator's",
        '"Approve all" button calls it: every proposal becomes a live placement, one',
        "transaction.",
        f"Load average when the run ended: {load:.1f} on {os.cpu_count()} CPUs.",
        "",
        markdown(rows),
    ]
    if largest is not None and largest["trainees"] >= 145_000:
        total = largest["wall_s"]
        verdict = "met" if total is not None and total <= 60 else "NOT met"
        lines += ["", f"**Goal (145,000 end to end <= 60 s): {verdict}** ({total} s)."]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
