"""After `make run`, each demo login of the README lands on populated pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from placement.demo import AUTUMN_ROUND, DEMO_LOGINS, SPRING_ROUND, seed_demo
from placement.models import Organisation, Trainee, User
from tests.web.helpers import client_sign_in_as


@pytest.fixture
def demo(session: Session) -> Session:
    seed_demo(session=session)
    session.commit()
    return session


def _login(role: str) -> tuple[str, str]:
    (email, password) = next((e, p) for r, e, p in DEMO_LOGINS if r == role)
    return email, password


def test_the_coordinator_lands_on_the_demo_rounds(client: Any, demo: Session) -> None:
    landing = client_sign_in_as(client, *_login("coordinator"))
    assert SPRING_ROUND in landing and AUTUMN_ROUND in landing
    assert "closed" in landing and "open" in landing
    assert "2 host organisations are awaiting verification" in landing
    hosts = client.get("/coordinator/organisations").text
    assert hosts.count("badge approved") >= 12


def test_the_employer_lands_on_their_organisation_and_slots(client: Any, demo: Session) -> None:
    email, password = _login("employer")
    owner = demo.exec(select(User).where(User.email == email)).one()
    org = demo.exec(select(Organisation).where(Organisation.owner_id == owner.id)).one()
    landing = client_sign_in_as(client, email, password)
    assert org.name in landing
    slots = client.get("/employer/slots").text
    assert slots.count("/applicants") >= 2  # slots in both rounds, each with applicants


def test_the_trainee_lands_on_a_filled_profile_with_choices(client: Any, demo: Session) -> None:
    email, password = _login("trainee")
    user = demo.exec(select(User).where(User.email == email)).one()
    trainee = demo.exec(select(Trainee).where(Trainee.user_id == user.id)).one()
    landing = client_sign_in_as(client, email, password)
    assert trainee.name in landing and str(trainee.max_travel_km).rstrip("0").rstrip(".") in landing
    choices = client.get("/trainee/choices").text
    assert re.search(r"<ol[^>]*ranking", choices) and choices.count("Move up") >= 2
    browse = client.get("/trainee/slots").text
    assert browse.count("<tr") > 5
