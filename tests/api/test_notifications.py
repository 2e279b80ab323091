"""`/me/notifications`: the caller's own, newest first, paginated; marking read is for the
owner only (404 for anyone else). SQLite and Postgres."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlmodel import Session, select

from placement.models import Notification, OutboxMessage
from placement.services.mail import queue_mail
from tests.api.conftest import World, call

API = "/api/v1"


def _notify(session: Session, world: World, role: str, n: int) -> list[int]:
    user = world.users[role]
    ids = []
    for i in range(n):
        queue_mail(
            session,
            to=user.email,
            kind="results_unplaced",
            context={"recipient_name": user.name, "round_name": f"Round {i}", "reason": "None."},
            user_id=user.id,
        )
        session.flush()
        ids.append(
            session.exec(select(Notification.id).order_by(Notification.id.desc())).first()  # type: ignore[union-attr]
        )
    session.commit()
    return [i for i in ids if i is not None]


def test_list_is_own_newest_first_and_paginated(
    client: FlaskClient, world: World, session: Session
) -> None:
    mine = _notify(session, world, "trainee_a", 3)
    _notify(session, world, "trainee_b", 1)
    first = call(client, world, "trainee_a", "GET", f"{API}/me/notifications?per_page=2")
    assert first.status_code == 200
    body = first.get_json()
    assert (body["total"], body["page"], body["per_page"]) == (3, 1, 2)
    assert [item["id"] for item in body["items"]] == [mine[2], mine[1]]
    item = body["items"][0]
    assert set(item) == {"id", "kind", "subject", "body", "created_at", "read_at"}
    assert item["kind"] == "results_unplaced"
    assert item["subject"] == "Results of Round 2: no placement this time"
    assert item["read_at"] is None
    second = call(client, world, "trainee_a", "GET", f"{API}/me/notifications?page=2&per_page=2")
    assert [i["id"] for i in second.get_json()["items"]] == [mine[0]]
    others = call(client, world, "coordinator", "GET", f"{API}/me/notifications")
    assert others.get_json()["total"] == 0
    assert call(client, world, "anonymous", "GET", f"{API}/me/notifications").status_code == 401
    bad = call(client, world, "trainee_a", "GET", f"{API}/me/notifications?per_page=zero")
    assert bad.status_code == 422 and "per_page" in bad.get_json()["errors"]


def test_only_the_owner_marks_read(client: FlaskClient, world: World, session: Session) -> None:
    (note,) = _notify(session, world, "trainee_a", 1)
    path = f"{API}/me/notifications/{note}/read"
    for role in ("trainee_b", "employer_x", "coordinator"):
        response = call(client, world, role, "POST", path)
        assert response.status_code == 404, role
        assert response.get_json()["message"] == "No such notification."
    assert call(client, world, "anonymous", "POST", path).status_code == 401
    assert (
        call(client, world, "trainee_a", "POST", f"{API}/me/notifications/999999/read").status_code
        == 404
    )
    done = call(client, world, "trainee_a", "POST", path)
    assert done.status_code == 200
    read_at = done.get_json()["read_at"]
    assert read_at is not None and done.get_json()["id"] == note
    again = call(client, world, "trainee_a", "POST", path)
    assert again.status_code == 200 and again.get_json()["read_at"] == read_at
    listed = call(client, world, "trainee_a", "GET", f"{API}/me/notifications").get_json()
    assert listed["items"][0]["read_at"] == read_at


def test_publishing_through_the_api_notifies_the_round(
    client: FlaskClient, world: World, session: Session
) -> None:
    response = call(
        client, world, "coordinator", "POST", f"{API}/rounds/{world.ids['closed']}/publish"
    )
    assert response.status_code == 200
    kinds = {m.to_address: m.kind for m in session.exec(select(OutboxMessage)).all()}
    assert kinds == {
        world.users["trainee_a"].email: "results_unplaced",
        world.users["trainee_b"].email: "results_placed",
    }
    listed = call(client, world, "trainee_b", "GET", f"{API}/me/notifications").get_json()
    assert [i["kind"] for i in listed["items"]] == ["results_placed"]
