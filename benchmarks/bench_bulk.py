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

from benchmarks.report import write_section

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PHASES = (
    ("load_seconds", "load (round to instance file)"),
    ("store_seconds", "store (gzip and SHA-256 on the run)"),
    ("build_seconds", "build (instance from the file)"),
    ("solve_wall_seconds", "solve (before: with seat values)"),
    ("seat_values_seconds", "seat values (own line)"),
    ("seat_moves_seconds", "who each seat moves (own line)"),
    ("explain_seconds", "explanations (own line)"),
    ("write_seconds", "write proposals and unplaced rows"),
    ("seat_values_write_seconds", "write seat values (own line)"),
    ("explanations_write_seconds", "write explanations (own line)"),
    ("total_seconds", "run total (claim to commit)"),
    ("to_proposals", "**to written proposals** (total less the own lines)"),
    ("export", "**instance export** (GET, through the app)"),
    ("export_mb", "instance export MB"),
    ("approve", "approve all"),
    ("approve_read", "approve all: reads and locks (round, proposals, seats, placements)"),
    ("approve_seats", "approve all: seats (UPDATE slots)"),
    ("approve_place", "approve all: placements and their audit events (one INSERT)"),
    ("approve_decide", "approve all: decisions (UPDATE proposals)"),
    ("approve_supersede", "approve all: other runs' proposals superseded"),
    ("peak_rss_mb", "peak RSS of the run's process, MB"),
)
# The run's extras, reported on their own lines and left out of "to written proposals".
OWN_LINES = (
    "seat_values_seconds",
    "seat_moves_seconds",
    "explain_seconds",
    "seat_values_write_seconds",
    "explanations_write_seconds",
)


def _url(name: str) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def _recreate(name: str, template: str | None = None) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def make_template(n: int, seed: int, prefix: str = "placement_bench_bulk") -> str:
    """The seeded national round of `n` trainees in a template database; its name."""
    from placement import migrate
    from placement.db import make_engine
    from placement.matching.synthetic import generate
    from placement.services.round_loader import load_round

    name = f"{prefix}_{n}"
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
            actor = _coordinator(session)
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
            stats["total_seconds"] - sum(stats.get(key, 0.0) for key in OWN_LINES), 2
        )
        client = create_app(settings).test_client()
        t0 = time.perf_counter()
        answer = client.get(
            f"/api/v1/rounds/{round_id}/instance", headers={"Authorization": f"Bearer {token}"}
        )
        body = answer.get_data()
        out["export"] = round(time.perf_counter() - t0, 2)
        out["export_mb"] = round(len(body) / 1e6, 1)
        assert answer.status_code == 200, answer.status_code
        with Session(engine) as session:
            coordinator = session.get(User, actor.id)
            assert coordinator is not None
            statements = _time_statements(engine)
            t0 = time.perf_counter()
            approve_all(session=session, actor=coordinator, run_id=run.id)
            out["approve"] = round(time.perf_counter() - t0, 2)
            out.update({k: round(v, 2) for k, v in statements.items()})
        engine.dispose()
    _drop(work)
    return out


# The statements of `approve_all` by their opening words, for the phase lines.
_APPROVE_STATEMENTS = (
    ("SELECT", "approve_read"),
    ("UPDATE slots", "approve_seats"),
    ("WITH made", "approve_place"),
    ("UPDATE proposals SET status = 'approved'", "approve_decide"),
    ("UPDATE proposals SET status = 'superseded'", "approve_supersede"),
)


def _time_statements(engine: Any) -> dict[str, float]:
    """Seconds per kind of statement from now on (the dict fills as they run)."""
    from sqlalchemy import event

    spent: dict[str, float] = {}
    started: list[float] = []

    def kind(statement: str) -> str | None:
        text = " ".join(statement.split())
        return next((key for words, key in _APPROVE_STATEMENTS if text.startswith(words)), None)

    def add(statement: str) -> None:
        began = started.pop()
        key = kind(statement)
        if key is not None:
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - began

    event.listen(engine, "before_cursor_execute", lambda *a: started.append(time.perf_counter()))
    event.listen(engine, "after_cursor_execute", lambda c, cur, statement, *a: add(statement))
    return spent


# The "who acted" foreign keys that migration 8c55563b8b33 dropped, for --who-acted.
WHO_ACTED_FKS = (
    ("audit_events", "actor_id"),
    ("placements", "approved_by"),
    ("proposals", "decided_by"),
)


