"""Accounts on the API: registration by link, the takeover attempt, login (same 401 either
way), tokens, expiry and revocation, passwords, the login limiter, /me."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from placement import create_app
from placement.config import Settings
from placement.models import (
    ApiToken,
    AuditEvent,
    EmailLink,
    LoginFailure,
    RoundTrainee,
    Trainee,
    User,
    utcnow,
)
from placement.services.accounts import CHECK_EMAIL, RESET_SENT
from tests import factories as f
from tests.accounts_support import last_token, mails_to, register_and_verify
from tests.api.conftest import PASSWORD, World

API = "/api/v1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: FlaskClient, email: str, password: str = PASSWORD, **kw: Any) -> Any:
    ip = kw.pop("ip", "127.0.0.1")
    return client.post(
        f"{API}/auth/login",
        json={"email": email, "password": password, **kw},
        environ_base={"REMOTE_ADDR": ip},
    )


# --- registration by link ------------------------------------------------------------------


def test_register_creates_nothing_until_the_link_is_used(
    client: FlaskClient, session: Session
) -> None:
    r = client.post(
        f"{API}/auth/register",
        json={"email": "New@Example.test", "name": "Nia", "role": "trainee"},
    )
    assert r.status_code == 202
    assert r.get_json() == {"message": CHECK_EMAIL}
    assert session.exec(select(User).where(User.email == "new@example.test")).first() is None
    # Nobody can sign in with the address before the link is used.
    assert login(client, "new@example.test", "a-long-pass-phrase").status_code == 401
    (mail,) = mails_to(session, "new@example.test", "verify_email")
    assert "Why you are getting this email" in mail.text_body
    token = last_token(session, "new@example.test")
    r = client.post(f"{API}/auth/verify", json={"token": token, "password": "a-long-pass-phrase"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["user"]["email"] == "new@example.test"
    assert body["user"]["trainee_id"] is not None
    assert body["user"]["mfa_enabled"] is False
    me = client.get(f"{API}/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.get_json()["id"] == body["user"]["id"]
    user = session.get(User, body["user"]["id"])
    assert user is not None and user.email_verified_at is not None
    assert user.password_hash.startswith("$argon2id$")


def test_register_answers_alike_for_a_known_address_and_tells_the_owner(
    client: FlaskClient, world: World, session: Session
) -> None:
    known = world.users["trainee_a"].email
    r = client.post(
        f"{API}/auth/register", json={"email": known.upper(), "name": "X", "role": "employer"}
    )
    fresh = client.post(
        f"{API}/auth/register",
        json={"email": "nobody-yet@example.test", "name": "X", "role": "employer"},
    )
    assert r.status_code == fresh.status_code == 202
    assert r.get_json() == fresh.get_json()
    (mail,) = mails_to(session, known, "account_exists")
    assert "/sign-in" in mail.text_body and "/password-reset" in mail.text_body
    assert len(session.exec(select(User).where(User.email == known)).all()) == 1


def test_takeover_attempt_gets_nothing_and_the_mailbox_owner_gets_the_profile(
    client: FlaskClient, session: Session
) -> None:
    imported = f.trainee(session, email="imported@learners.test", user_id=None, postcode="B15 2TT")
    session.commit()
    # The attacker registers the imported address in another case; nothing is created.
    r = client.post(
        f"{API}/auth/register",
        json={"email": "IMPORTED@Learners.TEST", "name": "Mallory", "role": "trainee"},
    )
    assert r.status_code == 202
    assert session.exec(select(User)).all() == []
    assert login(client, "imported@learners.test", "mallory-chosen-pass").status_code == 401
    session.refresh(imported)
    assert imported.user_id is None
    # The link went to the stored address, not the typed variant.
    assert mails_to(session, "IMPORTED@Learners.TEST") == []
    token = last_token(session, "imported@learners.test")
    # An employer registration never claims a trainee profile; a trainee one does.
    r = client.post(f"{API}/auth/verify", json={"token": token, "password": "owner-pass-phrase"})
    assert r.status_code == 200
    assert r.get_json()["user"]["trainee_id"] == imported.id
    r = client.get(f"{API}/trainees/me", headers=bearer(r.get_json()["token"]))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["postcode"] == "B15 2TT"


def test_accounts_that_joined_an_imported_profile_unproved_must_confirm(
    client: FlaskClient, session: Session
) -> None:
    # As the migration leaves them: a self-registered account on an imported profile.
    legacy = f.user(session, email="legacy@learners.test", email_verified_at=None)
    profile = f.trainee(session, email="legacy@learners.test", user_id=legacy.id)
    old = ApiToken(user_id=f.pk(legacy), token_hash="0" * 64)
    session.add(old)
    session.commit()
    r = login(client, "legacy@learners.test")
    assert r.status_code == 401
    assert "Confirm your email" in r.get_json()["message"]
    token = last_token(session, "legacy@learners.test", "confirm_email")
    r = client.post(f"{API}/auth/verify", json={"token": token, "password": "proved-pass-phrase"})
    assert r.status_code == 200
    assert r.get_json()["user"]["trainee_id"] == profile.id
    assert login(client, "legacy@learners.test", PASSWORD).status_code == 401
    assert login(client, "legacy@learners.test", "proved-pass-phrase").status_code == 200


def test_verify_links_are_single_use_expire_and_wait_out_a_weak_password(
    client: FlaskClient, session: Session
) -> None:
    client.post(
        f"{API}/auth/register", json={"email": "v@example.test", "name": "V", "role": "employer"}
    )
    token = last_token(session, "v@example.test")
    for weak in ("Summer2026", "password123", "short"):
        r = client.post(f"{API}/auth/verify", json={"token": token, "password": weak})
        assert r.status_code == 422, weak
        assert "password" in r.get_json()["errors"]
    r = client.post(f"{API}/auth/verify", json={"token": token, "password": "a-long-pass-phrase"})
    assert r.status_code == 200
    again = client.post(f"{API}/auth/verify", json={"token": token, "password": "another-pass-1"})
    assert again.status_code == 400
    assert (
        client.post(f"{API}/auth/verify", json={"token": "nope", "password": "x" * 12}).status_code
        == 400
    )
    # An expired link (48 h) is refused.
    client.post(
        f"{API}/auth/register", json={"email": "w@example.test", "name": "W", "role": "employer"}
    )
    token = last_token(session, "w@example.test")
    session.execute(
        update(EmailLink)
        .where(col(EmailLink.email) == "w@example.test")
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    r = client.post(f"{API}/auth/verify", json={"token": token, "password": "a-long-pass-phrase"})
    assert r.status_code == 400
    link = session.exec(select(EmailLink).where(EmailLink.email == "w@example.test")).one()
    assert link.created_at + timedelta(hours=47) < link.created_at + timedelta(hours=48)


@pytest.mark.parametrize(
    ("typed", "status"),
    [
        ("\u0430lice@example.test", 422),  # Cyrillic a in a Latin local part
        ("alice@ex\u0430mple.test", 422),  # Cyrillic a in the domain
        ("al\u200bice@example.test", 422),  # zero-width space
        ("al\u00adice@example.test", 422),  # soft hyphen (format character)
        ("\uff41lice@example.test", 202),  # full-width a: NFKC makes it plain "alice"
    ],
)
def test_look_alike_addresses(
    client: FlaskClient, session: Session, typed: str, status: int
) -> None:
    f.user(session, email="alice@example.test", role="employer")
    session.commit()
    r = client.post(f"{API}/auth/register", json={"email": typed, "name": "A", "role": "employer"})
    assert r.status_code == status, r.get_json()
    if status == 422:
        assert "email" in r.get_json()["errors"]
    else:
        # The same person as alice@example.test: told they have an account.
        assert mails_to(session, "alice@example.test", "account_exists")
        assert len(session.exec(select(User)).all()) == 1


def test_register_refuses_coordinator_role(client: FlaskClient) -> None:
    r = client.post(
        f"{API}/auth/register", json={"email": "c@example.test", "name": "C", "role": "coordinator"}
    )
    assert r.status_code == 422
    assert "role" in r.get_json()["errors"]


def test_mail_to_one_address_is_rate_limited(client: FlaskClient, session: Session) -> None:
    for i in range(8):
        r = client.post(
            f"{API}/auth/register",
            json={"email": "flood@example.test", "name": "F", "role": "employer"},
            environ_base={"REMOTE_ADDR": f"10.1.0.{i}"},
        )
        assert r.status_code == 202
    assert len(mails_to(session, "flood@example.test")) == 5


def test_registration_is_rate_limited_per_address(settings: Settings, connection: object) -> None:
    limited = Settings(**{**settings.__dict__, "ratelimit_register": "2 per hour"})
    client = create_app(limited, bind=connection).test_client()  # type: ignore[arg-type]
    codes = [
        client.post(
            f"{API}/auth/register",
            json={"email": f"r{i}@example.test", "name": "R", "role": "employer"},
        ).status_code
        for i in range(3)
    ]
    assert codes == [202, 202, 429]
    # The page's registration counts against the same limit.
    assert (
        client.post(f"{API}/auth/password-reset", json={"email": "r@example.test"}).status_code
        == 429
    )


def test_only_limited_routes_run_the_limiter(settings: Settings, connection: object) -> None:
    """Every limit decorates its view; the limiter's app-wide hook would find nothing to
    check on the other routes, so it is not installed, and the limits still hold."""
    from placement.extensions import limiter

    limited = Settings(**{**settings.__dict__, "ratelimit_register": "1 per hour"})
    app = create_app(limited, bind=connection)  # type: ignore[arg-type]
    assert limiter._check_request_limit not in app.before_request_funcs[None]
    client = app.test_client()
    first = client.post(
        f"{API}/auth/register", json={"email": "l@example.test", "name": "L", "role": "employer"}
    )
    assert first.status_code == 202
    assert first.headers["X-RateLimit-Limit"] == "1"
    again = client.post(f"{API}/auth/password-reset", json={"email": "l@example.test"})
    assert again.status_code == 429
    assert "X-RateLimit-Limit" not in client.get(f"{API}/me").headers


# --- login -------------------------------------------------------------------------------


def test_login_same_401_for_unknown_email_and_wrong_password(
    client: FlaskClient, world: World, session: Session
) -> None:
    email = world.users["trainee_a"].email
    wrong = login(client, email, "nope-nope-nope")
    unknown = login(client, "ghost@example.test", "nope-nope-nope")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    failed = session.exec(select(AuditEvent).where(AuditEvent.action == "login.fail")).all()
    assert len(failed) == 2
    ok = login(client, email.upper())
    assert ok.status_code == 200
    assert ok.get_json()["user"]["role"] == "trainee"
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "login.success")).first()


def test_tokens_are_stored_hashed_and_revoked_by_logout(
    client: FlaskClient, world: World, session: Session
) -> None:
    token = login(client, world.users["employer_x"].email).get_json()["token"]
    assert session.exec(select(ApiToken).where(ApiToken.token_hash == token)).first() is None
    assert client.get(f"{API}/me", headers=bearer(token)).status_code == 200
    assert client.post(f"{API}/auth/logout", headers=bearer(token)).status_code == 204
    after = client.get(f"{API}/me", headers=bearer(token))
    assert after.status_code == 401
    assert after.headers["WWW-Authenticate"] == "Bearer"
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "session.logout")).first()


def test_me_fields(client: FlaskClient, world: World) -> None:
    body = client.get(f"{API}/me", headers=world.headers("employer_x")).get_json()
    assert body["organisation_id"] == world.ids["org_x"]
    assert body["role"] == "employer"
    assert body["mfa_enabled"] is False
    r = client.get(f"{API}/me", headers=world.headers("trainee_b"))
    assert r.get_json()["trainee_id"] == world.ids["trainee_b"]


def test_bad_bearer_tokens(client: FlaskClient) -> None:
    for header in ("Bearer", "Bearer nope", "Basic abc", "bearer " + "x" * 5000, "Token x"):
        assert client.get(f"{API}/me", headers={"Authorization": header}).status_code == 401


# --- expiry and revocation ------------------------------------------------------------------


def test_tokens_expire_when_idle_and_at_their_age_limit(
    client: FlaskClient, world: World, session: Session
) -> None:
    email = world.users["employer_x"].email
    idle = login(client, email).get_json()["token"]
    old = login(client, email).get_json()["token"]
    fresh = login(client, email).get_json()["token"]
    now = utcnow()
    rows = {r.token_hash: r for r in session.exec(select(ApiToken)).all()}
    from placement.auth import token_hash

    # Idle past 8 hours (the default).
    rows[token_hash(idle)].last_used_at = now - timedelta(hours=8, minutes=1)
    rows[token_hash(idle)].created_at = now - timedelta(hours=9)
    # Used a minute ago, but 30 days old.
    rows[token_hash(old)].created_at = now - timedelta(days=30, minutes=1)
    rows[token_hash(old)].last_used_at = now - timedelta(minutes=1)
    session.commit()
    assert client.get(f"{API}/me", headers=bearer(idle)).status_code == 401
    assert client.get(f"{API}/me", headers=bearer(old)).status_code == 401
    assert client.get(f"{API}/me", headers=bearer(fresh)).status_code == 200


def test_logout_everywhere_revokes_every_token(
    client: FlaskClient, world: World, session: Session
) -> None:
    email = world.users["trainee_a"].email
    tokens = [login(client, email).get_json()["token"] for _ in range(3)]
    r = client.post(f"{API}/auth/logout-everywhere", headers=bearer(tokens[0]))
    assert r.status_code == 204
    for token in [*tokens, world.tokens["trainee_a"]]:
        assert client.get(f"{API}/me", headers=bearer(token)).status_code == 401
    assert client.get(f"{API}/me", headers=world.headers("trainee_b")).status_code == 200


# --- passwords -------------------------------------------------------------------------------


def test_change_password_keeps_this_token_and_revokes_the_others(
    client: FlaskClient, world: World, session: Session
) -> None:
    email = world.users["employer_y"].email
    this = login(client, email).get_json()["token"]
    other = world.tokens["employer_y"]
    body = {"current_password": "not-the-password", "new_password": "brand-new-pass-1"}
    assert client.post(f"{API}/me/password", json=body, headers=bearer(this)).status_code == 400
    weak = {"current_password": PASSWORD, "new_password": "Summer2026"}
    r = client.post(f"{API}/me/password", json=weak, headers=bearer(this))
    assert r.status_code == 422
    assert "new_password" in r.get_json()["errors"]
    good = {"current_password": PASSWORD, "new_password": "brand-new-pass-1"}
    assert client.post(f"{API}/me/password", json=good, headers=bearer(this)).status_code == 200
    assert client.get(f"{API}/me", headers=bearer(this)).status_code == 200
    assert client.get(f"{API}/me", headers=bearer(other)).status_code == 401
    assert login(client, email).status_code == 401
    assert login(client, email, "brand-new-pass-1").status_code == 200
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "password.change")).first()
    (notice,) = mails_to(session, email, "security_notice")
    assert notice.subject == "Your password was changed on your Placement account"
    assert "/password-reset" in notice.text_body and "signed out" in notice.text_body


def test_password_reset_by_link(client: FlaskClient, world: World, session: Session) -> None:
    email = world.users["trainee_b"].email
    known = client.post(f"{API}/auth/password-reset", json={"email": email})
    unknown = client.post(f"{API}/auth/password-reset", json={"email": "ghost@example.test"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json() == {"message": RESET_SENT}
    assert mails_to(session, "ghost@example.test") == []
    token = last_token(session, email, "password_reset")
    weak = client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "password": "Summer2026"}
    )
    assert weak.status_code == 422
    r = client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "password": "reset-pass-phrase"}
    )
    assert r.status_code == 200
    # Every earlier token is revoked; the link works once.
    assert client.get(f"{API}/me", headers=world.headers("trainee_b")).status_code == 401
    again = client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "password": "other-pass-phrase"}
    )
    assert again.status_code == 400
    assert login(client, email, "reset-pass-phrase").status_code == 200
    # A reset link expires after 24 hours.
    client.post(f"{API}/auth/password-reset", json={"email": email})
    token = last_token(session, email, "password_reset")
    session.execute(
        update(EmailLink)
        .where(col(EmailLink.purpose) == "reset", col(EmailLink.used_at).is_(None))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    r = client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "password": "late-pass-phrase"}
    )
    assert r.status_code == 400
    link = session.exec(select(EmailLink).where(EmailLink.purpose == "reset")).first()
    assert link is not None and link.expires_at - link.created_at == timedelta(hours=24)


# --- the login limiter -----------------------------------------------------------------------


@pytest.fixture
def strict(settings: Settings, connection: object) -> FlaskClient:
    """A client whose limiter allows 2 failures per (account, address) in 15 minutes:
    20 per address, and a per-account ceiling of 8."""
    limited = Settings(**{**settings.__dict__, "ratelimit_login": "2 per 15 minutes"})
    return create_app(limited, bind=connection).test_client()  # type: ignore[arg-type]


def test_limiter_slows_a_guesser_without_locking_out_the_owner(
    client: FlaskClient, world: World, session: Session
) -> None:
    email = world.users["trainee_a"].email
    codes = [login(client, email, "wrong-password-1", ip="10.0.0.66").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]  # the default: 5 per (account, address) in 15 minutes
    r = login(client, email, PASSWORD, ip="10.0.0.66")
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert r.get_json()["message"]
    # The owner, elsewhere, still gets in.
    assert login(client, email, PASSWORD, ip="10.0.0.1").status_code == 200
    assert session.exec(select(LoginFailure)).all()


def test_limiter_per_account_ceiling_backs_off_and_a_reset_link_always_works(
    strict: FlaskClient, world: World, session: Session
) -> None:
    client = strict
    email = world.users["trainee_b"].email
    # A stranger from many addresses: past the ceiling (8) each try must wait.
    codes = [
        login(client, email, "wrong-password-1", ip=f"10.2.0.{i}").status_code for i in range(10)
    ]
    assert codes == [401] * 8 + [429] * 2
    assert login(client, email, PASSWORD, ip="10.9.9.9").status_code == 429
    # The owner resets the password by mail; the link is never limited, and the count
    # starts again.
    client.post(f"{API}/auth/password-reset", json={"email": email})
    token = last_token(session, email, "password_reset")
    r = client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "password": "owner-new-pass-1"}
    )
    assert r.status_code == 200
    assert login(client, email, "owner-new-pass-1", ip="10.9.9.9").status_code == 200


def test_limiter_per_address_across_accounts(strict: FlaskClient) -> None:
    codes = [
        login(strict, f"nobody{i}@example.test", "wrong-password-1", ip="10.9.9.8").status_code
        for i in range(21)
    ]
    assert codes[:20] == [401] * 20
    assert codes[20] == 429


# --- invitations -----------------------------------------------------------------------------


def test_invitations_mail_imported_trainees_without_accounts(
    client: FlaskClient, world: World, session: Session
) -> None:
    rnd = world.ids["round"]
    imported = [f.trainee(session, user_id=None, name=f"Imported {i}") for i in range(3)]
    for t in [*imported]:
        session.add(RoundTrainee(round_id=rnd, trainee_id=f.pk(t)))
    session.commit()
    r = client.post(f"{API}/rounds/{rnd}/invitations", headers=world.headers("coordinator"))
    assert r.status_code == 202
    assert r.get_json() == {"sent": 3}
    again = client.post(f"{API}/rounds/{rnd}/invitations", headers=world.headers("coordinator"))
    assert again.get_json() == {"sent": 0}
    first = imported[0]
    assert first.email is not None
    (mail,) = mails_to(session, first.email, "invitation")
    assert "Why you are getting this email" in mail.text_body
    token = last_token(session, first.email, "invitation")
    r = client.post(f"{API}/auth/verify", json={"token": token, "password": "invited-pass-1"})
    assert r.status_code == 200
    assert r.get_json()["user"]["trainee_id"] == first.id
    session.expire_all()
    assert session.get(Trainee, first.id).user_id == r.get_json()["user"]["id"]  # type: ignore[union-attr]


def test_register_helper_signs_in(client: FlaskClient, session: Session) -> None:
    body = register_and_verify(client, session, email="helper@example.test", role="employer")
    assert client.get(f"{API}/me", headers=bearer(body["token"])).status_code == 200
