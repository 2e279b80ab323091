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
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
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
                        password_hash="-", email_verified_at=datetime.now(UTC),
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
    assert run.id is not None
    export_s, export_mb = _export_seconds(url, engine, actor.id, loaded.round_id)
    # The coordinator then approves the whole run in one request ("approve all").
    from placement.services.approvals import approve_all

    with Session(engine) as session:
        coordinator = session.get(User, actor.id)
        assert coordinator is not None
        t0 = time.perf_counter()
        approved = approve_all(session=session, actor=coordinator, run_id=run.id)
        approve_all_s = time.perf_counter() - t0
    engine.dispose()
    stats = current.stats or {}
    solve_only_s = stats.get("solve_wall_seconds", stats["solve_seconds"])
    seat_values_s = stats.get("seat_values_seconds", 0.0)
    # The path people wait for: the run's own total less what it reports on its own
    # lines (seat values, who each seat moves, explanations and the writing of these).
    own_lines = (
        "seat_values_seconds",
        "seat_moves_seconds",
        "explain_seconds",
        "seat_values_write_seconds",
        "explanations_write_seconds",
    )
    proposals_s = stats["total_seconds"] - sum(stats.get(key, 0.0) for key in own_lines)
    return {
        "trainees": n,
        "slots": len(loaded.slot_ids),
        "placed": stats["placed"],
        "generate_s": round(generate_s, 2),
        "db_load_s": round(db_load_s, 2),
        "load_s": stats["load_seconds"],
        "store_s": stats.get("store_seconds", 0.0),
        "build_s": stats["build_seconds"],
        "solve_only_s": round(solve_only_s, 2),
        "seat_values_s": round(seat_values_s, 2),
        "seat_moves_s": stats.get("seat_moves_seconds", 0.0),
        "explain_s": stats.get("explain_seconds", 0.0),
        "write_s": stats["write_seconds"],
        "seat_values_write_s": stats.get("seat_values_write_seconds", 0.0),
        "explanations_write_s": stats.get("explanations_write_seconds", 0.0),
        "total_s": stats["total_seconds"],
        "proposals_s": round(proposals_s, 2),
        "wall_s": round(wall_s, 2),
        "worker_peak_rss_mb": round(rss_mb),
        "approved": approved.approved,
        "approve_all_s": round(approve_all_s, 2),
        "export_s": round(export_s, 2),
        "export_mb": round(export_mb, 1),
    }


def _export_seconds(
    url: str, engine: Any, actor_id: int | None, round_id: int
) -> tuple[float, float]:
    """`GET /api/v1/rounds/{id}/instance` through the app (Flask test client): seconds and
    MB of the answer."""
    from sqlmodel import Session

    from placement import create_app
    from placement.config import Settings
    from placement.models import User
    from placement.services.accounts import issue_token

    with Session(engine) as session:
        user = session.get(User, actor_id)
        assert user is not None
        token = issue_token(session=session, user=user)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_URL": url, "PLACEMENT_INSTANCE_DIR": tmp, "SECRET_KEY": "bench"}
        app = create_app(Settings.from_env(env))
        client = app.test_client()
        t0 = time.perf_counter()
        answer = client.get(
            f"/api/v1/rounds/{round_id}/instance", headers={"Authorization": f"Bearer {token}"}
        )
        body = answer.get_data()
        seconds = time.perf_counter() - t0
    if answer.status_code != 200:
        raise RuntimeError(f"export answered {answer.status_code}: {body[:200]!r}")
    return seconds, len(body) / 1e6


COLUMNS = (
    ("trainees", "trainees", "{:,}"),
    ("slots", "slots", "{:,}"),
    ("placed", "placed", "{:,}"),
    ("load_s", "load s", "{:.2f}"),
    ("store_s", "store s", "{:.2f}"),
    ("build_s", "build s", "{:.2f}"),
    ("solve_only_s", "solve s", "{:.2f}"),
    ("write_s", "write s", "{:.2f}"),
    ("proposals_s", "**to written proposals s**", "**{:.2f}**"),
    ("seat_values_s", "seat values s", "{:.2f}"),
    ("seat_moves_s", "who each seat moves s", "{:.2f}"),
    ("explain_s", "explanations s", "{:.2f}"),
    ("seat_values_write_s", "write seat values and moves s", "{:.2f}"),
    ("explanations_write_s", "write explanations s", "{:.2f}"),
    ("wall_s", "enqueue to succeeded s", "{:.2f}"),
    ("worker_peak_rss_mb", "worker peak RSS MB", "{:,}"),
    ("approve_all_s", "**approve all s**", "**{:.2f}**"),
    ("export_s", "**instance export s**", "**{:.2f}**"),
    ("export_mb", "export MB", "{:.1f}"),
)


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
        "|" + "---:|" * len(COLUMNS),
    ]
    for r in rows:
        lines.append("| " + " | ".join(fmt.format(r[key]) for key, _, fmt in COLUMNS) + " |")
    return "\n".join(lines)


