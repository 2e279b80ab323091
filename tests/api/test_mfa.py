"""A second factor on the API: enrolment, login with `otp`, recovery codes, turning it off,
and `PLACEMENT_REQUIRE_MFA=coordinator`."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pyotp
from flask.testing import FlaskClient
from sqlmodel import Session, select

from placement import create_app, encryption
from placement.config import Settings
from placement.models import AuditEvent, LoginFailure, RecoveryCode, User, utcnow
from tests.api.conftest import PASSWORD, World, build_world

API = "/api/v1"


def login(client: FlaskClient, email: str, **kw: Any) -> Any:
    return client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD, **kw})


def test_mfa_enrolment_login_recovery_and_disable(
    client: FlaskClient, world: World, session: Session
) -> None:
    user = world.users["employer_x"]
    headers = world.headers("employer_x")
    r = client.post(f"{API}/me/mfa/confirm", json={"code": "123456"}, headers=headers)
    assert r.status_code == 409  # nothing pending yet
    r = client.post(f"{API}/me/mfa", headers=headers)
    totp = pyotp.TOTP(r.get_json()["secret"])
    wrong = str((int(totp.now()) + 1) % 1_000_000).zfill(6)
    assert (
        client.post(f"{API}/me/mfa/confirm", json={"code": wrong}, headers=headers).status_code
        == 400
    )
    confirmed = totp.now()
    r = client.post(f"{API}/me/mfa/confirm", json={"code": confirmed}, headers=headers)
    assert r.status_code == 200
    codes = r.get_json()["recovery_codes"]
    assert len(codes) == 10 == len(set(codes))
    stored = session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10 and all(c.code_hash not in codes for c in stored)
    assert client.post(f"{API}/me/mfa", headers=headers).status_code == 409
    assert client.get(f"{API}/me", headers=headers).get_json()["mfa_enabled"] is True

    # Only after a right password is the code asked for.
    bad_password = client.post(
        f"{API}/auth/login", json={"email": user.email, "password": "nope-nope-1"}
    )
    assert bad_password.status_code == 401 and "mfa_required" not in bad_password.get_json()
    r = login(client, user.email)
    assert r.status_code == 401
    assert r.get_json()["mfa_required"] is True and r.get_json()["message"]
    failures = len(session.exec(select(LoginFailure)).all())
    r = login(client, user.email, otp="000000" if totp.now() != "000000" else "111111")
    assert r.status_code == 401 and r.get_json()["mfa_required"] is True
    session.expire_all()
    assert len(session.exec(select(LoginFailure)).all()) == failures + 1
    # The code used to confirm cannot be replayed; a recovery code works once.
    assert login(client, user.email, otp=confirmed).status_code == 401
    r = login(client, user.email, otp=codes[0])
    assert r.status_code == 200
    assert login(client, user.email, otp=codes[0]).status_code == 401
    token = r.get_json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    assert client.post(f"{API}/me/mfa/disable", json={"code": "nope"}, headers=h).status_code == 400
    assert (
        client.post(f"{API}/me/mfa/disable", json={"code": codes[1]}, headers=h).status_code == 204
    )
    assert login(client, user.email).status_code == 200
    actions = {a.action for a in session.exec(select(AuditEvent)).all()}
    assert {"mfa.enable", "mfa.disable", "login.fail", "login.success"} <= actions


def test_coordinators_must_enrol_when_required(
    settings: Settings, connection: object, session: Session
) -> None:
    required = Settings(**{**settings.__dict__, "require_mfa": ("coordinator",)})
    client = create_app(required, bind=connection).test_client()  # type: ignore[arg-type]
    world = build_world(session)
    coordinator = world.headers("coordinator")
    r = client.get(f"{API}/rounds", headers=coordinator)
    assert r.status_code == 403
    assert r.get_json()["code"] == "mfa_enrolment_required"
    assert client.get(f"{API}/me", headers=coordinator).status_code == 200
    # Other roles are not held back.
    assert client.get(f"{API}/rounds", headers=world.headers("employer_x")).status_code == 200
    r = client.post(f"{API}/me/mfa", headers=coordinator)
    totp = pyotp.TOTP(r.get_json()["secret"])
    r = client.post(f"{API}/me/mfa/confirm", json={"code": totp.now()}, headers=coordinator)
    assert r.status_code == 200
    assert client.get(f"{API}/rounds", headers=coordinator).status_code == 200
    session.expire_all()
    user = session.get(User, world.users["coordinator"].id)
    assert user is not None and user.mfa_enabled


def test_the_personal_data_export_leaves_out_the_totp_secret(
    client: FlaskClient, world: World
) -> None:
    headers = world.headers("trainee_a")
    secret = client.post(f"{API}/me/mfa", headers=headers).get_json()["secret"]
    pyotp_code = pyotp.TOTP(secret).now()
    assert (
        client.post(f"{API}/me/mfa/confirm", json={"code": pyotp_code}, headers=headers).status_code
        == 200
    )
    export = client.get(f"{API}/trainees/me/export", headers=headers)
    assert export.status_code == 200
    assert secret not in export.get_data(as_text=True)
    assert "mfa_secret" not in export.get_json()["account"]


def test_the_secret_is_stored_encrypted_and_a_wrong_key_is_a_clear_503(
    client: FlaskClient, world: World, session: Session, settings: Settings, connection: object
) -> None:
    user = world.users["employer_x"]
    headers = world.headers("employer_x")
    secret = client.post(f"{API}/me/mfa", headers=headers).get_json()["secret"]
    session.expire_all()
    pending = session.get(User, user.id)
    assert pending is not None and pending.mfa_pending_secret is not None
    assert secret not in pending.mfa_pending_secret
    code = pyotp.TOTP(secret).now()
    assert (
        client.post(f"{API}/me/mfa/confirm", json={"code": code}, headers=headers).status_code
        == 200
    )
    session.expire_all()
    stored = session.get(User, user.id)
    assert stored is not None and stored.mfa_secret is not None
    assert stored.mfa_pending_secret is None
    assert secret not in stored.mfa_secret and stored.mfa_secret.startswith("gAAAAA")
    assert encryption.decrypt(settings.encryption_keys, stored.mfa_secret) == secret

    # A server started with another key cannot read it: 503 with words, not a 500.
    other = replace(settings, encryption_key="a-key-the-secret-was-not-stored-with")
    wrong_client = create_app(other, bind=connection).test_client()  # type: ignore[arg-type]
    r = login(wrong_client, user.email, otp="123456")
    assert r.status_code == 503
    body = r.get_json()
    assert body["code"] == "encryption_key_mismatch"
    assert "PLACEMENT_ENCRYPTION_KEY" in body["message"]

    # The old key still listed after a new one (rotation): sign-in with a code works.
    rotating = replace(settings, encryption_key=f"a-new-key, {settings.secret_key}")
    rotating_client = create_app(rotating, bind=connection).test_client()  # type: ignore[arg-type]
    totp = pyotp.TOTP(secret)
    later = totp.at(utcnow() + timedelta(seconds=30))  # the confirming step is used up
    r = login(rotating_client, user.email, otp=later)
    assert r.status_code == 200, r.get_json()
