"""Approving, rejecting and withdrawing; the invariants under 200 concurrent approvals."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func
from sqlmodel import Session, select

from placement import create_app
from placement.config import Settings
from placement.db import make_engine
from placement.models import AuditEvent, Exclusion, MatchRun, Placement, Proposal, Slot
from placement.services.accounts import issue_token
from tests import factories as f
from tests.api.conftest import World
from tests.conftest import Backend

API = "/api/v1"


def _approve(client: FlaskClient, world: World, proposal_id: int) -> Any:
    return client.post(
        f"{API}/proposals/{proposal_id}/approve", headers=world.headers("coordinator")
    )


def test_approve_creates_placement_and_fills_a_seat(
    client: FlaskClient, world: World, session: Session
) -> None:
    r = _approve(client, world, world.ids["proposal_a"])
    assert r.status_code == 200, r.get_json()
    placement = r.get_json()
    assert placement["trainee_id"] == world.ids["trainee_a"]
    assert placement["slot_id"] == world.ids["closed_slot_x"]
    assert placement["status"] == "live"
    slot = session.get(Slot, world.ids["closed_slot_x"])
    session.refresh(slot)
    assert slot is not None and slot.filled == 1
    proposal = session.get(Proposal, world.ids["proposal_a"])
    session.refresh(proposal)
    assert proposal is not None and proposal.status == "approved"
    # Approving the same proposal again is a conflict.
    assert _approve(client, world, world.ids["proposal_a"]).status_code == 409
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "proposal.approve")).first()


def test_approve_conflicts_slot_full_and_already_placed(
    client: FlaskClient, world: World, session: Session
) -> None:
    other_run = MatchRun(
        round_id=world.ids["closed"], status="succeeded", phase="done", progress=100
    )
    session.add(other_run)
    session.flush()
    # closed_slot_y has one seat, and B holds it.
    a_at_full = Proposal(
        run_id=other_run.id,
        trainee_id=world.ids["trainee_a"],
        slot_id=world.ids["closed_slot_y"],
        rank=2,
        cost=4.0,
    )
    session.add(a_at_full)
    session.commit()
    # B already has a live placement: 409, and no seat is taken.
    r = _approve(client, world, world.ids["proposal_b"])
    assert r.status_code == 409
    assert "already" in r.get_json()["message"]
    r = _approve(client, world, _id(a_at_full))
    assert r.status_code == 409
    assert "seat" in r.get_json()["message"]
    slot_x = session.get(Slot, world.ids["closed_slot_x"])
    session.refresh(slot_x)
    assert slot_x is not None and slot_x.filled == 0


def _id(obj: Any) -> int:
    return int(obj.id)


def test_approval_supersedes_the_trainees_other_open_proposals(
    client: FlaskClient, world: World, session: Session
) -> None:
    second = MatchRun(round_id=world.ids["closed"], status="succeeded", phase="done")
    session.add(second)
    session.flush()
    elsewhere = Proposal(
        run_id=second.id,
        trainee_id=world.ids["trainee_a"],
        slot_id=world.ids["closed_slot_x"],
        rank=1,
        cost=1.0,
    )
    session.add(elsewhere)
    session.commit()
    assert _approve(client, world, world.ids["proposal_a"]).status_code == 200
    session.refresh(elsewhere)
    assert elsewhere.status == "superseded"


def test_reject_with_reason(client: FlaskClient, world: World, session: Session) -> None:
    url = f"{API}/proposals/{world.ids['proposal_a']}/reject"
    h = world.headers("coordinator")
    assert client.post(url, json={}, headers=h).status_code == 422
    assert client.post(url, json={"reason": ""}, headers=h).status_code == 422
    r = client.post(url, json={"reason": "Host cannot take level 4 this term"}, headers=h)
    assert r.status_code == 200
    assert r.get_json()["status"] == "rejected"
    assert r.get_json()["reason"] == "Host cannot take level 4 this term"
    assert client.post(url, json={"reason": "again"}, headers=h).status_code == 409
    assert _approve(client, world, world.ids["proposal_a"]).status_code == 409


def test_a_rejected_pair_is_excluded_from_later_runs(
    client: FlaskClient, world: World, session: Session
) -> None:
    proposal = session.get(Proposal, world.ids["proposal_a"])
    assert proposal is not None
    url = f"{API}/proposals/{proposal.id}/reject"
    r = client.post(url, json={"reason": "Not suitable"}, headers=world.headers("coordinator"))
    assert r.status_code == 200
    exclusion = session.exec(
        select(Exclusion).where(
            Exclusion.trainee_id == proposal.trainee_id, Exclusion.slot_id == proposal.slot_id
        )
    ).one()
    assert exclusion.reason == "Not suitable"
    run = session.get(MatchRun, proposal.run_id)
    assert run is not None
    instance = client.get(
        f"{API}/rounds/{run.round_id}/instance", headers=world.headers("coordinator")
    ).get_json()
    assert {"trainee_id": str(proposal.trainee_id), "slot_id": str(proposal.slot_id)} in (
        instance["excluded"]
    )


def test_approve_all(client: FlaskClient, world: World, session: Session) -> None:
    r = client.post(
        f"{API}/runs/{world.ids['run']}/approve-all", headers=world.headers("coordinator")
    )
    assert r.status_code == 200
    body = r.get_json()
    # A fits at closed_slot_x; B already holds a live placement elsewhere.
    assert body["approved"] == 1
    assert body["conflicts"] == 1
    assert body["refused"][0]["trainee_id"] == world.ids["trainee_b"]
    r = client.get(
        f"{API}/runs/{world.ids['run']}/proposals?status=approved",
        headers=world.headers("coordinator"),
    )
    assert [p["trainee_id"] for p in r.get_json()["items"]] == [world.ids["trainee_a"]]


def test_withdraw_frees_the_seat(client: FlaskClient, world: World, session: Session) -> None:
    h = world.headers("coordinator")
    url = f"{API}/placements/{world.ids['placement']}"
    r = client.delete(url, headers=h)
    assert r.status_code == 200
    assert r.get_json()["status"] == "withdrawn"
    slot = session.get(Slot, world.ids["closed_slot_y"])
    session.refresh(slot)
    assert slot is not None and slot.filled == 0
    assert client.delete(url, headers=h).status_code == 409
    # B is free to be placed again.
    assert _approve(client, world, world.ids["proposal_b"]).status_code == 200


def test_decisions_need_a_closed_or_published_round(
    client: FlaskClient, world: World, session: Session
) -> None:
    from placement.models import Round

    rnd = session.get(Round, world.ids["closed"])
    assert rnd is not None
    rnd.status = "open"
    session.commit()
    assert _approve(client, world, world.ids["proposal_a"]).status_code == 409


def test_concurrent_approvals_never_overfill(committed_backend: Backend, tmp_path: Any) -> None:
    """200 coordinators approve 200 different trainees' proposals for one 3-seat slot at
    once, each request in its own thread, transaction and connection: Postgres row locks,
    and SQLite's write lock taken at BEGIN IMMEDIATE."""
    engine = make_engine(committed_backend.url, pool_size=40, max_overflow=0, pool_timeout=120)
    try:
        with Session(engine, expire_on_commit=False) as session:
            coordinator = f.user(session, role="coordinator")
            token = issue_token(session=session, user=coordinator, commit=False)
            rnd = f.round_(session, status="closed")
            org = f.organisation(session)
            slot = f.slot(session, round=rnd, organisation=org, capacity=3)
            run = MatchRun(round_id=rnd.id, status="succeeded", phase="done", progress=100)
            session.add(run)
            session.flush()
            proposals = []
            for _ in range(200):
                t = f.trainee(session)
                proposals.append(
                    Proposal(run_id=run.id, trainee_id=t.id, slot_id=slot.id, rank=1, cost=1.0)
                )
            session.add_all(proposals)
            session.commit()
            ids = [_id(p) for p in proposals]
            slot_id = _id(slot)
        settings = Settings.from_env(
            {
                "DATABASE_URL": committed_backend.url,
                "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
                "SECRET_KEY": "test-secret-key",
            }
        )
        app = create_app(settings, bind=engine)
        barrier = threading.Barrier(len(ids))
        statuses: list[int] = []
        lock = threading.Lock()

        def approve(proposal_id: int) -> None:
            client = app.test_client()
            barrier.wait()
            response = client.post(
                f"{API}/proposals/{proposal_id}/approve",
                headers={"Authorization": f"Bearer {token}"},
            )
            with lock:
                statuses.append(response.status_code)

        threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        counts = Counter(statuses)
        assert counts == {200: 3, 409: 197}, counts
        with Session(engine) as session:
            filled = session.exec(select(Slot.filled).where(Slot.id == slot_id)).one()
            live = session.exec(
                select(func.count())
                .select_from(Placement)
                .where(Placement.slot_id == slot_id, Placement.status == "live")
            ).one()
        assert filled == 3
        assert live == 3
    finally:
        engine.dispose()


