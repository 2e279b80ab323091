"""Sign in, register, sign out; session cookies; CSRF; the shared layout."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from placement.db import session_scope
from tests.accounts_support import last_token
from tests.web.conftest import LiveServer
from tests.web.helpers import PASSWORD, account, sign_in, sign_out, unique_email

pytestmark = pytest.mark.browser


def test_register_sign_out_and_sign_in_again(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    page.goto("/")
    check_a11y(page, "home")
    shoot(page, "home")
    page.get_by_role("link", name="Register").first.click()
    check_a11y(page, "register")
    shoot(page, "register")

    # Registering asks for no password: a link goes to the address.
    email = unique_email("trainee")
    page.get_by_label("Full name").fill("Priya Shah")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/check-email")
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    check_a11y(page, "check your email")
    shoot(page, "check-email")
    with session_scope(live_server.settings) as session:
        token = last_token(session, email)

    # The link's page chooses the password; a weak one is refused beside the field.
    page.goto(f"/verify?token={token}")
    check_a11y(page, "verify")
    page.get_by_label("Password").fill("Summer2026")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#password-error")).to_be_visible()
    assert page.get_by_label("Password").get_attribute("aria-invalid") == "true"
    check_a11y(page, "verify with errors")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/trainee/profile")
    expect(page.locator("header")).to_contain_text("Signed in as Priya Shah")

    cookies = {c["name"]: c for c in page.context.cookies()}
    session_cookie = cookies["session"]
    assert session_cookie["httpOnly"] is True
    assert session_cookie["sameSite"] == "Lax"
    assert session_cookie["secure"] is False  # plain HTTP here; Secure behind HTTPS

    sign_out(page)
    expect(page.get_by_text("You are signed out.")).to_be_visible()

    # The signed-in cookie from before sign-out no longer opens anything.
    page.context.clear_cookies()
    page.context.add_cookies([session_cookie])
    page.goto("/trainee/profile")
    assert "/sign-in" in page.url

    sign_in(page, email)
    assert page.url.endswith("/trainee/profile")


def test_sign_in_rotates_the_session_and_refuses_bad_passwords(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    email = account(live_server.settings, "employer")
    page.goto("/sign-in")
    before = {c["name"]: c["value"] for c in page.context.cookies()}.get("session")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid email or password.")
    check_a11y(page, "sign in with error")
    shoot(page, "sign-in")

    sign_in(page, email)
    after = {c["name"]: c["value"] for c in page.context.cookies()}["session"]
    assert after != before
    # Role-aware navigation.
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Organisation")).to_be_visible()
    expect(nav.get_by_role("link", name="Rounds")).to_have_count(0)
    # Another role's pages are refused.
    response = page.goto("/coordinator/")
    assert response is not None and response.status == 403


def test_forms_without_their_csrf_token_are_refused(page: Any, live_server: LiveServer) -> None:
    email = account(live_server.settings, "trainee")
    sign_in(page, email)
    response = page.request.post(
        live_server("/trainee/profile"), form={"name": "Forged"}, max_redirects=0
    )
    assert response.status in (400, 403)
    assert "expired or was not sent from this site" in response.text()
    # The same request with the page's own token goes through.
    page.goto("/trainee/profile")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(
        live_server("/trainee/profile"),
        form={"name": "Not forged", "csrf_token": token or ""},
        max_redirects=0,
    )
    assert response.status == 302
    # Sign-out is a form too: a cross-site GET or tokenless POST cannot sign anyone out.
    response = page.request.post(live_server("/sign-out"), max_redirects=0)
    assert response.status in (400, 403)
    page.goto("/trainee/profile")
    assert page.url.endswith("/trainee/profile")


def test_two_step_sign_in_and_mfa_set_up(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    email = account(live_server.settings, "coordinator")
    sign_in(page, email)
    page.get_by_role("link", name="Your account").click()
    check_a11y(page, "account")
    page.get_by_role("link", name="set up").click()
    expect(page.locator("figure svg")).to_be_visible()
    check_a11y(page, "mfa set-up")
    shoot(page, "mfa-setup")
    secret = page.locator("#mfa-secret").inner_text()
    totp = pyotp.TOTP(secret)
    first = totp.now()
    page.get_by_label("Code from your app").fill(first)
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    recovery = page.locator("#recovery-codes li").first.inner_text().strip()
    check_a11y(page, "recovery codes")
    sign_out(page)

    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/sign-in/code")
    check_a11y(page, "sign-in code")
    page.get_by_label("Code").fill("000000" if first != "000000" else "111111")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("code is not right")
    page.get_by_label("Code").fill(recovery)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/coordinator/")
    expect(page.locator("header")).to_contain_text("Signed in as")
