"""`?async=true`: approve-all, imports and the instance export as background jobs, done by a
real Celery worker on the embedded broker, polled at `GET /jobs/{id}`; each job's result
is the body the synchronous route gives for the same work."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlmodel import Session

from placement import create_app
from placement.config import Settings
from placement.db import make_engine
from placement.services.accounts import issue_token
from tests import factories as f
from tests.conftest import Backend, service_env

API = "/api/v1"


def _decided_round(session: Session) -> dict[str, int]:
    """A closed round with a succeeded run proposing two trainees to two slots."""
    rnd = f.round_(session, status="closed")
    org = f.organisation(session)
    run = f.match_run(session, round=rnd, status="succeeded", phase="done", progress=100)
    for _ in range(2):
        slot = f.slot(session, round=rnd, organisation=org, capacity=1)
        trainee = f.trainee(session)
        f.preference(session, trainee=trainee, slot=slot, rank=1)
        f.proposal(session, run=run, trainee=trainee, slot=slot)
    return {"round": f.pk(rnd), "run": f.pk(run)}


def _world(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            coordinator = f.user(session, role="coordinator")
            other = f.user(session, role="coordinator")
            world: dict[str, Any] = {
                "token": issue_token(session=session, user=coordinator, commit=False),
                "other": issue_token(session=session, user=other, commit=False),
                "async": _decided_round(session),
                "sync": _decided_round(session),
                "import_async": f.pk(f.round_(session, status="open")),
                "import_sync": f.pk(f.round_(session, status="open")),
                "org": f.pk(f.organisation(session, name="Jobs Test Labs")),
            }
            session.commit()
            return world
    finally:
        engine.dispose()


def _trainees_csv(prefix: str, bad: bool = False) -> bytes:
    rows = ["name,email,level,provider"]
    for i in range(5):
        level = "eleven" if bad and i in (1, 3) else "4"
        rows.append(f"Trainee {i},{prefix}{i}@jobs.test,{level},College {i}")
    return ("\n".join(rows) + "\n").encode()


def _slots_csv(org_id: int) -> bytes:
    return (
        "organisation_id,title,starts_on,ends_on,capacity,latitude,longitude\n"
        f"{org_id},Lab A,2027-02-01,2027-05-28,2,52.4,-1.9\n"
        f"{org_id},Lab B,2027-02-01,2027-05-28,1,52.4,-1.9\n"
    ).encode()


def _upload(client: FlaskClient, path: str, data: bytes, h: dict[str, str]) -> Any:
    return client.post(
        path,
        data={"file": (io.BytesIO(data), "rows.csv")},
        headers=h,
        content_type="multipart/form-data",
    )


def _finished(client: FlaskClient, response: Any, h: dict[str, str]) -> dict[str, Any]:
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    location = response.headers["Location"]
    assert location.endswith(f"{API}/jobs/{job['id']}")
    assert job["status"] in ("queued", "running", "succeeded", "failed")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(location, headers=h).get_json()
        if job["status"] in ("succeeded", "failed"):
            return dict(job)
        assert 0 <= job["progress"] <= 1
        time.sleep(0.3)
    raise AssertionError(f"job not finished: {job}")


def test_async_routes_answer_with_jobs_done_by_a_real_worker(
    committed_backend: Backend, tmp_path: Path, worker_factory: Any
) -> None:
    world = _world(committed_backend.url)
    env = service_env(committed_backend.url, tmp_path / "instance")
    worker_factory(env, "--pool=solo")
    client = create_app(Settings.from_env(env)).test_client()
    h = {"Authorization": f"Bearer {world['token']}"}
    other = {"Authorization": f"Bearer {world['other']}"}

    # Approve-all: the job's result is the synchronous body for the same kind of run.
    job = _finished(
        client,
        client.post(f"{API}/runs/{world['async']['run']}/approve-all?async=true", headers=h),
        h,
    )
    sync = client.post(f"{API}/runs/{world['sync']['run']}/approve-all", headers=h)
    assert sync.status_code == 200
    assert job["status"] == "succeeded" and job["progress"] == 1
    assert job["kind"] == "approve_all" and job["code"] == 200
    assert job["result"] == sync.get_json() == {"approved": 2, "conflicts": 0, "refused": []}
    assert job["error"] is None
    # Only the caller sees the job.
    assert client.get(f"{API}/jobs/{job['id']}", headers=other).status_code == 404
    assert client.get(f"{API}/jobs/{job['id']}").status_code == 401
    assert client.get(f"{API}/jobs/999999", headers=h).status_code == 404

    # A trainee import.
    job = _finished(
        client,
        _upload(
            client,
            f"{API}/rounds/{world['import_async']}/import/trainees?async=true",
            _trainees_csv("a"),
            h,
        ),
        h,
    )
    sync = _upload(
        client, f"{API}/rounds/{world['import_sync']}/import/trainees", _trainees_csv("s"), h
    )
    assert sync.status_code == 201
    assert job["status"] == "succeeded" and job["code"] == 201, job
    assert job["result"] == sync.get_json() == {"created": 5, "updated": 0}

    # A failing import: the 422's body, row-numbered errors and all, is the job's result.
    bad = _trainees_csv("b", bad=True)
    job = _finished(
        client,
        _upload(client, f"{API}/rounds/{world['import_async']}/import/trainees?async=true", bad, h),
        h,
    )
    sync = _upload(client, f"{API}/rounds/{world['import_async']}/import/trainees", bad, h)
    assert sync.status_code == 422
    assert job["status"] == "failed" and job["code"] == 422
    assert job["result"] == sync.get_json()
    assert {e["row"] for e in job["result"]["errors"]} == {3, 5}
    assert job["error"] == sync.get_json()["message"]

    # A slot import.
    job = _finished(
        client,
        _upload(
            client,
            f"{API}/rounds/{world['import_async']}/import/slots?async=true",
            _slots_csv(world["org"]),
            h,
        ),
        h,
    )
    assert job["status"] == "succeeded"
    assert job["result"] == {"created": 2, "updated": 0}

    # The instance export: the file itself is the result.
    job = _finished(
        client,
        client.get(f"{API}/rounds/{world['import_async']}/instance?async=true", headers=h),
        h,
    )
    sync = client.get(f"{API}/rounds/{world['import_async']}/instance", headers=h)
    assert sync.status_code == 200
    assert job["status"] == "succeeded" and job["kind"] == "export_instance"
    assert job["result"] == sync.get_json()
    assert job["result"]["format"] == "placement-instance/1" and len(job["result"]["slots"]) == 2

    # What must exist is checked at once; a job of a missing round is never made.
    assert client.get(f"{API}/rounds/999999/instance?async=true", headers=h).status_code == 404
    assert client.post(f"{API}/runs/999999/approve-all?async=true", headers=h).status_code == 404
    assert (
        client.post(f"{API}/runs/{world['sync']['run']}/approve-all?async=true").status_code == 401
    )