def _cpu_of(pid: int) -> float:
    """User and system CPU seconds of process `pid` (a Postgres backend on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _coordinator(session: Any) -> Any:
    """The benchmark's coordinator, committed (it starts the run and approves it)."""
    from placement.models import User

    actor = User(
        email="bench@example.test", name="Bench", role="coordinator",
        password_hash="-", email_verified_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(actor)
    session.commit()
    return actor


def run_template(n: int, seed: int, prefix: str) -> str:
    """A template holding the seeded round and its finished run (for --who-acted)."""
    from sqlmodel import Session, select

    from placement.config import Settings
    from placement.db import get_engine
    from placement.models import Round
    from placement.services.runs.execution import execute_run
    from placement.services.runs.reading import start_run

    name = make_template(n, seed, prefix)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_URL": _url(name), "PLACEMENT_INSTANCE_DIR": tmp, "SECRET_KEY": "b"}
        settings = Settings.from_env(env)
        engine = get_engine(settings)
        with Session(engine, expire_on_commit=False) as session:
            actor = _coordinator(session)
            round_id = session.exec(select(Round.id)).one()
            run = start_run(session=session, actor=actor, round_id=round_id, settings=settings)
        assert run.id is not None
        execute_run(run.id, settings=settings)
        engine.dispose()
    import psycopg

    with psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return name


def measure_approve(template: str, with_fks: bool) -> dict[str, Any]:
    """`approve_all` alone on a copy of `template` (see `run_template`), with or without the
    "who acted" foreign keys: wall seconds per statement, the Postgres backend's and this
    process's CPU seconds, and the load average before and after."""
    from sqlalchemy import text
    from sqlmodel import Session, select

    from placement.db import make_engine
    from placement.models import MatchRun, User
    from placement.services.approvals import approve_all

    work = f"{template}_work"
    _recreate(work, template)
    engine = make_engine(_url(work))
    if with_fks:
        with engine.begin() as conn:
            for table, column in WHO_ACTED_FKS:
                conn.execute(text(
                    f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_{column}_users "
                    f"FOREIGN KEY ({column}) REFERENCES users (id) ON DELETE SET NULL"
                ))  # fmt: skip
    out: dict[str, Any] = {"load_before": round(os.getloadavg()[0], 1)}
    with Session(engine) as session:
        coordinator = session.exec(select(User).where(User.role == "coordinator")).first()
        run_id = session.exec(select(MatchRun.id)).one()
        assert coordinator is not None and run_id is not None
        backend = session.connection().execute(text("SELECT pg_backend_pid()")).scalar_one()
        statements = _time_statements(engine)
        cpu0, pg0, t0 = time.process_time(), _cpu_of(backend), time.perf_counter()
        approve_all(session=session, actor=coordinator, run_id=run_id)
        out["approve"] = round(time.perf_counter() - t0, 2)
        out["postgres_cpu"] = round(_cpu_of(backend) - pg0, 2)
        out["python_cpu"] = round(time.process_time() - cpu0, 2)
        out.update({k: round(v, 2) for k, v in statements.items()})
    out["load_after"] = round(os.getloadavg()[0], 1)
    engine.dispose()
    _drop(work)
    return out


def who_acted(args: argparse.Namespace) -> int:
    """Approve all with and without the "who acted" foreign keys, alternately."""
    template = run_template(args.trainees, args.seed, args.db)
    sides = {"with who-acted FKs": True, "without (8c55563b8b33)": False}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for _ in range(args.repeat):
        for name, with_fks in sides.items():
            flag = ["--with-fks"] if with_fks else []
            done = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--measure-approve", template,
                 *flag],
                env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT, capture_output=True,
                text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-2000:])
            one = json.loads(done.stdout.strip().splitlines()[-1])
            print(name, json.dumps(one), file=sys.stderr, flush=True)
            results[name].append(one)
    _drop(template)
    keys = ["approve", "postgres_cpu", "python_cpu", *(k for _, k in _APPROVE_STATEMENTS)]
    keys += ["load_before", "load_after"]
    print("| measure | " + " | ".join(results) + " |")
    for key in keys:
        cells = [" / ".join(f"{r.get(key, 0):.2f}" for r in rs) for rs in results.values()]
        print(f"| {key} | " + " | ".join(cells) + " |")
    return 0


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
    ratio = len(names) == 2
    lines = [
        "| phase (seconds) | " + " | ".join(names) + (" | ratio |" if ratio else " |"),
        "|---|" + "---:|" * (len(names) + ratio),
    ]
    for key, title in PHASES:
        cells, medians = [], []
        for name in names:
            values = [r[key] for r in results[name] if key in r]
            medians.append(statistics.median(values) if values else None)
            cells.append(f"{medians[-1]:.2f}" if values else "-")
        if ratio:
            old, new = medians
            cells.append(f"{new / old:.2f}" if old and new is not None else "")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# What the approve-all lines mean; the section's text comes from here, so a rerun keeps it.
