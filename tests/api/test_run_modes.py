"""Issue 12 through HTTP with a real Celery worker: both modes on one round, seat values,
explanations (coordinator), the trainee's own outcome after publish, and the preference
warnings."""

from __future__ import annotations

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


def _world(url: str) -> dict[str, Any]:
    """Three trainees want one seat at S1 (then S2, one seat); Dora ranks a DBS-only slot
    first without a DBS check; an employer user of the host; an open round for choices."""
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            coordinator = f.user(session, role="coordinator")
            rnd = f.round_(session, status="closed")
            org = f.organisation(session)
            s1 = f.slot(session, round=rnd, organisation=org, capacity=1, title="Assay lab")
            s2 = f.slot(session, round=rnd, organisation=org, capacity=1, title="Device bench")
            dbs = f.slot(
                session, round=rnd, organisation=org, capacity=1, requires_dbs=True,
                title="Ward lab",
            )  # fmt: skip
            people = []
            for name in ("Ann Able", "Bob Baker", "Cal Cole"):
                user = f.user(session, role="trainee", name=name)
                t = f.trainee(session, name=name, user_id=user.id)
                f.preference(session, trainee=t, slot=s1, rank=1)
                f.preference(session, trainee=t, slot=s2, rank=2)
                people.append((user, t))
            dora_user = f.user(session, role="trainee", name="Dora Dunn")
            dora = f.trainee(session, name="Dora Dunn", user_id=dora_user.id, dbs_cleared=False)
            f.preference(session, trainee=dora, slot=dbs, rank=1)
            f.preference(session, trainee=dora, slot=s1, rank=2)
            employer = f.user(session, role="employer", name="Eve Employer")
            org.owner_id = employer.id  # Eve hosts the round's slots
            open_round = f.round_(session, status="open")
            open_dbs = f.slot(
                session, round=open_round, organisation=org, requires_dbs=True, title="Night lab"
            )
            session.commit()
            tokens = {
                "coordinator": issue_token(session=session, user=coordinator, commit=False),
                "employer": issue_token(session=session, user=employer, commit=False),
                "dora": issue_token(session=session, user=dora_user, commit=False),
                **{u.name: issue_token(session=session, user=u, commit=False) for u, _ in people},
            }
            session.commit()
            return {
                "tokens": tokens,
                "round": rnd.id,
                "open": open_round.id,
                "open_dbs": open_dbs.id,
                "dbs": dbs.id,
                "s1": s1.id,
                "dora": dora.id,
                "names": [t.name for _, t in people] + ["Dora Dunn"],
                "trainees": {t.name: t.id for _, t in people},
            }
    finally:
        engine.dispose()


