"""Helpers for the browser tests: accounts and data made through the real services."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import date
from typing import Any

from sqlmodel import Session, select

from placement.config import Settings
from placement.db import session_scope
from placement.models import Trainee, User
from placement.services.users import create_user

PASSWORD = "correct-horse-battery-7"
_n = itertools.count(1)


def unique_email(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:8]}@example.test"


# Enough of a trainee profile for the matcher (and so for ranking slots).
MATCHING_PROFILE = {
    "level": 4,
    "latitude": 52.4862,
    "longitude": -1.8904,
    "max_travel_km": 40.0,
    "available_from": date(2027, 1, 4),
    "available_to": date(2027, 7, 2),
}


def account(
    settings: Settings, role: str, *, name: str | None = None, profile: bool = False
) -> str:
    """Create an account of `role` straight through the service; returns its email.

    With `profile`, a trainee also gets the profile the matcher needs.
    """
    email = unique_email(role)
    with session_scope(settings) as session:
        user = create_user(
            session=session,
            email=email,
            name=name or f"{role.title()} {next(_n)}",
            role=role,
            password=PASSWORD,
        )
        if profile:
            trainee = session.exec(select(Trainee).where(Trainee.user_id == user.id)).one()
            for key, value in MATCHING_PROFILE.items():
                setattr(trainee, key, value)
    return email


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/sign-in" not in page.url, page.content()[:2000]


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in")


# --- the same through Flask's test client (no browser) ----------------------------------


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def client_sign_in_as(client: Any, email: str, password: str = PASSWORD) -> str:
    """Sign an existing account in on the test client through the real form; returns the
    page it lands on."""
    token = csrf_token(client.get("/sign-in").text)
    response = client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=True,
    )
    assert response.status_code == 200, response.text[:500]
    assert response.request.path != "/sign-in", response.text[:500]
    return str(response.text)


def client_sign_in(client: Any, session: Session, role: str, email: str) -> User:
    """A new account of `role`, signed in on the test client through the real form."""
    user = create_user(
        session=session, email=email, name=f"{role} person", role=role, password=PASSWORD
    )
    client_sign_in_as(client, email)
    return user
