"""The trainee's journey: edit the profile (with inline errors), browse and filter slots,
rank them with the keyboard, save."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from placement.db import session_scope
from tests import factories as f
from tests.web.conftest import LiveServer
from tests.web.helpers import account, sign_in, unique_email

pytestmark = pytest.mark.browser


def _open_round(live_server: LiveServer, tag: str) -> list[str]:
    with session_scope(live_server.settings) as session:
        lab = f.organisation(session, name=f"Birmingham Clinical Lab {tag}", kind="clinical_lab")
        maker = f.organisation(
            session,
            name=f"Coventry Devices {tag}",
            kind="device_maker",
            latitude=52.41,
            longitude=-1.51,
        )
        far = f.organisation(
            session,
            name=f"Leeds Test House {tag}",
            kind="test_lab",
            latitude=53.80,
            longitude=-1.55,
        )
        rnd = f.round_(session, name=f"Open round {tag}", max_preferences=3)
        titles = [f"Immunology {tag}", f"Device testing {tag}", f"Far away {tag}"]
        f.slot(session, round=rnd, organisation=lab, title=titles[0], discipline="immunology")
        f.slot(
            session,
            round=rnd,
            organisation=maker,
            title=titles[1],
            discipline="quality",
            latitude=52.41,
            longitude=-1.51,
        )
        f.slot(
            session,
            round=rnd,
            organisation=far,
            title=titles[2],
            discipline="quality",
            latitude=53.80,
            longitude=-1.55,
        )
    return titles


def test_trainee_edits_profile_and_ranks_slots(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    tag = unique_email("x")[2:8]
    titles = _open_round(live_server, tag)
    sign_in(page, account(live_server.settings, "trainee", name="Sam Patel"))

    # The profile: a bad value is explained beside its field, then fixed.
    page.get_by_label("Qualification level").select_option("4")
    page.get_by_label("Skills").fill("pipetting, ELISA")
    to_do = page.get_by_role("region", name="Before you can rank placements")
    expect(to_do).to_contain_text("Add your home postcode")
    expect(page.get_by_label("Home latitude")).to_have_count(0)
    page.get_by_label("Home postcode").fill("b7 4bb")
    page.get_by_label("Furthest you can travel (km)").fill("-5")
    page.get_by_label("Available from").fill("2027-01-04")
    page.get_by_label("Available until").fill("2027-07-02")
    # DBS clearance is what a coordinator recorded, shown here, not a box to tick.
    expect(page.get_by_text("No DBS check is recorded for you.")).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile("DBS", re.I))).to_have_count(0)
    page.get_by_role("button", name="Save profile").click()
    error = page.locator("#max_travel_km-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Furthest you can travel must be more than 0")
    expect(page.locator("#error-summary a[href='#max_travel_km']")).to_be_visible()
    expect(page.locator("#error-summary")).to_be_visible()
    # What was typed is kept.
    assert page.get_by_label("Skills").input_value() == "pipetting, ELISA"
    check_a11y(page, "profile with errors")
    shoot(page, "trainee-profile-errors")
    page.get_by_label("Furthest you can travel (km)").fill("60")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    assert page.get_by_label("Furthest you can travel (km)").input_value() == "60"
    assert page.get_by_label("Home postcode").input_value() == "B7 4BB"
    expect(to_do).to_have_count(0)
    check_a11y(page, "profile")
    shoot(page, "trainee-profile")

    # Browse with filters: host kind, discipline, distance from home.
    page.get_by_role("link", name="Find placements").click()
    table = page.locator("main table")
    for title in titles:
        expect(table).to_contain_text(title)
    page.get_by_label("Within (km of home)").fill("50")
    page.get_by_role("button", name="Show placements").click()
    expect(table).not_to_contain_text(titles[2])
    page.get_by_label("Kind of host").select_option("device_maker")
    page.get_by_role("button", name="Show placements").click()
    expect(table).to_contain_text(titles[1])
    expect(table).not_to_contain_text(titles[0])
    check_a11y(page, "browse")
    shoot(page, "trainee-browse")

    page.get_by_label("Kind of host").select_option("")
    page.get_by_label("Within (km of home)").fill("")
    page.get_by_role("button", name="Show placements").click()
    page.get_by_role("link", name=titles[0]).click()
    expect(page.get_by_role("heading", name=titles[0])).to_be_visible()
    check_a11y(page, "slot page")
    shoot(page, "trainee-slot")
    page.get_by_role("button", name="Add to my choices").click()
    expect(page.get_by_text("added as choice 1")).to_be_visible()
    for title in titles[1:]:
        page.get_by_role("link", name="Add more placements").click()
        page.get_by_role("button", name=f"Add {title}").click()

    # Reorder with the keyboard: focus "Move up" on the last choice and press Enter.
    items = page.locator("ol.ranking li .label")
    expect(items).to_have_text(_in_order(titles))
    expect(page.locator("ol.ranking[data-ready]")).to_be_visible()  # the script is on
    page.get_by_role("button", name=f"Move up: {titles[2]}").focus()
    page.keyboard.press("Enter")
    expect(items).to_have_text(_in_order([titles[0], titles[2], titles[1]]))
    page.keyboard.press("Enter")  # focus stays on the moved item's button
    expect(items).to_have_text(_in_order([titles[2], *titles[:2]]))
    expect(page.locator("#ranking-status")).to_contain_text("is now number 1 of 3")
    page.get_by_role("button", name=f"Remove: {titles[1]}").click()
    # With JavaScript each change is saved as it happens, and said so.
    expect(page.locator("[data-save-state]")).to_contain_text("Saved")
    expect(page.locator("#ranking-status")).to_contain_text("Saved.")
    check_a11y(page, "choices")
    shoot(page, "trainee-choices")
    page.reload()
    expect(items).to_have_text(_in_order([titles[2], titles[0]]))
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_text("Your 2 choices are saved")).to_be_visible()
    expect(items).to_have_text(_in_order([titles[2], titles[0]]))

    page.get_by_role("link", name="My placement").click()
    expect(page.get_by_text("You have no placement yet.")).to_be_visible()
    check_a11y(page, "placement (none yet)")


def test_trainee_sees_and_downloads_everything_held_about_them(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    tag = unique_email("x")[2:8]
    titles = _open_round(live_server, tag)
    email = account(live_server.settings, "trainee", name="Nia Roberts", profile=True)
    sign_in(page, email)
    page.get_by_role("link", name="Find placements").click()
    page.get_by_role("button", name=f"Add {titles[0]}").click()

    page.get_by_role("link", name="Your data").click()
    main = page.locator("main")
    for heading in ("Your account", "Your profile", "Your rounds and choices", "What you did"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(main).to_contain_text(email)
    expect(main).to_contain_text(titles[0])
    check_a11y(page, "your data")
    shoot(page, "trainee-data")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download all of it (JSON)").click()
    download = info.value
    assert download.suggested_filename == "placement-my-data.json"
    with open(download.path(), encoding="utf-8") as handle:
        data = json.load(handle)
    assert data["format"] == "placement-personal-data/1"
    assert data["account"]["email"] == email and "password_hash" not in data["account"]
    assert [p["slot_title"] for p in data["preferences"]] == [titles[0]]


def _in_order(titles: list[str]) -> list[re.Pattern[str]]:
    """What the choices' labels read, in this order: "<title> at <host>..."."""
    return [re.compile(rf"^{re.escape(title)} at ") for title in titles]
