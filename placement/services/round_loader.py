"""Store a whole `placement-instance/1` document as a round, in bulk (COPY on Postgres).

For benchmarks and tests that need national-scale rounds in seconds: it writes rows
directly, with no authorisation, audit or validation beyond the database's constraints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from placement.models import (
    EmployerRanking,
    Exclusion,
    Organisation,
    Placement,
    PlacementStatus,
    Preference,
    Round,
    RoundStatus,
    RoundTrainee,
    Slot,
    Trainee,
)


@dataclass(frozen=True)
class LoadedRound:
    round_id: int
    trainee_ids: dict[str, int]  # instance id -> database id
    slot_ids: dict[str, int]

    def trainee_key(self) -> dict[int, str]:
        return {v: k for k, v in self.trainee_ids.items()}

    def slot_key(self) -> dict[int, str]:
        return {v: k for k, v in self.slot_ids.items()}


def _next_id(conn: Connection, table: sa.Table) -> int:
    return (
        int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()) + 1
    )


def _insert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """COPY on Postgres, executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
    raw = conn.connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])


def _bump_sequences(conn: Connection, tables: Iterable[sa.Table]) -> None:
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f'(SELECT COALESCE(MAX(id), 1) FROM "{table.name}"))'
            )
        )


def load_round(
    engine: Engine,
    instance: Mapping[str, Any],
    *,
    status: str = RoundStatus.CLOSED,
    name: str = "Generated round",
) -> LoadedRound:
    """Store a `placement-instance/1` document as a round, in one transaction.

    Trainees, slots (one host organisation per 50 slots), participants, preferences,
    employer rankings, exclusions and locked pairs as live placements (with `filled`).
    """
    now = datetime.now(UTC)
    t_table, s_table = Trainee.__table__, Slot.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        t0, s0 = _next_id(conn, t_table), _next_id(conn, s_table)
        org0 = _next_id(conn, Organisation.__table__)  # type: ignore[attr-defined]
        round_id = _next_id(conn, Round.__table__)  # type: ignore[attr-defined]
        tmap = {str(t["id"]): t0 + i for i, t in enumerate(instance["trainees"])}
        smap = {str(s["id"]): s0 + i for i, s in enumerate(instance["slots"])}
        dates = [date.fromisoformat(s["starts_on"]) for s in instance["slots"]]
        ends = [date.fromisoformat(s["ends_on"]) for s in instance["slots"]]
        _insert(
            conn,
            Round.__table__,  # type: ignore[attr-defined]
            [
                {
                    "id": round_id,
                    "name": name,
                    "region": "England",
                    "starts_on": min(dates, default=date(2027, 1, 4)),
                    "ends_on": max(ends, default=date(2027, 7, 2)),
                    "max_preferences": instance.get("max_preferences", 10),
                    "status": status,
                    "created_at": now,
                }
            ],
        )
        n_orgs = max(1, (len(instance["slots"]) + 49) // 50)
        _insert(
            conn,
            Organisation.__table__,  # type: ignore[attr-defined]
            [
                {
                    "id": org0 + i,
                    "name": f"Generated host {org0 + i}",
                    "kind": ("test_lab", "device_maker", "clinical_lab")[i % 3],
                    "accreditations": ["ISO 13485"],
                    "verified": True,
                    "created_at": now,
                }
                for i in range(n_orgs)
            ],
        )
        locked_per_slot: dict[str, int] = {}
        for pair in instance.get("locked", []):
            locked_per_slot[str(pair["slot_id"])] = locked_per_slot.get(str(pair["slot_id"]), 0) + 1
        _insert(
            conn,
            s_table,
            [
                {
                    "id": smap[str(s["id"])],
                    "round_id": round_id,
                    "organisation_id": org0 + i // 50,
                    "title": f"Placement {s['id']}",
                    "discipline": "diagnostics",
                    "description": "",
                    "required_skills": list(s.get("required_skills", [])),
                    "min_level": s["min_level"],
                    "capacity": s["capacity"],
                    "filled": locked_per_slot.get(str(s["id"]), 0),
                    "latitude": s["latitude"],
                    "longitude": s["longitude"],
                    "remote": s.get("remote", False),
                    "requires_dbs": s.get("requires_dbs", False),
                    "starts_on": date.fromisoformat(s["starts_on"]),
                    "ends_on": date.fromisoformat(s["ends_on"]),
                    "created_at": now,
                }
                for i, s in enumerate(instance["slots"])
            ],
        )
        _insert(
            conn,
            t_table,
            [
                {
                    "id": tmap[str(t["id"])],
                    "name": f"Trainee {t['id']}",
                    "email": None,
                    "level": t["level"],
                    "provider": "",
                    "skills": list(t.get("skills", [])),
                    "latitude": t["latitude"],
                    "longitude": t["longitude"],
                    "max_travel_km": t["max_travel_km"],
                    "available_from": date.fromisoformat(t["available_from"]),
                    "available_to": date.fromisoformat(t["available_to"]),
                    "dbs_cleared": t["dbs_cleared"],
                    # A cleared trainee's check counts from today (see services.vetting).
                    "dbs_checked_on": now.date() if t["dbs_cleared"] else None,
                    "needs": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for t in instance["trainees"]
            ],
        )
        _insert(
            conn,
            RoundTrainee.__table__,  # type: ignore[attr-defined]
            [{"round_id": round_id, "trainee_id": tid, "joined_at": now} for tid in tmap.values()],
        )
        _insert(
            conn,
            Preference.__table__,  # type: ignore[attr-defined]
            [
                {
                    "round_id": round_id,
                    "trainee_id": tmap[str(t["id"])],
                    "slot_id": smap[str(sid)],
                    "rank": rank,
                    "updated_at": now,
                }
                for t in instance["trainees"]
                for rank, sid in enumerate(t.get("preferences", []), start=1)
            ],
        )
        _insert(
            conn,
            EmployerRanking.__table__,  # type: ignore[attr-defined]
            [
                {"slot_id": smap[str(s["id"])], "trainee_id": tmap[str(tid)], "rank": rank}
                for s in instance["slots"]
                for rank, tid in enumerate(s.get("rankings", []), start=1)
            ],
        )
        _insert(
            conn,
            Exclusion.__table__,  # type: ignore[attr-defined]
            [
                {
                    "round_id": round_id,
                    "slot_id": smap[str(p["slot_id"])],
                    "trainee_id": tmap[str(p["trainee_id"])],
                    "reason": "",
                    "created_at": now,
                }
                for p in instance.get("excluded", [])
            ],
        )
        _insert(
            conn,
            Placement.__table__,  # type: ignore[attr-defined]
            [
                {
                    "round_id": round_id,
                    "trainee_id": tmap[str(p["trainee_id"])],
                    "slot_id": smap[str(p["slot_id"])],
                    "status": PlacementStatus.LIVE,
                    "created_at": now,
                }
                for p in instance.get("locked", [])
            ],
        )
        _bump_sequences(
            conn,
            [
                Round.__table__,  # type: ignore[attr-defined]
                Organisation.__table__,  # type: ignore[attr-defined]
                s_table,
                t_table,
            ],
        )
    return LoadedRound(round_id=round_id, trainee_ids=tmap, slot_ids=smap)
