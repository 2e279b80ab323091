"""API fixtures: a small world with one user per role and objects owned by each, and bearer
tokens to act as them through the Flask test client."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from placement.models import MatchRun, Placement, Proposal, Slot, Trainee, User, utcnow
from placement.services.accounts import issue_token
from tests import factories as f

PASSWORD = "factory-password-1"
ROLES = ("anonymous", "trainee_a", "trainee_b", "employer_x", "employer_y", "coordinator")


@dataclass
class World:
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        if role == "anonymous":
            return {}
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def build_world(session: Session) -> World:
    """Users of every role, and objects owned by each of them.

    - round `open` (R) with slots SX (host X) and SY (host Y); A ranked SX, B ranked SY
    - round `draft` (D); round `closed` (RC) with slots CX, CY, a succeeded run M with
      proposals PA (A at CX) and PB (B at CX), and B placed at CY (PL)
    - round `published` (RP) with A offered a slot of X (open for 7 days)
    - host U: unverified, no owner
    """
    w = World()
    coordinator = f.user(session, role="coordinator", name="Cora Coordinator")
    employer_x = f.user(session, role="employer", name="Xavier Employer")
    employer_y = f.user(session, role="employer", name="Yasmin Employer")
    trainee_a = f.user(session, role="trainee", name="Ava Trainee")
    trainee_b = f.user(session, role="trainee", name="Ben Trainee")
    w.users = {
        "coordinator": coordinator,
        "employer_x": employer_x,
        "employer_y": employer_y,
        "trainee_a": trainee_a,
        "trainee_b": trainee_b,
    }
    ta = f.trainee(session, user_id=trainee_a.id, name=trainee_a.name, email=trainee_a.email)
    tb = f.trainee(session, user_id=trainee_b.id, name=trainee_b.name, email=trainee_b.email)
    ox = f.organisation(session, owner_id=employer_x.id, name="X Test Labs")
    oy = f.organisation(session, owner_id=employer_y.id, name="Y Devices")
    ou = f.organisation(session, name="U Unvetted", verified=False)

    rnd = f.round_(session, status="open")
    draft = f.round_(session, status="draft")
    closed = f.round_(session, status="closed")
    published = f.round_(session, status="published")
    sx = f.slot(session, round=rnd, organisation=ox, title="Assay validation")
    sy = f.slot(session, round=rnd, organisation=oy, title="Device testing")
    f.preference(session, trainee=ta, slot=sx, rank=1)
    f.preference(session, trainee=tb, slot=sy, rank=1)

    cx = f.slot(session, round=closed, organisation=ox, capacity=2)
    cy = f.slot(session, round=closed, organisation=oy, capacity=1, filled=1)
    f.preference(session, trainee=ta, slot=cx, rank=1)
    f.preference(session, trainee=tb, slot=cx, rank=1)
    run = MatchRun(round_id=closed.id, status="succeeded", phase="done", progress=100)
    session.add(run)
    session.flush()
    pa = Proposal(run_id=run.id, trainee_id=ta.id, slot_id=cx.id, rank=1, cost=1.0)
    pb = Proposal(run_id=run.id, trainee_id=tb.id, slot_id=cx.id, rank=1, cost=1.0)
    session.add_all([pa, pb])
    session.flush()
    placed = Placement(round_id=closed.id, trainee_id=tb.id, slot_id=cy.id)
    session.add(placed)

    px = f.slot(session, round=published, organisation=ox, capacity=1, filled=1)
    published_placement = Placement(
        round_id=published.id,
        trainee_id=ta.id,
        slot_id=px.id,
        offer_status="offered",
        offered_at=utcnow(),
        offer_expires_at=utcnow() + timedelta(days=7),
    )
    session.add(published_placement)
    session.flush()

    for role, user in w.users.items():
        w.tokens[role] = issue_token(session=session, user=user)
    w.ids = {
        "trainee_a": _id(ta),
        "trainee_b": _id(tb),
        "org_x": _id(ox),
        "org_y": _id(oy),
        "org_u": _id(ou),
        "round": _id(rnd),
        "draft": _id(draft),
        "closed": _id(closed),
        "published": _id(published),
        "slot_x": _id(sx),
        "slot_y": _id(sy),
        "closed_slot_x": _id(cx),
        "closed_slot_y": _id(cy),
        "run": _id(run),
        "proposal_a": _id(pa),
        "proposal_b": _id(pb),
        "placement": _id(placed),
        "published_placement": _id(published_placement),
    }
    session.commit()
    return w


def _id(obj: Any) -> int:
    assert obj.id is not None
    return int(obj.id)


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def call(
    client: FlaskClient,
    world: World,
    role: str,
    method: str,
    path: str,
    **kwargs: Any,
) -> Any:
    return client.open(path, method=method, headers=world.headers(role), **kwargs)


def slot_body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Calibration placement",
        "discipline": "metrology",
        "starts_on": "2027-02-01",
        "ends_on": "2027-05-28",
        "capacity": 2,
        "required_skills": ["pipetting"],
    }
    body.update(kw)
    return body


def trainee_count(session: Session) -> int:
    return len(session.exec(select(Trainee)).all())


def slot_count(session: Session) -> int:
    return len(session.exec(select(Slot)).all())
