"""The messages page and the unread count in the header: through the test client on both
databases, and once in a real browser (keyboard, axe, 360 px)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from placement.db import session_scope
from placement.models import Notification, User
from placement.services.mail import queue_mail
from tests import factories as f
from tests.web.conftest import LiveServer
from tests.web.helpers import account, client_sign_in, csrf_token, sign_in


def _tell(session: Session, user: User, rounds: list[str]) -> list[int]:
    for name in rounds:
        queue_mail(
            session,
            to=user.email,
            kind="results_unplaced",
            context={"recipient_name": user.name, "round_name": name, "reason": "None fit."},
            user_id=user.id,
        )
    session.commit()
    return [
        n
        for n in session.exec(select(Notification.id).where(Notification.user_id == user.id)).all()
        if n is not None
    ]


def _unread_badge(html: str) -> str | None:
    match = re.search(r'Messages <span class="badge">(\d+)<span', html)
    return match.group(1) if match else None


def test_the_page_lists_marks_read_and_counts_unread(client: Any, session: Session) -> None:
    me = client_sign_in(client, session, "trainee", "page-reader@example.test")
    other = f.user(session, email="someone-else@example.test")
    mine = _tell(session, me, ["Spring 2027", "Autumn 2027"])
    (theirs,) = _tell(session, other, ["Private round"])

    page = client.get("/notifications")
    assert page.status_code == 200
    assert "Results of Autumn 2027: no placement this time" in page.text
    assert page.text.index("Autumn 2027") < page.text.index("Spring 2027")  # newest first
    assert "Private round" not in page.text
    assert _unread_badge(page.text) == "2"
    assert _unread_badge(client.get("/trainee/profile").text) == "2"

    token = csrf_token(page.text)
    done = client.post(f"/notifications/{mine[0]}/read", data={"csrf_token": token})
    assert done.status_code == 302
    assert _unread_badge(client.get("/notifications").text) == "1"

    refused = client.post(f"/notifications/{theirs}/read", data={"csrf_token": token})
    assert refused.status_code == 404 and "No such notification" in refused.text
    assert session.get(Notification, theirs).read_at is None  # type: ignore[union-attr]
    assert client.post(f"/notifications/{mine[1]}/read").status_code == 400  # no CSRF token

    client.post("/notifications/read-all", data={"csrf_token": token})
    final = client.get("/notifications")
    assert _unread_badge(final.text) is None and "Mark all as read" not in final.text


def test_signed_out_visitors_are_sent_to_sign_in(client: Any) -> None:
    response = client.get("/notifications")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


@pytest.mark.browser
def test_messages_page_in_a_browser(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    from playwright.sync_api import expect

    email = account(live_server.settings, "trainee", name="Nia Messages")
    with session_scope(live_server.settings) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        rnd = f.round_(session, name="Browser Round 2027")
        host = f.organisation(session, name="Wolverhampton Assay Lab")
        slot = f.slot(session, round=rnd, organisation=host, title="Assay validation")
        queue_mail(
            session,
            to=email,
            kind="results_placed",
            user_id=user.id,
            context={
                "recipient_name": user.name,
                "round_name": rnd.name,
                "slot_title": slot.title,
                "organisation_name": host.name,
                "site": "WV1 1LY",
                "starts_on": slot.starts_on,
                "ends_on": slot.ends_on,
            },
        )
    sign_in(page, email)
    messages = page.get_by_role("link", name=re.compile(r"^Messages 1 unread"))
    expect(messages).to_be_visible()
    messages.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/notifications")
    expect(
        page.get_by_role("heading", name=re.compile("Assay validation at Wolverhampton"))
    ).to_be_visible()
    expect(page.get_by_text("1 Feb 2027 to 28 May 2027")).to_be_visible()
    link = page.get_by_role("link", name="/trainee/placement")
    expect(link).to_have_attribute("href", "/trainee/placement")
    check_a11y(page, "messages")
    shoot(page, "notifications")
    page.get_by_role("button", name=re.compile("^Mark as read")).click()
    expect(page.get_by_text("Marked as read.")).to_be_visible()
    expect(page.get_by_role("link", name="Messages", exact=True)).to_be_visible()
