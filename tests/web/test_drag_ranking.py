"""The applicants ranking's drag handle: dragged with a mouse, or operated from the
keyboard (Space picks up, arrows move, Space drops, Escape puts back), every step
announced; "Position" and "Move" stay as the way without dragging."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from placement.db import session_scope
from placement.models import EmployerRanking, User
from tests import factories as f
from tests.web.conftest import LiveServer
from tests.web.helpers import account, sign_in, unique_email

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_drag_handle_works_by_keyboard_and_by_mouse(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    tag = unique_email("d").split("@")[0][-6:]
    employer = account(live_server.settings, "employer")
    names = [f"Applicant {c} {tag}" for c in "ABCD"]
    with session_scope(live_server.settings) as session:
        owner = session.exec(select(User).where(User.email == employer)).one()
        org = f.organisation(session, name=f"Drag Labs {tag}", owner_id=owner.id)
        rnd = f.round_(session, name=f"Drag round {tag}")
        slot = f.slot(session, round=rnd, organisation=org, title=f"Drag slot {tag}")
        for rank, name in enumerate(names, start=1):
            t = f.trainee(session, name=name)
            f.preference(session, trainee=t, slot=slot, rank=1)
            session.add(EmployerRanking(slot_id=f.pk(slot), trainee_id=f.pk(t), rank=rank))
        slot_id = f.pk(slot)
    sign_in(page, employer)
    page.goto(f"/employer/slots/{slot_id}/applicants")
    labels = page.locator("ol.ranking li .label strong")
    status = page.locator("#ranking-status")
    expect(labels).to_have_text(names)
    expect(page.locator("#drag-help")).to_be_visible()

    # Keyboard: pick up D, move it up twice, drop it: D is second.
    handle = page.get_by_role("button", name=f"Drag {names[3]}")
    handle.focus()
    page.keyboard.press("Space")
    expect(handle).to_have_attribute("aria-pressed", "true")
    expect(status).to_contain_text(f"{names[3]} picked up, number 4 of 4")
    page.keyboard.press("ArrowUp")
    expect(status).to_contain_text(f"{names[3]}, number 3 of 4")
    page.keyboard.press("ArrowUp")
    expect(handle).to_be_focused()
    page.keyboard.press("Space")
    expect(handle).to_have_attribute("aria-pressed", "false")
    expect(status).to_contain_text(f"{names[3]} is now number 2 of 4")
    expect(labels).to_have_text([names[0], names[3], names[1], names[2]])
    expect(page.locator("[data-unsaved-notice]")).to_be_visible()
    expect(page.get_by_label(f"Position for {names[3]}")).to_have_value("2")

    # Escape puts it back where it was picked up.
    handle_a = page.get_by_role("button", name=f"Drag {names[0]}")
    handle_a.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    expect(status).to_contain_text(f"{names[0]} put back at number 1")
    expect(labels).to_have_text([names[0], names[3], names[1], names[2]])
    check_a11y(page, "applicants with drag handles")

    # Mouse: drag C's handle above A.
    box_from = page.get_by_role("button", name=f"Drag {names[2]}").bounding_box()
    box_to = page.locator("ol.ranking li").first.bounding_box()
    page.mouse.move(box_from["x"] + box_from["width"] / 2, box_from["y"] + box_from["height"] / 2)
    page.mouse.down()
    page.mouse.move(box_to["x"] + 20, box_to["y"] + 5, steps=8)
    page.mouse.up()
    expect(labels).to_have_text([names[2], names[0], names[3], names[1]])
    expect(status).to_contain_text(f"{names[2]} is now number 1 of 4")
    shoot(page, "employer-applicants-drag")

    page.get_by_role("button", name="Save ranking").click()
    expect(page.get_by_text("Your ranking of 4 applicants is saved.")).to_be_visible()
    expect(labels).to_have_text([names[2], names[0], names[3], names[1]])
