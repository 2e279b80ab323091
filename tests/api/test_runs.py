"""The run routes end to end: HTTP in, a real Celery worker on the embedded broker, HTTP out."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from placement import create_app, matching
from placement.config import Settings
from placement.db import make_engine
from placement.services.accounts import issue_token
from tests import factories as f
from tests.conftest import Backend, service_env

API = "/api/v1"


def _world(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            coordinator = f.user(session, role="coordinator")
            token = issue_token(session=session, user=coordinator, commit=False)
            rnd = f.round_(session, status="closed")
            org = f.organisation(session)
            s1 = f.slot(session, round=rnd, organisation=org, capacity=1)
            s2 = f.slot(session, round=rnd, organisation=org, capacity=1)
            trainees = [f.trainee(session) for _ in range(3)]
            for t in trainees:
                f.preference(session, trainee=t, slot=s1, rank=1)
                f.preference(session, trainee=t, slot=s2, rank=2)
            open_round = f.round_(session, status="open")
            session.commit()
            return {"token": token, "round": rnd.id, "open": open_round.id}
    finally:
        engine.dispose()


def test_run_routes_with_a_real_worker(
    committed_backend: Backend, tmp_path: Path, worker_factory: Any
) -> None:
    ids = _world(committed_backend.url)
    env = service_env(committed_backend.url, tmp_path / "instance")
    settings = Settings.from_env(env)
    worker_factory(env, "--pool=solo")
    client = create_app(settings).test_client()
    h = {"Authorization": f"Bearer {ids['token']}"}

    r = client.post(f"{API}/rounds/{ids['open']}/runs", json={}, headers=h)
    assert r.status_code == 409
    r = client.post(
        f"{API}/rounds/{ids['round']}/runs",
        json={"weights": {"preference": 1, "employer": 0}, "allow_unranked": False},
        headers=h,
    )
    assert r.status_code == 202, r.get_json()
    run = r.get_json()
    assert run["status"] == "queued"
    assert r.headers["Location"].endswith(f"/api/v1/runs/{run['id']}")
    assert (
        client.post(
            f"{API}/rounds/{ids['round']}/runs", json={"weights": {"speed": 1}}, headers=h
        ).status_code
        == 422
    )

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        run = client.get(r.headers["Location"], headers=h).get_json()
        if run["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.3)
    assert run["status"] == "succeeded", run
    assert run["progress"] == 100
    assert run["stats"]["placed"] == 2 and run["stats"]["unplaced"] == 1
    assert set(run) >= {
        "id",
        "round_id",
        "status",
        "progress",
        "phase",
        "created_at",
        "started_at",
        "finished_at",
        "weights",
        "allow_unranked",
        "stats",
        "error",
        "instance_sha256",
    }

    # The instance the run solved, byte for byte, named by its SHA-256.
    r = client.get(f"{API}/runs/{run['id']}/instance", headers=h)
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_data()
    assert r.headers["X-Instance-SHA256"] == hashlib.sha256(body).hexdigest()
    assert r.headers["X-Instance-SHA256"] == run["instance_sha256"]
    solved_instance = json.loads(body)
    assert solved_instance["format"] == "placement-instance/1"
    assert solved_instance["weights"] == run["weights"]
    offline = matching.solve(matching.load_instance(solved_instance))

    runs = client.get(f"{API}/rounds/{ids['round']}/runs", headers=h).get_json()
    assert runs["total"] >= 1 and runs["items"][0]["id"] == run["id"]
    proposals = client.get(f"{API}/runs/{run['id']}/proposals", headers=h).get_json()
    assert proposals["total"] == 2
    first = proposals["items"][0]
    assert set(first) >= {
        "id",
        "run_id",
        "trainee_id",
        "slot_id",
        "rank",
        "cost",
        "terms",
        "status",
    }
    assert set(first["terms"]) == {"preference", "employer", "skills", "distance"}
    assert {(p["trainee_id"], p["slot_id"], p["rank"]) for p in proposals["items"]} == {
        (int(a.trainee_id), int(a.slot_id), a.rank) for a in offline.assignments if not a.locked
    }
    unplaced = client.get(f"{API}/runs/{run['id']}/unplaced", headers=h).get_json()
    assert unplaced["total"] == 1
    assert unplaced["items"][0]["reason"] == "outcompeted"

    r = client.post(f"{API}/runs/{run['id']}/approve-all", headers=h)
    assert r.get_json()["approved"] == 2 and r.get_json()["conflicts"] == 0
    placed = client.get(f"{API}/rounds/{ids['round']}/placements", headers=h).get_json()
    assert placed["total"] == 2
    csv_response = client.get(f"{API}/rounds/{ids['round']}/placements.csv", headers=h)
    assert csv_response.mimetype == "text/csv"
    lines = csv_response.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("placement_id,trainee_id") and len(lines) == 3

    instance = client.get(f"{API}/rounds/{ids['round']}/instance", headers=h).get_json()
    assert instance["format"] == "placement-instance/1"
    assert len(instance["trainees"]) == 3
    assert len(instance["locked"]) == 2
    # The round has changed since (two approvals); the run's instance has not.
    again = client.get(f"{API}/runs/{run['id']}/instance", headers=h)
    assert again.get_data() == body and json.loads(body)["locked"] == []
    assert (
        client.get(f"{API}/runs/{run['id']}", headers=h).get_json()["instance_sha256"]
        == (run["instance_sha256"])
    )
