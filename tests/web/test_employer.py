"""The employer's journey: organisation (awaiting verification until a coordinator verifies
it), post and edit a slot, rank its applicants."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from placement.db import session_scope
from placement.models import Round, Slot, User
from tests import factories as f
from tests.web.conftest import LiveServer
from tests.web.helpers import account, sign_in, unique_email

pytestmark = pytest.mark.browser


def test_employer_posts_a_slot_and_ranks_applicants(
    browser: Any, page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    tag = unique_email("x")[2:8]
    with session_scope(live_server.settings) as session:
        rnd = f.round_(session, name=f"Autumn round {tag}")
        round_id = rnd.id
    org_name = f"Solihull Device Works {tag}"
    sign_in(page, account(live_server.settings, "employer", name="Gareth Pritchard"))

    # The organisation, with an out-of-range value first.
    page.get_by_label("Organisation name").fill(org_name)
    page.get_by_label("Kind of host").select_option("device_maker")
    page.get_by_label("Accreditations").fill("ISO 13485; ISO 9001")
    page.get_by_label("Postcode").fill("ZE9 9ZZ")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.locator("#postcode-error")).to_contain_text("could not find postcode ZE9 9ZZ")
    page.get_by_label("Postcode").fill("b90 8ag")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_role("heading", name="Awaiting verification")).to_be_visible()
    check_a11y(page, "organisation awaiting verification")
    shoot(page, "employer-organisation")
    page.get_by_role("link", name="Slots").click()
    expect(page.get_by_role("heading", name="Awaiting verification")).to_be_visible()
    expect(page.get_by_role("link", name="Post a slot")).to_have_count(0)

    # A coordinator verifies the host.
    other = browser.new_context(base_url=live_server.url)
    coordinator = other.new_page()
    sign_in(coordinator, account(live_server.settings, "coordinator"))
    coordinator.get_by_role("link", name="Hosts", exact=True).click()
    coordinator.get_by_role("link", name=f"Review and verify {org_name}").click()
    coordinator.get_by_role("button", name=f"Verify {org_name}").click()
    expect(coordinator.get_by_text(f"{org_name} is verified")).to_be_visible()
    other.close()

    page.reload()
    page.get_by_role("link", name="Post a slot").click()
    page.get_by_label("Round").select_option(str(round_id))
    page.get_by_label("Title").fill(f"Sterilisation validation {tag}")
    page.get_by_label("Discipline").fill("quality")
    page.get_by_label("What the placement covers").fill("Validating steam sterilisers.")
    page.get_by_label("Skills wanted").fill("documentation, ISO 13485")
    page.get_by_label("Seats").fill("2")
    page.get_by_label("Starts on").fill("2027-02-01")
    page.get_by_label("Ends on").fill("2027-01-01")
    page.get_by_role("button", name="Post slot").click()
    expect(page.locator("#ends_on-error")).to_contain_text(
        "End date must be on or after start date"
    )
    expect(page.locator("#error-summary a[href='#ends_on']")).to_have_text(
        "End date must be on or after start date"
    )
    check_a11y(page, "slot form with errors")
    shoot(page, "employer-slot-form")
    page.get_by_label("Ends on").fill("2027-05-28")
    page.get_by_role("button", name="Post slot").click()
    expect(page.get_by_text(f"Slot “Sterilisation validation {tag}” posted.")).to_be_visible()

    # Edit it: more seats, and at another site (the postcode moves it).
    page.get_by_role("link", name=f"Edit Sterilisation validation {tag}").click()
    expect(page.get_by_label("Site postcode")).to_have_value("B90 8AG")  # the host's
    expect(page.get_by_label("Site latitude")).to_have_count(0)
    page.get_by_label("Seats").fill("3")
    page.get_by_label("Site postcode").fill("cv4 7ez")
    page.get_by_role("button", name="Save slot").click()
    expect(page.get_by_text("saved").first).to_be_visible()
    with session_scope(live_server.settings) as session:
        moved = session.exec(
            select(Slot).where(Slot.title == f"Sterilisation validation {tag}")
        ).one()
        assert (moved.postcode, moved.latitude, moved.longitude) == ("CV4 7EZ", 52.386, -1.556)
    expect(page.locator("main table")).to_contain_text("0 / 3")
    check_a11y(page, "slots")
    shoot(page, "employer-slots")

    # Three trainees rank the slot; the employer puts them in order.
    with session_scope(live_server.settings) as session:
        slot = session.exec(
            select(Slot).where(Slot.title == f"Sterilisation validation {tag}")
        ).one()
        names = [f"Applicant {c} {tag}" for c in "ABC"]
        for name in names:
            f.preference(session, trainee=f.trainee(session, name=name), slot=slot, rank=1)
    page.get_by_role("link", name=f"Applicants for Sterilisation validation {tag}").click()
    # Nobody is ranked at first: the applicants are listed by name, unnumbered, with what
    # helps decide, and never the trainee's own rank of the slot.
    labels = page.locator("ol.ranking li .label strong")
    waiting = page.locator("ul.unranked li .label strong")
    expect(labels).to_have_count(0)
    expect(waiting).to_have_text(names)
    expect(page.locator("ul.unranked")).to_contain_text("0 of 2 skills wanted")
    expect(page.locator("main")).not_to_contain_text("their choice")
    check_a11y(page, "applicants, none ranked")
    for name in names:
        page.get_by_role("button", name=f"Rank {name} next").click()
    expect(labels).to_have_text(names)
    expect(page.locator("[data-unsaved-notice]")).to_be_visible()
    expect(page.locator("ol.ranking[data-ready]")).to_be_visible()  # the script is on
    # Keyboard: "Move down" on the first, then Enter again on the focused control.
    page.get_by_role("button", name=f"Move down: {names[0]}").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#ranking-status")).to_contain_text("is now number 2 of 3")
    expect(labels).to_have_text([names[1], names[0], names[2]])
    # Move to a position: the last to the top in one step.
    page.get_by_label(f"Position for {names[2]}").select_option("1")
    page.get_by_role("button", name=f"Move {names[2]} to the chosen position").click()
    expect(labels).to_have_text([names[2], names[1], names[0]])
    expect(page.get_by_label(f"Position for {names[0]}")).to_have_value("3")
    check_a11y(page, "applicants")
    shoot(page, "employer-applicants")
    page.get_by_role("button", name="Save ranking").click()
    expect(page.get_by_text("Your ranking of 3 applicants is saved.")).to_be_visible()
    expect(labels).to_have_text([names[2], names[1], names[0]])
    expect(page.locator("[data-unsaved-notice]")).to_be_hidden()

    page.get_by_role("link", name="Placements").click()
    expect(page.get_by_text("No placements yet.")).to_be_visible()
    check_a11y(page, "employer placements")


def test_employer_deletes_a_slot_and_is_told_when_it_is_too_late(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    tag = unique_email("d")[2:8]
    email = account(live_server.settings, "employer", name="Priya Shah")
    with session_scope(live_server.settings) as session:
        owner = session.exec(select(User).where(User.email == email)).one()
        org = f.organisation(session, owner_id=owner.id, name=f"Dudley Devices {tag}")
        rnd = f.round_(session, name=f"Winter round {tag}")
        doomed = f.slot(session, round=rnd, organisation=org, title=f"Packaging {tag}")
        f.slot(session, round=rnd, organisation=org, title=f"Calibration {tag}")
        f.preference(session, trainee=f.trainee(session), slot=doomed, rank=1)
        round_id = rnd.id
    sign_in(page, email)
    page.get_by_role("link", name="Slots", exact=True).click()
    page.get_by_role("link", name=f"Delete Packaging {tag}").click()
    expect(page.get_by_role("heading", name=f"Delete “Packaging {tag}”?")).to_be_visible()
    expect(page.get_by_text("1 trainee chose it")).to_be_visible()
    check_a11y(page, "delete slot confirmation")
    shoot(page, "employer-delete-confirm")
    page.get_by_role("button", name="Yes, delete it").click()
    expect(page.get_by_text(f"Slot “Packaging {tag}” deleted.")).to_be_visible()
    expect(page.locator("main table")).not_to_contain_text(f"Packaging {tag}")

    # The round closes while the confirmation is open: the refusal is explained in place.
    page.get_by_role("link", name=f"Delete Calibration {tag}").click()
    with session_scope(live_server.settings) as session:
        closing = session.get(Round, round_id)
        assert closing is not None
        closing.status = "closed"
    page.get_by_role("button", name="Yes, delete it").click()
    problem = page.locator("#problem")
    expect(problem).to_contain_text("Cannot delete slots while the round is closed")
    expect(page.get_by_role("button", name="Yes, delete it")).to_have_count(0)
    check_a11y(page, "delete slot refused")
    shoot(page, "employer-delete-refused")
    page.get_by_role("link", name="Go back").click()
    expect(page.locator("main table")).to_contain_text(f"Calibration {tag}")
