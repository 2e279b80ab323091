"""Notes on a trainee's record in the browser: a coordinator adds one (a blank note is
refused beside the field), sees it with author and UK date; the trainee finds it on their
data page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from placement.db import session_scope
from placement.models import Trainee, User
from tests.web.conftest import LiveServer
from tests.web.helpers import account, sign_in, sign_out

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_coordinator_adds_a_note_and_the_trainee_sees_it_in_their_data(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    learner = account(live_server.settings, "trainee", name="Priya Shah", profile=True)
    with session_scope(live_server.settings) as session:
        user = session.exec(select(User).where(User.email == learner)).one()
        trainee_id = session.exec(select(Trainee.id).where(Trainee.user_id == user.id)).one()
    sign_in(page, account(live_server.settings, "coordinator", name="Helen Okafor"))
    page.goto(f"/coordinator/trainees/{trainee_id}")
    expect(page.locator("#notes")).to_have_text("No notes yet.")

    page.get_by_role("button", name="Add the note").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Enter the note")
    expect(summary).to_be_focused()
    expect(page.get_by_label("Add a note")).to_have_attribute("aria-invalid", "true")
    check_a11y(page, "note refused")

    page.get_by_label("Add a note").fill("Rang Priya: she can start a week late.")
    page.get_by_role("button", name="Add the note").click()
    expect(page.get_by_text("Note added.")).to_be_visible()
    note = page.locator("#notes li").first
    expect(note).to_contain_text("Rang Priya: she can start a week late.")
    expect(note).to_contain_text(re.compile(r"Helen Okafor, \d{1,2} [A-Z][a-z]{2} \d{4}"))
    check_a11y(page, "trainee record with a note")
    shoot(page, "coordinator-trainee-notes")

    sign_out(page)
    sign_in(page, learner)
    page.goto("/trainee/data")
    expect(page.locator("#notes")).to_contain_text("Rang Priya: she can start a week late.")
