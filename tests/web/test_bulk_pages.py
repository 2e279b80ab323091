"""Bulk actions in the browser: a coordinator selects rows (one by one or all on the page,
with the keyboard) and invites, withdraws (after a confirmation in numbers) or verifies."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from placement.db import session_scope
from placement.models import AuditEvent, RoundTrainee
from tests import factories as f
from tests.web.conftest import LiveServer
from tests.web.helpers import account, sign_in, unique_email

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_coordinator_selects_trainees_with_the_keyboard_and_withdraws_and_invites(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    tag = unique_email("b").split("@")[0][-6:]
    with session_scope(live_server.settings) as session:
        org = f.organisation(session, name=f"Solihull Labs {tag}")
        rnd = f.round_(session, name=f"Bulk round {tag}")
        slot = f.slot(session, round=rnd, organisation=org, title=f"Assays {tag}")
        names = [f"Ada {tag}", f"Brian {tag}", f"Chloe {tag}"]
        people = [f.trainee(session, name=name) for name in names]
        for t in people:
            session.add(RoundTrainee(round_id=f.pk(rnd), trainee_id=f.pk(t)))
        f.preference(session, trainee=people[0], slot=slot, rank=1)
        f.preference(session, trainee=people[1], slot=slot, rank=1)
        round_id = f.pk(rnd)
    sign_in(page, account(live_server.settings, "coordinator"))
    page.goto(f"/coordinator/rounds/{round_id}/trainees")
    count = page.locator("[data-bulk-count]")
    expect(count).to_have_text("None selected")

    # "Select all on this page" by keyboard: focus it and press Space.
    select_all = page.get_by_role("checkbox", name="Select all 3 on this page")
    select_all.focus()
    page.keyboard.press("Space")
    expect(count).to_have_text("3 selected")
    for name in names:
        expect(page.get_by_role("checkbox", name=f"Select {name}")).to_be_checked()
    # Tab moves on to the first row's own box; Space unticks Chloe's.
    chloe = page.get_by_role("checkbox", name=f"Select {names[2]}")
    chloe.focus()
    page.keyboard.press("Space")
    expect(count).to_have_text("2 selected")
    assert select_all.evaluate("el => el.indeterminate")
    check_a11y(page, "trainees with bulk selection")
    shoot(page, "coordinator-trainees-bulk")

    page.get_by_role("button", name="Withdraw the selected from the round").click()
    heading = page.get_by_role("heading", name=f"Withdraw 2 trainees from Bulk round {tag}?")
    expect(heading).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Selected2")
    expect(facts).to_contain_text("Their choices removed2")
    expect(page.locator("#consequence")).to_contain_text("2 trainees leave the round")
    expect(page.locator("#removed")).to_contain_text(names[0])
    check_a11y(page, "bulk withdrawal confirmation")
    shoot(page, "coordinator-bulk-withdraw-confirm")
    page.get_by_role("button", name="Yes, withdraw 2 trainees").click()
    expect(page.get_by_text("2 trainees withdrawn from the round.")).to_be_visible()
    rows = page.locator("#trainees tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(names[2])

    # Invite the one left; asked again at once, nobody is mailed twice.
    page.get_by_role("checkbox", name=f"Select {names[2]}").check()
    page.get_by_role("button", name="Invite the selected trainees").click()
    expect(page.get_by_text("Invitations sent to 1 trainee.")).to_be_visible()
    page.get_by_role("checkbox", name=f"Select {names[2]}").check()
    page.get_by_role("button", name="Invite the selected trainees").click()
    expect(page.get_by_text("invited in the last hour")).to_be_visible()

    # Nothing selected: told so, nothing done.
    page.get_by_role("button", name="Invite the selected trainees").click()
    expect(page.get_by_text("Select at least one trainee first.")).to_be_visible()
    with session_scope(live_server.settings) as session:
        actions = session.exec(
            select(AuditEvent.action).where(AuditEvent.round_id == round_id)
        ).all()
    assert sorted(actions) == [
        "trainee.invite",
        "trainee.withdraw_from_round",
        "trainee.withdraw_from_round",
    ]


def test_coordinator_verifies_selected_hosts(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    tag = unique_email("v").split("@")[0][-6:]
    with session_scope(live_server.settings) as session:
        first = f.organisation(session, name=f"Aston Labs {tag}", verified=False)
        second = f.organisation(session, name=f"Bournville Labs {tag}", verified=False)
        left = f.organisation(session, name=f"Coventry Labs {tag}", verified=False)
        ids = [f.pk(first), f.pk(second), f.pk(left)]
    sign_in(page, account(live_server.settings, "coordinator"))
    page.goto("/coordinator/organisations")
    page.get_by_role("checkbox", name=f"Select Aston Labs {tag}").check()
    page.get_by_role("checkbox", name=f"Select Bournville Labs {tag}").check()
    page.get_by_label("What you checked").fill("UKAS register entries")
    check_a11y(page, "hosts with bulk verification")
    shoot(page, "coordinator-hosts-bulk")
    page.get_by_role("button", name="Verify the selected hosts").click()
    expect(page.get_by_text("2 hosts verified: they can now post slots.")).to_be_visible()
    expect(page.get_by_role("checkbox", name=f"Select Aston Labs {tag}")).to_have_count(0)
    expect(page.get_by_role("checkbox", name=f"Select Coventry Labs {tag}")).to_be_visible()
    with session_scope(live_server.settings) as session:
        verified = session.exec(
            select(AuditEvent.object_id).where(AuditEvent.action == "organisation.verify")
        ).all()
    assert {str(ids[0]), str(ids[1])} <= set(verified)
    assert str(ids[2]) not in verified


def test_coordinator_selects_all_trainees_that_match_beyond_the_page(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    tag = unique_email("m").split("@")[0][-6:]
    with session_scope(live_server.settings) as session:
        rnd = f.round_(session, name=f"Big round {tag}")
        round_id = f.pk(rnd)
        people = [f.trainee(session, name=f"Mira {tag} {i:02d}") for i in range(55)]
        people += [f.trainee(session, name=f"Other {tag} {i}") for i in range(3)]
        for t in people:
            session.add(RoundTrainee(round_id=round_id, trainee_id=f.pk(t)))
    sign_in(page, account(live_server.settings, "coordinator"))

    # The whole round (58, the page shows 50): invite everyone, by keyboard.
    page.goto(f"/coordinator/rounds/{round_id}/trainees")
    count = page.locator("[data-bulk-count]")
    everyone = page.get_by_role("checkbox", name="Select all 58 trainees in this round")
    everyone.focus()
    page.keyboard.press("Space")
    expect(count).to_have_text("All 58 selected")
    expect(page.get_by_role("checkbox", name="Select all 50 on this page")).to_be_checked()
    # Unticking one row takes "all" back; ticking "all" again selects them all.
    page.get_by_role("checkbox", name=f"Select Mira {tag} 03").uncheck()
    expect(everyone).not_to_be_checked()
    expect(count).to_have_text("49 selected")
    everyone.check()
    expect(count).to_have_text("All 58 selected")
    check_a11y(page, "trainees with all that match selected")
    shoot(page, "coordinator-trainees-all-matching")
    page.get_by_role("button", name="Invite the selected trainees").click()
    expect(page.get_by_text("Invitations sent to 58 trainees.")).to_be_visible()

    # A search matching 55 of them: withdraw all that match, after a confirmation.
    page.get_by_label("Name or email").fill(f"Mira {tag}")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("checkbox", name=f"Select all 55 trainees that match “Mira {tag}”").check()
    page.get_by_role("button", name="Withdraw the selected from the round").click()
    expect(
        page.get_by_role("heading", name=f"Withdraw 55 trainees from Big round {tag}?")
    ).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Selected55")
    expect(page.locator("#removed li")).to_have_count(51)
    expect(page.locator("#removed")).to_contain_text("and 5 more trainees")
    check_a11y(page, "withdraw all that match confirmation")
    page.get_by_role("button", name="Yes, withdraw 55 trainees").click()
    expect(page.get_by_text("55 trainees withdrawn from the round.")).to_be_visible()
    page.goto(f"/coordinator/rounds/{round_id}/trainees")
    rows = page.locator("#trainees tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#all-matching")).to_have_count(0)  # one page: nothing beyond it
    with session_scope(live_server.settings) as session:
        left = session.exec(
            select(RoundTrainee.trainee_id).where(RoundTrainee.round_id == round_id)
        ).all()
        invited = session.exec(
            select(AuditEvent.trainee_id).where(
                AuditEvent.round_id == round_id, AuditEvent.action == "trainee.invite"
            )
        ).all()
    assert set(left) == {f.pk(t) for t in people[55:]}
    assert len(invited) == 58