def median_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each column's median over repeated runs of one size."""
    row: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        row[key] = statistics.median(values) if isinstance(values[0], int | float) else values[0]
    row["repeats"] = len(runs)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="End-to-end match-run benchmark on Postgres.")
    parser.add_argument("sizes", nargs="*", type=int, default=[20_000, 145_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (medians)")
    parser.add_argument("--redis", default=None, help="broker URL (default: embedded broker)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument(
        "--write", action="store_true", help="rewrite this benchmark's section of docs"
    )
    args = parser.parse_args(argv)
    rows = []
    for n in args.sizes:
        runs = []
        for _ in range(args.repeat):
            one = bench_one(n, seed=args.seed, redis_url=args.redis)
            print(json.dumps(one), file=sys.stderr, flush=True)
            runs.append(one)
        rows.append(median_row(runs))
    print(markdown(rows) if args.markdown else json.dumps(rows, indent=1))
    if args.write:
        write_section("run-benchmarks", document(rows))
    return 0


def document(rows: list[dict[str, Any]]) -> str:
    """The docs section: how it was measured, the table and the goals."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    largest = max(rows, key=lambda r: r["trainees"]) if rows else None
    repeats = max((r.get("repeats", 1) for r in rows), default=1)
    lines = [
        "## End to end match runs, approve all and the instance export",
        "",
        "Written by `python -m benchmarks.bench_runs --write` (issues 4 and 14). For each size:",
        "a fresh Postgres database, the seeded national round of `benchmarks/generate.py`",
        "bulk-loaded with COPY as a closed round, one `placement worker --pool solo`",
        "subprocess (embedded broker: it only carries the run id), and a run started with",
        "`start_run` exactly as the API starts it. The phases come from the run's own `stats`:",
        "**load** (the round read as its instance file: on Postgres the database writes the",
        "canonical JSON itself, in parts on two connections sharing one snapshot,",
        "`services/instance_parts.py`, and the run decodes each part as it arrives), **store**",
        "(gzip and SHA-256 of those bytes, made in a thread while the decoding ends, kept on",
        "the run for recovery), **build** (the decoding left once the last part is in: the",
        "engine's typed fast path, `matching.decoding.PartsDecoder`), **solve**",
        "(without seat values), **write** (proposals and unplaced rows with COPY and the run's",
        "`succeeded`, one transaction with everything below). **To written proposals** is the",
        "run's total (claim to commit, progress updates included) less the lines that follow,",
        "which the run times on their own: **seat values** (computed after the solve from the",
        "arrays and optimal potentials it kept), **who each seat moves** (the trainee each",
        "helpful seat places and the moves it sets off, `stats.seat_moves_seconds`),",
        "**explanations** (`matching.explanations.explain_all`) and the writing of these.",
        "**Enqueue to succeeded** runs from `start_run` to the first poll that sees",
        "`succeeded`; peak RSS is `VmHWM` of the worker process. **Approve all** is",
        '`approvals.approve_all` on the finished run, as the "Approve all" button calls it',
        "(every proposal becomes a live placement with its audit event, one transaction);",
        "**instance export** is `GET /api/v1/rounds/{id}/instance` through the app (Flask test",
        "client: the same statement's bytes sent as the answer).",
        f"Medians of {repeats} run(s) per size. Load average when the runs ended: {load:.1f} on",
        f"{os.cpu_count()} CPUs, shared with other work (see the note below the table).",
        "",
        markdown(rows),
    ]
    if largest is not None and largest["trainees"] >= 145_000:
        goals = (
            ("145,000 to written proposals <= 10 s", largest["proposals_s"], 10),
            ("approve all <= 5 s", largest["approve_all_s"], 5),
            ("instance export <= 3 s", largest["export_s"], 3),
            ("145,000 end to end <= 60 s", largest["wall_s"], 60),
        )
        lines.append("")
        for text, value, goal in goals:
            lines.append(
                f"- **Goal ({text}): {'met' if value <= goal else 'NOT met'}** ({value} s)."
            )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
