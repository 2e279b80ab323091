"""Account pages through the test client, on both databases: register and verify by link,
the page session (a server-side record whose id is no bearer token), expiry, the shared
login limiter, reset, change password, sign out everywhere, MFA's second step, invitations."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pyotp
from sqlalchemy import update
from sqlmodel import Session, col, select

from placement.db import SETTINGS_KEY
from placement.models import EmailLink, RoundTrainee, User, WebSession, utcnow
from placement.services import mfa
from tests import factories as f
from tests.accounts_support import last_token, mails_to
from tests.web.helpers import PASSWORD, client_sign_in, client_sign_in_as, csrf_token

API = "/api/v1"


def post(client: Any, path: str, data: dict[str, str], page: str | None = None, **kw: Any) -> Any:
    token = csrf_token(client.get(page or path).text)
    return client.post(path, data={**data, "csrf_token": token}, **kw)


def session_id(client: Any) -> str:
    with client.session_transaction() as s:
        return str(s["_user_id"])


def test_register_check_email_and_verify_by_link(client: Any, session: Session) -> None:
    r = post(
        client,
        "/register",
        {"name": "Priya Shah", "email": "Priya@Example.test", "role": "trainee"},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/check-email")
    assert "Check your email" in client.get("/check-email").text
    assert session.exec(select(User)).all() == []
    token = last_token(session, "priya@example.test")
    # Opening the link (GET), as often as a mail scanner likes, never uses it.
    for _ in range(2):
        page = client.get(f"/verify?token={token}")
        assert page.status_code == 200 and "priya@example.test" in page.text
    session.expire_all()
    link = session.exec(select(EmailLink)).one()
    assert link.used_at is None
    form = {"token": token, "password": "Summer2026"}
    r = post(client, "/verify", form, page=f"/verify?token={token}")
    assert r.status_code == 422 and 'id="password-error"' in r.text
    form["password"] = PASSWORD
    r = post(client, "/verify", form, page=f"/verify?token={token}")
    assert r.status_code == 302 and r.headers["Location"].endswith("/trainee/profile")
    assert "Signed in as Priya Shah" in client.get("/trainee/profile").text
    # The link is spent: opening it again shows the expired-link page.
    again = client.get(f"/verify?token={token}")
    assert again.status_code == 400 and "This link has expired" in again.text


def test_expired_link_page_offers_a_new_link(client: Any, session: Session) -> None:
    post(client, "/register", {"name": "Sam", "email": "sam@example.test", "role": "employer"})
    token = last_token(session, "sam@example.test")
    session.execute(update(EmailLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    r = client.get(f"/verify?token={token}")
    assert r.status_code == 400 and "Send the link again" in r.text
    r = post(client, "/verify/resend", {"email": "sam@example.test"})
    assert r.status_code == 302
    fresh = last_token(session, "sam@example.test")
    assert fresh != token
    assert client.get(f"/verify?token={fresh}").status_code == 200


def test_the_session_cookie_holds_an_id_that_is_no_bearer_token(
    client: Any, session: Session
) -> None:
    client_sign_in(client, session, "employer", "cookie@example.test")
    sid = session_id(client)
    assert session.exec(select(WebSession)).first() is not None
    r = client.get(f"{API}/me", headers={"Authorization": f"Bearer {sid}"})
    assert r.status_code == 401


def test_page_sessions_expire_when_idle_and_at_their_age_limit(
    client: Any, session: Session
) -> None:
    client_sign_in(client, session, "employer", "idle@example.test")
    assert client.get("/employer/organisation").status_code == 200
    session.execute(
        update(WebSession).values(
            created_at=utcnow() - timedelta(hours=9),
            last_used_at=utcnow() - timedelta(hours=8, minutes=1),
        )
    )
    session.commit()
    r = client.get("/employer/organisation")
    assert r.status_code == 302 and "/sign-in" in r.headers["Location"]
    client_sign_in_as(client, "idle@example.test")
    session.execute(
        update(WebSession)
        .where(col(WebSession.revoked_at).is_(None))
        .values(created_at=utcnow() - timedelta(days=30, minutes=1), last_used_at=utcnow())
    )
    session.commit()
    r = client.get("/employer/organisation")
    assert r.status_code == 302 and "/sign-in" in r.headers["Location"]


def test_pages_and_api_share_one_login_limiter(client: Any, session: Session) -> None:
    user = f.user(session, role="employer")
    session.commit()
    codes = []
    for i in range(5):
        if i % 2:
            r = client.post(
                f"{API}/auth/login", json={"email": user.email, "password": "wrong-pass-1"}
            )
        else:
            r = post(client, "/sign-in", {"email": user.email, "password": "wrong-pass-1"})
        codes.append(r.status_code)
    assert codes == [401] * 5
    page = post(client, "/sign-in", {"email": user.email, "password": "factory-password-1"})
    assert page.status_code == 429 and "Too many failed attempts" in page.text
    api = client.post(
        f"{API}/auth/login", json={"email": user.email, "password": "factory-password-1"}
    )
    assert api.status_code == 429
    # The reset link still works for the owner.
    r = post(client, "/password-reset", {"email": user.email})
    assert r.status_code == 200 and "Check your email" in r.text
    token = last_token(session, user.email, "password_reset")
    page_url = f"/password-reset/confirm?token={token}"
    r = post(
        client,
        "/password-reset/confirm",
        {"token": token, "password": "owner-new-pass-1"},
        page=page_url,
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/sign-in")
    r = post(client, "/sign-in", {"email": user.email, "password": "owner-new-pass-1"})
    assert r.status_code == 302


def test_change_password_and_sign_out_everywhere(client: Any, app: Any, session: Session) -> None:
    user = client_sign_in(client, session, "employer", "change@example.test")
    other = app.test_client()
    client_sign_in_as(other, "change@example.test")
    r = post(
        client,
        "/account/password",
        {"current_password": "wrong-one-1", "new_password": "brand-new-pass-1"},
        page="/account",
    )
    assert r.status_code == 400 and 'id="current_password-error"' in r.text
    r = post(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "Summer2026"},
        page="/account",
    )
    assert r.status_code == 422 and 'id="new_password-error"' in r.text
    r = post(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "brand-new-pass-1"},
        page="/account",
    )
    assert r.status_code == 302
    assert client.get("/account").status_code == 200  # this session is kept
    assert other.get("/account").status_code == 302  # the other one is not
    r = post(client, "/account/sign-out-everywhere", {}, page="/account")
    assert r.status_code == 302 and r.headers["Location"].endswith("/sign-in")
    assert client.get("/account").status_code == 302
    session.expire_all()
    live = session.exec(
        select(WebSession).where(
            WebSession.user_id == user.id, col(WebSession.revoked_at).is_(None)
        )
    ).all()
    assert live == []


def test_sign_in_asks_for_the_code_on_a_second_step(
    client: Any, app: Any, session: Session
) -> None:
    settings = app.extensions["placement_settings"]
    session.info[SETTINGS_KEY] = settings  # the app's key, for enable_now
    user = client_sign_in(client, session, "coordinator", "mfa-page@example.test")
    enrolment, _codes = mfa.enable_now(session=session, user=user)
    assert user.mfa_secret is not None and enrolment.secret not in user.mfa_secret
    post(client, "/account/sign-out-everywhere", {}, page="/account")
    r = post(client, "/sign-in", {"email": user.email, "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/sign-in/code")
    assert client.get("/coordinator/").status_code == 302  # not signed in yet
    r = post(client, "/sign-in/code", {"code": "nope"})
    assert r.status_code == 401 and "code is not right" in r.text
    totp = pyotp.TOTP(enrolment.secret)
    r = post(client, "/sign-in/code", {"code": totp.now()})
    assert r.status_code == 302
    assert client.get("/coordinator/").status_code == 200

    # Restarted with an encryption key the secret was not stored with: words, not a 500.
    post(client, "/account/sign-out-everywhere", {}, page="/account")
    r = post(client, "/sign-in", {"email": user.email, "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/sign-in/code")
    app.extensions["placement_settings"] = replace(settings, encryption_key="another-key")
    r = post(client, "/sign-in/code", {"code": "123456"})
    assert r.status_code == 503
    assert "encryption key does not match" in r.text and "PLACEMENT_ENCRYPTION_KEY" in r.text


def test_required_mfa_sends_a_coordinator_to_enrolment(
    client: Any, app: Any, session: Session
) -> None:
    settings = app.extensions["placement_settings"]
    app.extensions["placement_settings"] = type(settings)(
        **{**settings.__dict__, "require_mfa": ("coordinator",)}
    )
    client_sign_in(client, session, "coordinator", "must-enrol@example.test")
    r = client.get("/coordinator/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/mfa")
    page = client.get("/account/mfa")
    assert page.status_code == 200 and "<svg" in page.text
    secret = page.text.split('id="mfa-secret">')[1].split("<")[0]
    r = post(client, "/account/mfa", {"action": "confirm", "code": pyotp.TOTP(secret).now()})
    assert r.status_code == 200 and 'id="recovery-codes"' in r.text
    assert client.get("/coordinator/").status_code == 200


def test_coordinator_invites_a_rounds_imported_trainees(client: Any, session: Session) -> None:
    client_sign_in(client, session, "coordinator", "inviter@example.test")
    rnd = f.round_(session, status="open")
    imported = f.trainee(session, user_id=None, email="imported-page@learners.test")
    session.add(RoundTrainee(round_id=f.pk(rnd), trainee_id=f.pk(imported)))
    session.commit()
    page = f"/coordinator/rounds/{rnd.id}/trainees"
    assert "Send invitations" in client.get(page).text
    r = post(
        client, f"/coordinator/rounds/{rnd.id}/invitations", {}, page=page, follow_redirects=True
    )
    assert r.status_code == 200 and "Invitations sent to 1 trainee" in r.text
    assert mails_to(session, "imported-page@learners.test", "invitation")