def _wait(client: FlaskClient, run_id: int, h: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        run = client.get(f"{API}/runs/{run_id}", headers=h).get_json()
        if run["status"] in ("succeeded", "failed"):
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish")


def test_both_modes_seat_values_explanations_and_outcome(
    committed_backend: Backend, tmp_path: Path, worker_factory: Any
) -> None:
    w = _world(committed_backend.url)
    env = service_env(committed_backend.url, tmp_path / "instance")
    worker_factory(env, "--pool=solo")
    client = create_app(Settings.from_env(env)).test_client()
    auth = {k: {"Authorization": f"Bearer {v}"} for k, v in w["tokens"].items()}
    coord = auth["coordinator"]

    bad = client.post(f"{API}/rounds/{w['round']}/runs", json={"mode": "fair"}, headers=coord)
    assert bad.status_code == 422 and "mode" in str(bad.get_json())
    assert client.post(f"{API}/rounds/{w['round']}/runs", json={"seed": -1},
                       headers=coord).status_code == 422  # fmt: skip
    started = {}
    for mode in ("optimal", "stable"):
        r = client.post(
            f"{API}/rounds/{w['round']}/runs",
            json={"mode": mode, "seed": 3, "name": f"{mode} run"},
            headers=coord,
        )
        assert r.status_code == 202, r.get_json()
        assert (r.get_json()["mode"], r.get_json()["seed"]) == (mode, 3)
        started[mode] = r.get_json()["id"]
    runs = {m: _wait(client, i, coord) for m, i in started.items()}
    assert all(r["status"] == "succeeded" for r in runs.values()), runs
    assert runs["stable"]["stats"]["blocking_pairs"] == 0
    assert runs["optimal"]["name"] == "optimal run"

    # Seat values: every slot, most placed first; 409 for the stable run; coordinators only.
    r = client.get(f"{API}/runs/{started['optimal']}/seat-values", headers=coord)
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert len(items) == 3 and set(items[0]) == {
        "slot_id", "placed_gain", "cost_change", "would_place_trainee_id", "moves"
    }  # fmt: skip
    # Who one more seat places: an unplaced trainee of the run, first in its chain of moves.
    left = client.get(f"{API}/runs/{started['optimal']}/unplaced", headers=coord).get_json()
    unplaced = {u["trainee_id"] for u in left["items"]}
    for item in items:
        if item["placed_gain"]:
            assert item["would_place_trainee_id"] in unplaced
            assert item["moves"][0] == {"trainee_id": item["would_place_trainee_id"],
                                        "from_slot_id": None,
                                        "to_slot_id": item["moves"][0]["to_slot_id"]}  # fmt: skip
            assert item["moves"][-1]["to_slot_id"] == item["slot_id"]
        else:
            assert item["would_place_trainee_id"] is None
    keys = [(-i["placed_gain"], i["cost_change"]) for i in items]
    assert keys == sorted(keys) and items[0]["placed_gain"] == 1
    assert (
        client.get(f"{API}/runs/{started['stable']}/seat-values", headers=coord).status_code == 409
    )
    assert client.get(f"{API}/runs/{started['optimal']}/seat-values",
                      headers=auth["employer"]).status_code == 403  # fmt: skip

    # Explanations in words; Dora's first choice needs a DBS check.
    r = client.get(f"{API}/runs/{started['optimal']}/explanations/{w['dora']}", headers=coord)
    assert r.status_code == 200, r.get_json()
    said = r.get_json()
    assert said["choices"][0]["outcome"] == "ineligible"
    assert said["choices"][0]["detail"] == (
        "This placement needs a DBS check, and they do not have one on record."
    )
    assert {c["outcome"] for c in said["choices"]} <= {"ineligible", "full", "costlier"}
    for who in ("employer", "dora"):
        r = client.get(
            f"{API}/runs/{started['optimal']}/explanations/{w['dora']}", headers=auth[who]
        )
        assert r.status_code == 403
    stable_said = {
        name: client.get(
            f"{API}/runs/{started['stable']}/explanations/{tid}", headers=coord
        ).get_json()
        for name, tid in w["trainees"].items()
    }
    outcomes = {c["outcome"] for s in stable_said.values() for c in s["choices"]}
    assert outcomes and outcomes <= {"lower_priority", "ineligible", "full"}

    # The outcome: 409 before publish, then the trainee's own, with no other name.
    assert client.get(f"{API}/rounds/{w['round']}/outcome", headers=auth["dora"]).status_code == 409
    assert client.get(f"{API}/rounds/{w['round']}/outcome", headers=coord).status_code == 403
    assert client.get(f"{API}/rounds/{w['round']}/outcome",
                      headers=auth["employer"]).status_code == 403  # fmt: skip
    r = client.post(f"{API}/runs/{started['optimal']}/approve-all", headers=coord)
    assert r.status_code == 200 and r.get_json()["approved"] >= 2
    assert client.post(f"{API}/rounds/{w['round']}/publish", headers=coord).status_code == 200
    # Employers see who is placed at their slots, never how the trainees ranked them.
    r = client.get(f"{API}/rounds/{w['round']}/placements", headers=auth["employer"])
    assert r.status_code == 200 and r.get_json()["items"], r.get_json()
    assert not any("rank" in key for item in r.get_json()["items"] for key in item)
    for name in (*w["trainees"], "dora"):
        r = client.get(f"{API}/rounds/{w['round']}/outcome", headers=auth[name])
        assert r.status_code == 200, (name, r.get_json())
        body = r.get_json()
        assert body["trainee_id"] == (w["dora"] if name == "dora" else w["trainees"][name])
        text = str(body)
        others = [n for n in w["names"] if n != ("Dora Dunn" if name == "dora" else name)]
        assert not any(n in text for n in others), text
        assert "run_id" not in body
        for c in body["choices"]:
            assert c["detail"] and "they" not in c["detail"].split()


def test_preference_warnings(committed_backend: Backend, tmp_path: Path) -> None:
    w = _world(committed_backend.url)
    env = service_env(committed_backend.url, tmp_path / "instance")
    client = create_app(Settings.from_env(env)).test_client()
    h = {"Authorization": f"Bearer {w['tokens']['dora']}"}
    r = client.put(
        f"{API}/rounds/{w['open']}/preferences", json={"slot_ids": [w["open_dbs"]]}, headers=h
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["warnings"] == [
        {
            "slot_id": w["open_dbs"],
            "message": "This placement needs a DBS check, and you do not have one on record.",
        }
    ]
    r = client.put(f"{API}/rounds/{w['open']}/preferences", json={"slot_ids": []}, headers=h)
    assert r.status_code == 200 and r.get_json()["warnings"] == []