def test_approve_all_decides_each_proposal_as_one_by_one_would(
    client: FlaskClient, world: World, session: Session
) -> None:
    rnd = f.round_(session, status="closed")
    org = f.organisation(session)
    roomy = f.slot(session, round=rnd, organisation=org, capacity=2)
    full = f.slot(session, round=rnd, organisation=org, capacity=1, filled=1)
    elsewhere = f.slot(session, round=rnd, organisation=org, capacity=1, filled=1)
    t1, t2, t3, t4, t5, holder = (f.trainee(session) for _ in range(6))
    session.add(Placement(round_id=_id(rnd), trainee_id=_id(holder), slot_id=_id(full)))
    session.add(Placement(round_id=_id(rnd), trainee_id=_id(t5), slot_id=_id(elsewhere)))
    run, earlier = (
        MatchRun(round_id=_id(rnd), status="succeeded", phase="done", progress=100)
        for _ in range(2)
    )
    session.add_all([run, earlier])
    session.flush()
    wanted = [
        (t3, roomy, 3.0),
        (t1, roomy, 1.0),
        (t2, roomy, 2.0),
        (t4, full, 1.5),
        (t5, roomy, 0.5),
    ]
    proposals = {
        _id(t): Proposal(run_id=_id(run), trainee_id=_id(t), slot_id=_id(s), rank=1, cost=c)
        for t, s, c in wanted
    }
    moot = Proposal(run_id=_id(earlier), trainee_id=_id(t1), slot_id=_id(full), rank=2, cost=4.0)
    session.add_all([*proposals.values(), moot])
    session.commit()

    r = client.post(f"{API}/runs/{_id(run)}/approve-all", headers=world.headers("coordinator"))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    # Cheapest first: t5 is placed already, t1 and t2 take roomy's two seats, t3 finds it
    # full, and t4's slot was full before the run.
    assert (body["approved"], body["conflicts"]) == (2, 3)
    refused = {item["trainee_id"]: item["reason"] for item in body["refused"]}
    assert set(refused) == {_id(t3), _id(t4), _id(t5)}
    assert "already" in refused[_id(t5)]
    assert "seat" in refused[_id(t3)] and "seat" in refused[_id(t4)]

    session.expire_all()
    assert {_id(s): s.filled for s in (roomy, full, elsewhere)} == {
        _id(roomy): 2,
        _id(full): 1,
        _id(elsewhere): 1,
    }
    status = {tid: p.status for tid, p in proposals.items()}
    assert status == {
        _id(t1): "approved",
        _id(t2): "approved",
        _id(t3): "proposed",
        _id(t4): "proposed",
        _id(t5): "proposed",
    }
    assert proposals[_id(t1)].decided_by == world.users["coordinator"].id
    assert moot.status == "superseded"
    placements = session.exec(
        select(Placement).where(Placement.round_id == rnd.id, Placement.status == "live")
    ).all()
    by_trainee = {p.trainee_id: p for p in placements}
    assert by_trainee[_id(t1)].proposal_id == _id(proposals[_id(t1)])
    assert by_trainee[_id(t2)].slot_id == _id(roomy)
    events = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == "proposal.approve",
            AuditEvent.object_id.in_([str(_id(proposals[_id(t)])) for t in (t1, t2)]),  # type: ignore[attr-defined]
        )
    ).all()
    assert sorted(e.detail["placement_id"] for e in events) == sorted(
        _id(by_trainee[_id(t)]) for t in (t1, t2)
    )

    # Again: nothing left that fits, nothing changes.
    r = client.post(f"{API}/runs/{_id(run)}/approve-all", headers=world.headers("coordinator"))
    assert (r.get_json()["approved"], r.get_json()["conflicts"]) == (0, 3)
