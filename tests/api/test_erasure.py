"""Erasure that erases: no copy of the erased trainee's name, email or postcode is left in
any text or JSON column of any table, nor their entry in any stored run instance, also when
a run stores its instance while the erasure is under way (two real connections)."""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, SQLModel, col, select

from placement.config import Settings
from placement.db import for_writing, make_engine
from placement.models import AuditEvent, MatchRun, Placement, Proposal, Trainee, User
from placement.services.instances import build
from placement.services.privacy import erase_trainee
from placement.services.runs.claims import claim_run
from placement.services.runs.execution import store_attempt_instance
from placement.services.runs.stored import (
    canonical_instance,
    pack_instance,
    stored_instance,
    unpack_instance,
    without_trainees,
)
from tests import factories as f
from tests.api.conftest import World
from tests.conftest import Backend

API = "/api/v1"
NAME = "Zoë Quintrell-Abara"
EMAIL = "zoe.quintrell@learners.test"
POSTCODE = "ZE2 9XJ"


def leftovers(bind: Connection | Engine | Session, terms: list[str]) -> list[str]:
    """Every place in the database where one of `terms` still appears: every text and JSON
    column of every table, and every stored run instance, decompressed."""
    patterns = [re.compile(re.escape(t), re.IGNORECASE) for t in terms]
    squeezed = [re.sub(r"\s+", "", t).lower() for t in terms]
    found: list[str] = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            kind = getattr(column.type, "impl_instance", column.type)  # SQLModel's AutoString
            if not isinstance(kind, sa.String | sa.JSON | sa.LargeBinary):
                continue
            values = bind.execute(sa.select(column).where(column.is_not(None))).scalars().all()
            for value in values:
                if isinstance(kind, sa.LargeBinary):
                    text = gzip.decompress(value).decode()
                elif isinstance(kind, sa.JSON):
                    text = json.dumps(value, ensure_ascii=False)
                else:
                    text = str(value)
                compact = re.sub(r"\s+", "", text).lower()
                if any(p.search(text) for p in patterns) or any(s in compact for s in squeezed):
                    found.append(f"{table.name}.{column.name}: {text[:120]}")
    return found


def _with_mentions(client: FlaskClient, world: World, session: Session) -> int:
    """Trainee B renamed as Zoë, with a postcode, mentioned in reasons, audit values and a
    stored run instance; their id."""
    tid = world.ids["trainee_b"]
    coordinator = world.headers("coordinator")
    user = session.get(User, world.users["trainee_b"].id)
    assert user is not None
    user.name, user.email = NAME, EMAIL.upper()
    session.commit()
    r = client.patch(
        f"{API}/trainees/{tid}",
        json={"name": NAME, "postcode": POSTCODE, "latitude": 52.5, "longitude": -1.9},
        headers=coordinator,
    )
    assert r.status_code == 200, r.get_json()
    r = client.put(
        f"{API}/trainees/me",
        json={"provider": "Sandwell College", "needs": f"Ring {EMAIL} first"},
        headers=world.headers("trainee_b"),
    )
    assert r.status_code == 200, r.get_json()
    # The run of the closed round stores the instance it solved, with B in it.
    run = session.get(MatchRun, world.ids["run"])
    assert run is not None
    packed, sha = pack_instance(build(session=session, round_id=run.round_id).data)
    run.instance_gz, run.instance_sha256 = packed, sha
    session.commit()
    assert str(tid) in {
        t["id"] for t in unpack_instance(run.id or 0, packed, sha).data()["trainees"]
    }
    reason = f"{NAME.upper()} lives at {POSTCODE.replace(' ', '').lower()}, too far"
    r = client.post(
        f"{API}/proposals/{world.ids['proposal_b']}/reject",
        json={"reason": reason},
        headers=coordinator,
    )
    assert r.status_code == 200, r.get_json()
    # Someone else's record that mentions them in passing.
    r = client.post(
        f"{API}/proposals/{world.ids['proposal_a']}/reject",
        json={"reason": f"Ava and zoë  quintrell-abara asked for the same slot; ask {EMAIL}"},
        headers=coordinator,
    )
    assert r.status_code == 200, r.get_json()
    r = client.post(f"{API}/auth/login", json={"email": EMAIL, "password": "wrong-password-1"})
    assert r.status_code == 401
    return tid


