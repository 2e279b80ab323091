"""Offers under real concurrency: requests in threads, each with its own connection and
transaction, against a committed database (Postgres row locks; SQLite's write lock).

Every case must end consistent: each slot's `filled` equals its live placements and stays
within capacity, and no trainee holds two live offers in a round."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from placement import create_app
from placement.config import Settings
from placement.db import for_writing, make_engine
from placement.models import Placement, Proposal, Slot, User, utcnow
from placement.services import offers
from placement.services.accounts import issue_token
from tests import factories as f
from tests.conftest import Backend

API = "/api/v1"


@dataclass
class Arena:
    engine: Engine
    app: Flask


@pytest.fixture
def arena(committed_backend: Backend, tmp_path: Path) -> Iterator[Arena]:
    engine = make_engine(committed_backend.url, pool_size=30, max_overflow=0, pool_timeout=120)
    settings = Settings.from_env(
        {
            "DATABASE_URL": committed_backend.url,
            "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
        }
    )
    try:
        yield Arena(engine, create_app(settings, bind=engine))
    finally:
        engine.dispose()


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once, each in its own thread; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # reported by the assertions below, never swallowed
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results


def _post(app: Flask, token: str, path: str, **kw: Any) -> Callable[[], int]:
    def call() -> int:
        response = app.test_client().post(
            API + path, headers={"Authorization": f"Bearer {token}"}, **kw
        )
        assert response.status_code < 500, response.get_json()
        return response.status_code

    return call


def _assert_consistent(engine: Engine, round_id: int) -> None:
    with Session(engine) as session:
        live = dict(
            session.exec(
                select(Placement.slot_id, func.count())
                .where(Placement.round_id == round_id, Placement.status == "live")
                .group_by(col(Placement.slot_id))
            ).all()
        )
        for slot in session.exec(select(Slot).where(Slot.round_id == round_id)).all():
            assert slot.filled == live.get(slot.id, 0), (slot.id, slot.filled, live)
            assert slot.filled <= slot.capacity
        per_trainee = Counter(
            session.exec(
                select(Placement.trainee_id).where(
                    Placement.round_id == round_id, Placement.status == "live"
                )
            ).all()
        )
        assert all(n == 1 for n in per_trainee.values()), per_trainee


def _trainee_with_offer(
    session: Session, *, slot: Slot, expires_in: timedelta
) -> tuple[User, Placement]:
    user = f.user(session, role="trainee")
    trainee = f.trainee(session, user_id=user.id, email=user.email)
    now = utcnow()
    placement = Placement(
        round_id=slot.round_id,
        trainee_id=f.pk(trainee),
        slot_id=f.pk(slot),
        offer_status="offered",
        offered_at=now,
        offer_expires_at=now + expires_in,
    )
    session.add(placement)
    slot.filled += 1
    session.flush()
    return user, placement


def test_accept_racing_expiry(arena: Arena) -> None:
    """Offers reach their deadline while their trainees press accept: each ends accepted
    (200, seat kept) or expired (409, seat freed), never both, whatever the order."""
    with Session(arena.engine, expire_on_commit=False) as session:
        rnd = f.round_(session, status="published")
        host = f.organisation(session)
        slot = f.slot(session, round=rnd, organisation=host, capacity=12)
        held = [
            _trainee_with_offer(session, slot=slot, expires_in=timedelta(seconds=2))
            for _ in range(12)
        ]
        tokens = [issue_token(session=session, user=u, commit=False) for u, _ in held]
        session.commit()
        deadline = held[0][1].offer_expires_at
        assert deadline is not None
        round_id = f.pk(rnd)

    def expire_until_done() -> int:
        expired = 0
        stop = time.monotonic() + 6
        while time.monotonic() < stop:
            # As the beat job does: on SQLite, a unit of work that writes queues for the lock.
            with Session(for_writing(arena.engine)) as session:
                expired += offers.expire_offers(session=session)
            time.sleep(0.05)
        return expired

    def accept_late(token: str, placement_id: int, delay: float) -> Callable[[], int]:
        def call() -> int:
            time.sleep(delay)
            return _post(arena.app, token, f"/placements/{placement_id}/accept")()

        return call

    # Accepts spread around the deadline (about 2 s from now).
    calls = [
        accept_late(token, f.pk(p), 1.4 + 0.1 * i)
        for i, (token, (_, p)) in enumerate(zip(tokens, held, strict=True))
    ]
    *statuses, expired = _together(*calls, expire_until_done)
    assert all(isinstance(s, int) for s in statuses), statuses
    assert isinstance(expired, int), expired
    with Session(arena.engine) as session:
        final = {
            p.id: p.offer_status
            for p in session.exec(select(Placement).where(Placement.round_id == round_id))
        }
    for status, (_, placement) in zip(statuses, held, strict=True):
        assert final[placement.id] == ("accepted" if status == 200 else "expired"), status
    assert expired == Counter(final.values())["expired"]
    assert set(final.values()) <= {"accepted", "expired"}
    _assert_consistent(arena.engine, round_id)


def test_decline_racing_a_clearing_approval_for_the_same_seat(arena: Arena) -> None:
    """Full one-seat slots: the holder declines while a coordinator approves a clearing
    proposal for someone else there. Either the decline came first (the approval takes the
    freed seat) or the approval did (409, seat full, and the decline then frees it)."""
    with Session(arena.engine, expire_on_commit=False) as session:
        coordinator = f.user(session, role="coordinator")
        rnd = f.round_(session, status="published")
        host = f.organisation(session)
        run = f.match_run(session, round=rnd, status="succeeded", phase="done", clearing=True)
        cases = []
        for _ in range(8):
            slot = f.slot(session, round=rnd, organisation=host, capacity=1)
            user, placement = _trainee_with_offer(session, slot=slot, expires_in=timedelta(days=7))
            waiting = f.trainee(session)
            proposal = f.proposal(session, run=run, trainee=waiting, slot=slot)
            token = issue_token(session=session, user=user, commit=False)
            cases.append((f.pk(slot), token, f.pk(placement), f.pk(proposal)))
        boss = issue_token(session=session, user=coordinator, commit=False)
        session.commit()
        round_id = f.pk(rnd)

    calls: list[Callable[[], int]] = []
    for _, token, placement_id, proposal_id in cases:
        calls.append(_post(arena.app, token, f"/placements/{placement_id}/decline", json={}))
        calls.append(_post(arena.app, boss, f"/proposals/{proposal_id}/approve"))
    statuses = _together(*calls)
    assert all(isinstance(s, int) for s in statuses), statuses
    declines, approvals = statuses[0::2], statuses[1::2]
    assert set(declines) == {200}, declines
    assert set(approvals) <= {200, 409}, approvals
    with Session(arena.engine) as session:
        for (slot_id, _, _, proposal_id), approved in zip(cases, approvals, strict=True):
            slot = session.get(Slot, slot_id)
            proposal = session.get(Proposal, proposal_id)
            assert slot is not None and proposal is not None
            assert slot.filled == (1 if approved == 200 else 0)
            assert proposal.status == ("approved" if approved == 200 else "proposed")
    _assert_consistent(arena.engine, round_id)


def test_two_coordinators_approve_clearing_proposals_for_the_last_seat(arena: Arena) -> None:
    """Two clearing runs propose different trainees for the one free seat, and one trainee
    for two seats; coordinators approve all four at once. One seat, one offer each."""
    with Session(arena.engine, expire_on_commit=False) as session:
        coordinators = [f.user(session, role="coordinator") for _ in range(4)]
        rnd = f.round_(session, status="published")
        host = f.organisation(session)
        last = f.slot(session, round=rnd, organisation=host, capacity=3)
        for _ in range(2):
            _trainee_with_offer(session, slot=last, expires_in=timedelta(days=7))
        other = f.slot(session, round=rnd, organisation=host, capacity=1)
        runs = [
            f.match_run(session, round=rnd, status="succeeded", phase="done", clearing=True)
            for _ in range(2)
        ]
        ann, bob = f.trainee(session), f.trainee(session)
        proposals = [
            f.proposal(session, run=runs[0], trainee=ann, slot=last),
            f.proposal(session, run=runs[1], trainee=bob, slot=last),
            # Bob is also proposed elsewhere by the first run: at most one may stand.
            f.proposal(session, run=runs[0], trainee=bob, slot=other),
        ]
        tokens = [issue_token(session=session, user=c, commit=False) for c in coordinators]
        session.commit()
        round_id, last_id = f.pk(rnd), f.pk(last)
        ids = [f.pk(p) for p in proposals]

    calls = [
        _post(arena.app, tokens[i], f"/proposals/{proposal_id}/approve")
        for i, proposal_id in enumerate(ids)
    ]
    calls.append(_post(arena.app, tokens[3], f"/proposals/{ids[0]}/approve"))
    statuses = _together(*calls)
    assert all(isinstance(s, int) for s in statuses), statuses
    with Session(arena.engine) as session:
        slot = session.get(Slot, last_id)
        assert slot is not None and slot.filled == 3
        made = session.exec(
            select(Placement).where(
                Placement.round_id == round_id, col(Placement.proposal_id).in_(ids)
            )
        ).all()
        assert {p.offer_status for p in made} == {"offered"}
        assert all(p.offer_expires_at is not None for p in made)
        at_last = [p for p in made if p.slot_id == last_id]
        assert len(at_last) == 1
    # Of the two approvals of the same proposal at most one succeeds.
    assert Counter(statuses)[200] == len(made), statuses
    _assert_consistent(arena.engine, round_id)
