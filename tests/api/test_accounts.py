"""Accounts: register, login (same 401 either way, rate limited), tokens, logout, /me."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient
from sqlmodel import Session, select

from placement import create_app
from placement.config import Settings
from placement.models import ApiToken, AuditEvent, Trainee, User
from tests import factories as f
from tests.api.conftest import PASSWORD, World

API = "/api/v1"


def test_register_trainee_then_me(client: FlaskClient) -> None:
    r = client.post(
        f"{API}/auth/register",
        json={
            "email": "New@Example.test",
            "password": "a-long-pass-phrase",
            "name": "Nia",
            "role": "trainee",
        },
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["user"]["email"] == "new@example.test"
    assert body["user"]["role"] == "trainee"
    assert body["user"]["trainee_id"] is not None
    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["id"] == body["user"]["id"]


def test_register_takes_over_imported_profile(client: FlaskClient, session: Session) -> None:
    imported = f.trainee(session, email="imported@learners.test", user_id=None)
    session.commit()
    r = client.post(
        f"{API}/auth/register",
        json={
            "email": "imported@learners.test",
            "password": "a-long-pass-phrase",
            "name": "Imp",
            "role": "trainee",
        },
    )
    assert r.status_code == 201
    assert r.get_json()["user"]["trainee_id"] == imported.id


def test_register_refuses_coordinator_taken_email_and_weak_password(
    client: FlaskClient, world: World
) -> None:
    base = {"email": "c@example.test", "password": "a-long-pass-phrase", "name": "C"}
    r = client.post(f"{API}/auth/register", json={**base, "role": "coordinator"})
    assert r.status_code == 422
    assert "role" in r.get_json()["errors"]
    taken = world.users["trainee_a"].email
    r = client.post(f"{API}/auth/register", json={**base, "email": taken, "role": "trainee"})
    assert r.status_code == 409
    for weak in ("short", "password123", "aaaaaaaaaaaa"):
        r = client.post(f"{API}/auth/register", json={**base, "password": weak, "role": "trainee"})
        assert r.status_code == 422, weak
        assert "password" in r.get_json()["errors"]
    long_ok = "x1-" * 22  # 66 characters: long passphrases are welcome
    r = client.post(f"{API}/auth/register", json={**base, "password": long_ok, "role": "employer"})
    assert r.status_code == 201


def test_login_same_401_for_unknown_email_and_wrong_password(
    client: FlaskClient, world: World, session: Session
) -> None:
    email = world.users["trainee_a"].email
    wrong = client.post(f"{API}/auth/login", json={"email": email, "password": "nope-nope-nope"})
    unknown = client.post(
        f"{API}/auth/login", json={"email": "ghost@example.test", "password": "nope-nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    failed = session.exec(select(AuditEvent).where(AuditEvent.action == "login.fail")).all()
    assert len(failed) == 2
    ok = client.post(f"{API}/auth/login", json={"email": email.upper(), "password": PASSWORD})
    assert ok.status_code == 200
    assert ok.get_json()["user"]["role"] == "trainee"


def test_tokens_are_stored_hashed_and_revoked_by_logout(
    client: FlaskClient, world: World, session: Session
) -> None:
    r = client.post(
        f"{API}/auth/login",
        json={"email": world.users["employer_x"].email, "password": PASSWORD},
    )
    token = r.get_json()["token"]
    assert session.exec(select(ApiToken).where(ApiToken.token_hash == token)).first() is None
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    assert client.post(f"{API}/auth/logout", headers=headers).status_code == 204
    after = client.get(f"{API}/me", headers=headers)
    assert after.status_code == 401
    assert after.headers["WWW-Authenticate"] == "Bearer"
    assert after.get_json()["message"]


def test_me_fields(client: FlaskClient, world: World) -> None:
    r = client.get(f"{API}/me", headers=world.headers("employer_x"))
    body = r.get_json()
    assert body["organisation_id"] == world.ids["org_x"]
    assert body["role"] == "employer"
    r = client.get(f"{API}/me", headers=world.headers("trainee_b"))
    assert r.get_json()["trainee_id"] == world.ids["trainee_b"]


def test_bad_bearer_tokens(client: FlaskClient) -> None:
    for header in ("Bearer", "Bearer nope", "Basic abc", "bearer " + "x" * 5000, "Token x"):
        r = client.get(f"{API}/me", headers={"Authorization": header})
        assert r.status_code == 401, header


def test_login_rate_limited_per_ip_and_per_account(
    settings: Settings, connection: object, session: Session, tmp_path: Path
) -> None:
    user = f.user(session, role="trainee")
    session.commit()
    limited = Settings(**{**settings.__dict__, "ratelimit_login": "3 per minute"})
    app = create_app(limited, bind=connection)  # type: ignore[arg-type]
    client = app.test_client()
    # Per account: the fourth try at one account is refused, whatever the address.
    codes = [
        client.post(
            f"{API}/auth/login",
            json={"email": user.email, "password": "wrong-password-1"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"},
        ).status_code
        for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    r = client.post(
        f"{API}/auth/login",
        json={"email": user.email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.99"},
    )
    assert r.status_code == 429
    assert r.get_json()["message"]
    assert "Retry-After" in r.headers
    # Per address: one address trying many accounts is refused too.
    codes = [
        client.post(
            f"{API}/auth/login",
            json={"email": f"nobody{i}@example.test", "password": "wrong-password-1"},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        ).status_code
        for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]


def test_registered_user_row(client: FlaskClient, session: Session) -> None:
    r = client.post(
        f"{API}/auth/register",
        json={
            "email": "emp@example.test",
            "password": "a-long-pass-phrase",
            "name": "E",
            "role": "employer",
        },
    )
    assert r.status_code == 201
    user = session.exec(select(User).where(User.email == "emp@example.test")).one()
    assert user.password_hash.startswith("$argon2id$")
    assert session.exec(select(Trainee).where(Trainee.user_id == user.id)).first() is None