def test_erasure_leaves_no_copy_anywhere(
    client: FlaskClient, world: World, session: Session
) -> None:
    tid = _with_mentions(client, world, session)
    before = leftovers(session, [NAME, EMAIL, POSTCODE])
    tables = {place.split(".")[0] for place in before}
    assert {"trainees", "users", "proposals", "exclusions", "audit_events"} <= tables, before

    r = client.delete(f"{API}/trainees/{tid}", headers=world.headers("coordinator"))
    assert r.status_code == 204
    session.expire_all()
    assert leftovers(session, [NAME, EMAIL, POSTCODE]) == []
    # The stored instance no longer lists them, and its hash is that of what is stored.
    instance = stored_instance(session=session, run_id=world.ids["run"])
    assert str(tid) not in {t["id"] for t in instance.data()["trainees"]}
    assert all(str(tid) not in s["rankings"] for s in instance.data()["slots"])
    run = session.get(MatchRun, world.ids["run"])
    assert run is not None and run.instance_sha256 == instance.sha256
    # Who did what stays: the profile's audit events keep field names, not values.
    updates = session.exec(
        select(AuditEvent).where(
            AuditEvent.trainee_id == tid, AuditEvent.action == "trainee.update"
        )
    ).all()
    assert updates and all(
        "postcode" not in e.detail["changes"]
        or e.detail["changes"]["postcode"]["after"] == "[erased]"
        for e in updates
    )
    erase = session.exec(select(AuditEvent).where(AuditEvent.action == "trainee.erase")).one()
    assert str(world.ids["run"]) in erase.detail["runs_rewritten"]
    assert erase.detail["rows_scrubbed"] >= 3
    # Others' data is untouched.
    other = session.get(Trainee, world.ids["trainee_a"])
    assert other is not None and other.name == "Ava Trainee"


def test_an_erased_account_is_nowhere_recorded_as_who_acted(
    client: FlaskClient, world: World, session: Session
) -> None:
    """The "who acted" columns have no foreign key (approve all would check the same
    user's row hundreds of thousands of times); erasure nulls them itself, as ON DELETE SET
    NULL did, and the audit events keep what was done."""
    tid = world.ids["trainee_b"]
    uid = world.users["trainee_b"].id
    r = client.put(
        f"{API}/trainees/me",
        json={"provider": "Dudley College"},
        headers=world.headers("trainee_b"),
    )
    assert r.status_code == 200, r.get_json()
    acted = session.exec(select(AuditEvent.id).where(AuditEvent.actor_id == uid)).all()
    assert acted
    # No path lets a trainee decide or approve; set them to hold the deletion to what a
    # SET NULL foreign key did to every such column.
    proposal = session.get(Proposal, world.ids["proposal_a"])
    placement = session.get(Placement, world.ids["placement"])
    assert proposal is not None and placement is not None
    proposal.decided_by, placement.approved_by = uid, uid
    session.commit()

    r = client.delete(f"{API}/trainees/{tid}", headers=world.headers("coordinator"))
    assert r.status_code == 204
    session.expire_all()
    assert session.get(User, uid) is None
    for table, column in (
        ("audit_events", "actor_id"),
        ("proposals", "decided_by"),
        ("placements", "approved_by"),
    ):
        n = session.execute(
            sa.text(f"SELECT count(*) FROM {table} WHERE {column} = :u"), {"u": uid}
        )
        assert n.scalar_one() == 0, (table, column)
    # Their events stay, with no actor and no address.
    kept = session.exec(select(AuditEvent).where(col(AuditEvent.id).in_(acted))).all()
    assert len(kept) == len(acted)
    assert all(e.actor_id is None and e.ip is None for e in kept)
    # Others' decisions keep who made them.
    coordinator = world.users["coordinator"].id
    assert session.exec(select(AuditEvent.id).where(AuditEvent.actor_id == coordinator)).first()


def test_without_trainees_keeps_a_held_seat_taken() -> None:
    data = {
        "trainees": [{"id": "1", "preferences": ["10", "11"]}, {"id": "2", "preferences": ["11"]}],
        "slots": [
            {"id": "10", "capacity": 1, "rankings": ["1", "2"]},
            {"id": "11", "capacity": 2, "rankings": ["2"]},
        ],
        "locked": [{"trainee_id": "2", "slot_id": "10"}],
        "excluded": [{"trainee_id": "2", "slot_id": "11"}, {"trainee_id": "1", "slot_id": "11"}],
    }
    out = without_trainees(data, {"2"})
    assert [t["id"] for t in out["trainees"]] == ["1"]
    # Slot 10's one seat was B's: it leaves the instance, and A's list moves up.
    assert [s["id"] for s in out["slots"]] == ["11"]
    assert out["trainees"][0]["preferences"] == ["11"]
    assert out["slots"][0]["rankings"] == []
    assert out["locked"] == [] and out["excluded"] == [{"trainee_id": "1", "slot_id": "11"}]


def _round_with_run(engine: Engine) -> tuple[int, int, int, User]:
    with Session(engine, expire_on_commit=False) as session:
        coordinator = f.user(session, role="coordinator")
        rnd = f.round_(session, status="closed")
        org = f.organisation(session)
        slot = f.slot(session, round=rnd, organisation=org)
        erased = f.trainee(session, name=NAME, email=EMAIL, postcode=POSTCODE)
        kept = f.trainee(session)
        f.preference(session, trainee=erased, slot=slot, rank=1)
        f.preference(session, trainee=kept, slot=slot, rank=1)
        run = f.match_run(session, round=rnd, status="queued")
        session.commit()
        return f.pk(run), f.pk(erased), f.pk(kept), coordinator


