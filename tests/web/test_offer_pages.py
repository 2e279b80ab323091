"""The offer pages through the test client on both databases: someone else's offer is a 404
page, an expired or withdrawn one is refused with a clear message and nothing changes, and
an unplaced trainee is told why and that a clearing run may still place them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, select

from placement.models import Placement, Round, Slot, Trainee, utcnow
from tests import factories as f
from tests.web.helpers import client_sign_in, csrf_token


def _trainee_of(session: Session, user_id: int | None) -> Trainee:
    return session.exec(select(Trainee).where(Trainee.user_id == user_id)).one()


def _setup(session: Session, client: Any) -> tuple[Any, Round, Slot, Placement, str]:
    user = client_sign_in(client, session, "trainee", "offer-pages@example.test")
    me = _trainee_of(session, user.id)
    for key, value in {"level": 4, "latitude": 52.48, "longitude": -1.89}.items():
        setattr(me, key, value)
    rnd = f.round_(session, name="Autumn round", status="published")
    host = f.organisation(session, name="Dudley Diagnostics")
    slot = f.slot(session, round=rnd, organisation=host, capacity=1, filled=1, title="Serology")
    now = utcnow()
    placement = Placement(
        round_id=f.pk(rnd),
        trainee_id=f.pk(me),
        slot_id=f.pk(slot),
        offer_status="offered",
        offered_at=now,
        offer_expires_at=now + timedelta(days=7),
    )
    session.add(placement)
    session.commit()
    token = csrf_token(client.get("/trainee/placement").text)
    return me, rnd, slot, placement, token


def _state(session: Session, placement: Placement) -> tuple[str, str | None, int]:
    row = session.get(Placement, placement.id, populate_existing=True)
    slot = session.get(Slot, placement.slot_id, populate_existing=True)
    assert row is not None and slot is not None
    return row.status, row.offer_status, slot.filled


def test_an_expired_offer_is_refused_with_a_clear_message(client: Any, session: Session) -> None:
    _, _, _, placement, token = _setup(session, client)
    placement.offer_expires_at = utcnow() - timedelta(hours=1)
    session.commit()
    page = client.get("/trainee/placement").text
    assert "it can no longer be accepted" in page
    assert "Accept this placement" not in page
    r = client.post(
        f"/trainee/placement/{placement.id}/accept",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert r.status_code == 200
    assert "You cannot accept this offer: it expired at" in r.text
    assert _state(session, placement) == ("live", "offered", 1)


def test_a_withdrawn_offer_cannot_be_declined_and_its_page_says_so(
    client: Any, session: Session
) -> None:
    _, _, slot, placement, token = _setup(session, client)
    placement.status = "withdrawn"
    placement.offer_status = "withdrawn"
    slot.filled = 0
    session.commit()
    page = client.get(f"/trainee/placement/{placement.id}/decline").text
    assert "That cannot be done now" in page and "Yes, decline it" not in page
    r = client.post(
        f"/trainee/placement/{placement.id}/decline",
        data={"csrf_token": token, "reason": "Changed my mind"},
        follow_redirects=True,
    )
    assert "your coordinator withdrew it" in r.text
    assert _state(session, placement) == ("withdrawn", "withdrawn", 0)


def test_someone_elses_offer_is_a_404_page(client: Any, session: Session) -> None:
    _, rnd, _, _, token = _setup(session, client)
    other = f.trainee(session)
    slot = f.slot(session, round=rnd, organisation=f.organisation(session), filled=1)
    theirs = Placement(
        round_id=f.pk(rnd),
        trainee_id=f.pk(other),
        slot_id=f.pk(slot),
        offer_status="offered",
        offered_at=utcnow(),
        offer_expires_at=utcnow() + timedelta(days=7),
    )
    session.add(theirs)
    session.commit()
    for method, action in (("post", "accept"), ("post", "decline"), ("get", "decline")):
        url = f"/trainee/placement/{theirs.id}/{action}"
        r = getattr(client, method)(url, data={"csrf_token": token})
        assert r.status_code == 404 and "Page not found" in r.text
    assert _state(session, theirs) == ("live", "offered", 1)


def test_an_unplaced_trainee_is_told_why_and_about_clearing(client: Any, session: Session) -> None:
    me, rnd, _, placement, _ = _setup(session, client)
    session.delete(placement)
    run = f.match_run(session, round=rnd, status="succeeded", phase="done")
    f.unplaced(session, run=run, trainee=me, reason="outcompeted")
    f.preference(
        session,
        trainee=me,
        slot=f.slot(session, round=rnd, organisation=f.organisation(session)),
        rank=1,
    )
    session.commit()
    page = client.get("/trainee/placement").text
    assert "No placement yet in Autumn round" in page
    assert "The results of this round are published" in page
    assert "filled by other trainees the match placed there" in page
    assert "clearing run" in page
    assert "once your coordinator publishes" not in page
