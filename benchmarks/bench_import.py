"""Time the all-or-nothing CSV import of trainees (with preferences) into a round.

    python -m benchmarks.bench_import --rows 20000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/placement_bench_import

The database is dropped and recreated (Postgres) or created fresh (SQLite), migrated, and
given a round with 500 slots; then a seeded CSV of ROWS trainees, each ranking up to five
slots by id, is imported through the same service the API and `placement import` use. The
bar (ISSUE 5) is under a minute for 20,000 rows on Postgres.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date

from sqlmodel import Session

from benchmarks.report import write_section
from placement import migrate
from placement.db import make_engine
from placement.models import Organisation, Round, Slot
from placement.services.imports import import_trainees

HEADER = (
    "name,email,level,provider,skills,postcode,latitude,longitude,max_travel_km,"
    "available_from,available_to,dbs_cleared,needs,preferences"
)


def make_csv(rows: int, slot_ids: list[int], seed: int = 7, dbs: bool = True) -> bytes:
    rng = random.Random(seed)
    lines = [HEADER]
    for i in range(rows):
        prefs = ";".join(str(s) for s in rng.sample(slot_ids, k=rng.randint(1, 5)))
        lines.append(
            f"Trainee {i},trainee{i}@bench.test,{rng.choice((4, 5))},College {i % 40},"
            f"pipetting;PCR,B{i % 99} 1AA,{52 + rng.random():.5f},{-2 + rng.random():.5f},"
            f"{rng.choice((10, 25, 40, 80))},2027-01-04,2027-07-02,"
            f"{rng.choice(('true', 'false')) if dbs else 'false'},,{prefs}"
        )
    return ("\ufeff" + "\n".join(lines) + "\n").encode()


def _fresh_database(url: str) -> None:
    if url.startswith("postgresql"):
        import psycopg

        base, name = url.rsplit("/", 1)
        admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/placement_bench_import",
    )
    parser.add_argument(
        "--write", action="store_true", help="rewrite this benchmark's section of docs"
    )
    args = parser.parse_args(argv)
    _fresh_database(args.database_url)
    engine = make_engine(args.database_url)
    with Session(engine, expire_on_commit=False) as session:
        rnd = Round(
            name="Bench",
            starts_on=date(2027, 1, 4),
            ends_on=date(2027, 7, 2),
            status="open",
            max_preferences=10,
        )
        org = Organisation(
            name="Bench Labs", kind="test_lab", latitude=52.4, longitude=-1.9, verified=True
        )
        session.add_all([rnd, org])
        session.flush()
        assert rnd.id is not None and org.id is not None
        slots = [
            Slot(
                round_id=rnd.id,
                organisation_id=org.id,
                title=f"Slot {i}",
                latitude=52.4,
                longitude=-1.9,
                starts_on=date(2027, 2, 1),
                ends_on=date(2027, 5, 28),
            )
            for i in range(500)
        ]
        session.add_all(slots)
        session.commit()
        slot_ids = [s.id for s in slots if s.id is not None]
        round_id = rnd.id
    data = make_csv(args.rows, slot_ids)
    with Session(engine, expire_on_commit=False) as session:
        started = time.perf_counter()
        result = import_trainees(
            session=session, actor=None, round_id=round_id, data=data, system=True
        )
        elapsed = time.perf_counter() - started
    engine.dispose()
    backend = args.database_url.split("+")[0].split(":")[0]
    print(
        f"imported {args.rows} trainees ({len(data) / 1e6:.1f} MB, {result.created} created) "
        f"in {elapsed:.1f} s on {backend}"
    )
    if args.write:
        verdict = "met" if elapsed < 60 else "NOT met"
        write_section(
            "import-benchmarks",
            "\n".join(
                [
                    "## Bulk CSV import",
                    "",
                    "Written by `python -m benchmarks.bench_import --write` (issue 5): one",
                    f"all-or-nothing import of {args.rows:,} trainee rows with ranked preferences",
                    f"({len(data) / 1e6:.1f} MB of CSV) into an open round on {backend}, through",
                    "the same service as `POST /rounds/{id}/import/trainees`, validation and",
                    "writing included.",
                    "",
                    "| rows | CSV MB | created | seconds |",
                    "|---:|---:|---:|---:|",
                    f"| {args.rows:,} | {len(data) / 1e6:.1f} | {result.created:,} "
                    f"| {elapsed:.1f} |",
                    "",
                    f"**Goal (20,000 rows in under a minute on Postgres): {verdict}.**",
                ]
            ),
        )
    return 0 if elapsed < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