APPROVE_NOTES = """\
**Approve all** (`approvals.approve_all`, one transaction; 123,196 approvals at 145,000):
one reading of the run's open proposals, their slots (row-locked) and the round's live
placements, under the round's lock, decides every proposal cheapest first; four statements
then write it (`services/approval_writes.py`), the lines above: the seats; the placements
with their audit events (one `INSERT ... RETURNING` feeding the events); the decisions; the
trainees' proposals in other runs superseded. Migration `36c655ef547b` makes the decisions
and the seats HOT updates (`proposals.status` has no index; `proposals` keeps 55% and
`slots` 50% of each page free on Postgres), so they rewrite rows inside their pages and
touch no index. The placements are written in proposal id order (the trainees' order),
which keeps each foreign-key check and index entry next to the previous one's.
Migration `8c55563b8b33` drops the foreign keys of the "who acted" columns (the audit
events' actor, `approved_by`, `decided_by`: a third of the trigger time, all on the one
coordinator's row; `--who-acted` measures approve all with and without them). Migration
`5b0e7d2c9a41` keeps only open offers in `ix_placements_offer_due` (the expiry and reminder
jobs' index), so a placement made before publication enters six indexes, not seven (a
tenth fewer buffer visits for the placements), and drops the `run_id` indexes of
`proposals` and `unplaced_trainees`, which repeated their unique (run_id, trainee_id).
What is left is row count. Profiled (`auto_explain` with timing, which inflates it) at
145,000 the placements statement is about 40% the four foreign-key checks of each
placement (trainee, slot, round, proposal: 0.7 to 1.1 s each, about 6 to 9 µs a check,
most of it the check's own query rather than the lookup), a quarter the placement rows and
their indexes and a sixth the audit events and their six indexes.
"""


def document(
    results: dict[str, list[dict[str, Any]]], trainees: int, repeat: int, loads: list[float]
) -> str:
    """The docs section: how it was measured, the table, the goals."""
    mine = results["this checkout"]

    def median(key: str) -> float:
        return float(statistics.median(r[key] for r in mine))

    compared = "" if len(results) == 1 else " --compare <other checkout>"
    lines = [
        "## A run, approve all and the instance export at national scale, side by side",
        "",
        f"Written by `python -m benchmarks.bench_bulk {trainees} --repeat {repeat}{compared}"
        " --write` (issue 14, points 2 and 3): the seeded national round in a template "
        "database, then per measurement a copy of it, the run's task body in-process "
        "(`execute_run`; its phases from the run's own `stats`), "
        "`GET /api/v1/rounds/{id}/instance` through the app (Flask test client) and "
        "`approve_all` on the finished run, each in a fresh process, the checkouts taking "
        "turns. **Load** is the round read as its instance file: on Postgres the database "
        "writes the canonical JSON itself, in parts on two connections sharing one snapshot "
        "(`services/instance_parts.py`), which the export sends as it is and the run stores "
        "(gzip, SHA-256, in a thread: **store**) and decodes with the engine's typed fast "
        "path, each part as it arrives (**build**: what is left after the last part). The "
        "run's extras are timed on their own "
        "lines and left out of **to written proposals**: seat values (computed after the "
        "solve from what it kept), who each seat moves, explanations and the writing of "
        "these. Medians of "
        f"{repeat} per checkout. Load average (1 min) at each measurement: "
        + ", ".join(f"{x:.1f}" for x in loads)
        + f" on {os.cpu_count()} CPUs.",
        "",
        markdown(results),
        "",
        APPROVE_NOTES,
    ]
    goals = (
        (f"{trainees:,} to written proposals <= 10 s", median("to_proposals"), 10),
        ("instance export <= 3 s", median("export"), 3),
        ("approve all <= 5 s", median("approve"), 5),
    )
    for text, value, goal in goals:
        verdict = "met" if value <= goal else "NOT met"
        lines.append(f"- **Goal ({text}): {verdict}** ({value:.2f} s at this load).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trainees", nargs="?", type=int, default=145_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--compare", type=Path, help="another checkout, measured alternately")
    parser.add_argument("--db", default="placement_bench_bulk", help="database name prefix")
    parser.add_argument("--write", action="store_true", help="rewrite this section of docs")
    parser.add_argument(
        "--who-acted", action="store_true",
        help="approve all only, with and without the who-acted foreign keys, alternately",
    )  # fmt: skip
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--measure-approve", help=argparse.SUPPRESS)
    parser.add_argument("--with-fks", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_approve:
        print(json.dumps(measure_approve(args.measure_approve, args.with_fks)))
        return 0
    if args.who_acted:
        return who_acted(args)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    template = make_template(args.trainees, args.seed, args.db)
    trees = {"this checkout": ROOT}
    if args.compare:
        trees = {"compared": args.compare.resolve(), **trees}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    loads = []
    for _ in range(args.repeat):
        for name, tree in trees.items():
            one = _in_tree(tree, template)
            loads.append(os.getloadavg()[0])
            print(name, json.dumps(one), f"load {loads[-1]:.1f}", file=sys.stderr, flush=True)
            results[name].append(one)
    _drop(template)
    text = document(results, args.trainees, args.repeat, loads)
    print(text)
    if args.write:
        write_section("bulk-benchmarks", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