def test_a_run_storing_during_erasure_leaves_the_trainee_out(
    committed_backend: Backend, settings: Settings
) -> None:
    """The run loaded the round before the erasure; it stores its instance while the
    erasure's transaction is open (about to commit). Storing waits for the erasure, then
    leaves the trainee out of what it stores and solves."""
    engine = make_engine(committed_backend.url)
    try:
        run_id, erased_id, kept_id, coordinator = _round_with_run(engine)
        claim = claim_run(engine, settings, run_id)
        assert claim is not None
        with Session(engine) as session:
            data = build(session=session, round_id=claim.round_id).data
        assert {t["id"] for t in data["trainees"]} == {str(erased_id), str(kept_id)}
        content = canonical_instance(data)

        at_commit, release = threading.Event(), threading.Event()
        stored: dict[str, Any] = {}
        errors: list[BaseException] = []

        def erase() -> None:
            try:
                with Session(for_writing(engine), expire_on_commit=False) as session:

                    def hold(_: Session) -> None:
                        at_commit.set()
                        assert release.wait(30)

                    event.listen(session, "before_commit", hold, once=True)
                    actor = session.get(User, coordinator.id)
                    assert actor is not None
                    erase_trainee(session=session, actor=actor, trainee_id=erased_id)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        def store() -> None:
            try:
                stored["data"] = json.loads(store_attempt_instance(engine, claim, content))
            except BaseException as exc:
                errors.append(exc)

        eraser = threading.Thread(target=erase)
        eraser.start()
        assert at_commit.wait(30), errors
        storer = threading.Thread(target=store)
        storer.start()
        time.sleep(1.0)
        assert storer.is_alive(), "storing did not wait for the erasure"
        release.set()
        eraser.join(30)
        storer.join(30)
        assert not errors, errors
        assert {t["id"] for t in stored["data"]["trainees"]} == {str(kept_id)}
        with Session(engine) as session:
            instance = stored_instance(session=session, run_id=run_id)
            assert {t["id"] for t in instance.data()["trainees"]} == {str(kept_id)}
            assert leftovers(session, [NAME, EMAIL, POSTCODE]) == []
    finally:
        engine.dispose()


def test_an_instance_stored_before_erasure_is_rewritten(
    committed_backend: Backend, settings: Settings
) -> None:
    engine = make_engine(committed_backend.url)
    try:
        run_id, erased_id, kept_id, coordinator = _round_with_run(engine)
        claim = claim_run(engine, settings, run_id)
        assert claim is not None
        with Session(engine) as session:
            data = build(session=session, round_id=claim.round_id).data
        store_attempt_instance(engine, claim, canonical_instance(data))
        with Session(for_writing(engine)) as session:
            actor = session.get(User, coordinator.id)
            assert actor is not None
            erase_trainee(session=session, actor=actor, trainee_id=erased_id)
        with Session(engine) as session:
            instance = stored_instance(session=session, run_id=run_id)
            assert {t["id"] for t in instance.data()["trainees"]} == {str(kept_id)}
            run = session.get(MatchRun, run_id)
            assert run is not None and run.instance_sha256 == instance.sha256
            assert leftovers(session, [NAME, EMAIL, POSTCODE]) == []
            assert session.get(Trainee, erased_id).erased_at > claim_time(run)  # type: ignore[union-attr]
    finally:
        engine.dispose()


def claim_time(run: MatchRun) -> Any:
    assert run.started_at is not None
    return run.started_at - timedelta(seconds=1)


def test_a_run_solved_before_erasure_writes_nothing_for_the_trainee(
    committed_backend: Backend, settings: Settings
) -> None:
    from placement.matching import load_instance, solve
    from placement.models import Proposal, UnplacedTrainee
    from placement.services.runs import execution

    engine = make_engine(committed_backend.url)
    try:
        run_id, erased_id, kept_id, coordinator = _round_with_run(engine)
        claim = claim_run(engine, settings, run_id)
        assert claim is not None
        with Session(engine) as session:
            data = build(session=session, round_id=claim.round_id).data
        result = solve(load_instance(data))
        assert {int(a.trainee_id) for a in result.assignments} | {
            int(u.trainee_id) for u in result.unplaced
        } == {erased_id, kept_id}
        with Session(for_writing(engine)) as session:
            actor = session.get(User, coordinator.id)
            assert actor is not None
            erase_trainee(session=session, actor=actor, trainee_id=erased_id)
        execution._write(engine, claim, result, {})
        with Session(engine) as session:
            written = {p.trainee_id for p in session.exec(select(Proposal)).all()} | {
                u.trainee_id for u in session.exec(select(UnplacedTrainee)).all()
            }
            assert written == {kept_id}
            run = session.get(MatchRun, run_id)
            assert run is not None and run.status == "succeeded"
    finally:
        engine.dispose()
