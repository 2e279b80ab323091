"""Issue 12 in a real browser with a real worker: both modes from one click, compared side
by side (one chart), the Why panel in words, the seat values page, and the trainee's
explained outcome after publish."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from placement.db import session_scope
from placement.models import MatchRun, Placement, PlacementStatus, Trainee, User
from placement.services import approvals, rounds
from tests import factories as f
from tests.web.conftest import LiveServer
from tests.web.helpers import account, sign_in, unique_email

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _round(live_server: LiveServer, tag: str) -> tuple[int, str, dict[str, str]]:
    """Four trainees want one Microbiology seat; Haematology is everyone's second choice
    (one seat), and a DBS-only ward lab is Ola's first choice (she has no DBS check)."""
    emails = {
        name: account(live_server.settings, "trainee", name=name, profile=True)
        for name in ("Ola Ade", "Pia Park", "Quin Qi", "Rui Rao")
    }
    with session_scope(live_server.settings) as session:
        org = f.organisation(session, name=f"Selly Oak Labs {tag}")
        rnd = f.round_(session, name=f"Modes round {tag}", status="closed", max_preferences=3)
        micro = f.slot(
            session, round=rnd, organisation=org, title=f"Microbiology {tag}", capacity=1
        )
        haem = f.slot(session, round=rnd, organisation=org, title=f"Haematology {tag}", capacity=1)
        ward = f.slot(
            session, round=rnd, organisation=org, title=f"Ward lab {tag}", capacity=1,
            requires_dbs=True,
        )  # fmt: skip
        for name, email in emails.items():
            user = session.exec(select(User).where(User.email == email)).one()
            trainee = session.exec(select(Trainee).where(Trainee.user_id == user.id)).one()
            trainee.dbs_cleared = name != "Ola Ade"
            order = [ward, micro, haem] if name == "Ola Ade" else [micro, haem]
            for rank, slot in enumerate(order, start=1):
                f.preference(session, trainee=trainee, slot=slot, rank=rank)
        assert rnd.id is not None
        return rnd.id, rnd.name, emails


def test_side_by_side_why_and_seat_values(
    context: Any,
    page: Any,
    live_server: LiveServer,
    worker_factory: Any,
    check_a11y: Any,
    shoot: Any,
) -> None:
    tag = unique_email("m").split("@")[0][-6:]
    round_id, round_name, emails = _round(live_server, tag)
    coordinator = account(live_server.settings, "coordinator", name="Grace Hopper")
    worker_factory(live_server.env)

    sign_in(page, coordinator)
    page.goto(live_server(f"/coordinator/rounds/{round_id}"))
    page.get_by_role("button", name="Run both modes side by side").click()
    expect(page.get_by_role("heading", name=re.compile(r".+ and .+ compared"))).to_be_visible()
    # The page follows both runs and shows the comparison once both have finished.
    page.locator("#compare-stats").wait_for(timeout=90_000)
    stats = page.locator("#compare-stats").inner_text()
    assert "Optimal (most placed)" in stats and "Stable (no blocking pairs)" in stats
    assert "Blocking pairs" in stats
    chart = page.locator("svg[role=img]")
    expect(chart).to_have_count(1)
    legend = chart.locator("text").all_text_contents()
    assert any(": optimal" in t for t in legend) and any(": stable" in t for t in legend)
    expect(page.locator("#compare-ranks")).to_be_visible()
    differing = page.locator("#compare-trainees")
    if differing.count():
        assert "→" in differing.inner_text()
    check_a11y(page, "side by side")
    shoot(page, "coordinator-side-by-side")

    with session_scope(live_server.settings) as session:
        optimal = session.exec(
            select(MatchRun).where(MatchRun.round_id == round_id, MatchRun.mode == "optimal")
        ).one()
        optimal_id = optimal.id
        ola_user = session.exec(select(User).where(User.email == emails["Ola Ade"])).one()
        ola_id = session.exec(select(Trainee.id).where(Trainee.user_id == ola_user.id)).one()

    # The Why panel speaks in words, not weighted terms.
    page.goto(live_server(f"/coordinator/runs/{optimal_id}"))
    page.locator("details.why summary").first.click()
    panel = page.locator("details.why[data-why-loaded]")
    panel.wait_for()
    expect(panel).to_contain_text(re.compile("Choice 1|Nothing ranked higher"))
    expect(panel).to_contain_text("Cost ")
    assert "\u00d7" not in panel.inner_text()  # no "30.250 x 0.25" terms
    check_a11y(page, "run page with why panel")
    shoot(page, "coordinator-why-words")
    # Ola's first choice needs a DBS check: said in words on her Why page.
    page.goto(live_server(f"/coordinator/runs/{optimal_id}/trainees/{ola_id}/why"))
    expect(page.locator("main")).to_contain_text(
        "This placement needs a DBS check, and they do not have one on record."
    )
    check_a11y(page, "why page in words")
    page.goto(live_server(f"/coordinator/runs/{optimal_id}"))

    # Seat values: one more Microbiology or Haematology seat places someone, named and
    # linked to their record (an unplaced trainee of the run, never an id).
    page.get_by_role("link", name="Where one more seat would help").click()
    listing = page.locator("#seat-values")
    expect(listing).to_contain_text("One more seat places ")
    expect(listing).to_contain_text(re.compile(f"Microbiology {tag}|Haematology {tag}"))
    placed = listing.locator(".seat-placed a")
    expect(placed).to_have_count(2)
    names = placed.all_text_contents()
    assert set(names) <= set(emails) and len(set(names)) >= 1, names
    expect(listing.locator(".seat-placed").first).to_contain_text("It would place ")
    check_a11y(page, "seat values")
    shoot(page, "coordinator-seat-values")
    # Keyboard: the trainee's name is a link reached with Tab and followed with Enter.
    placed.first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(names[0])
    page.go_back()

    # Approve the optimal run, publish; a trainee sees why, with no other trainee's name.
    with session_scope(live_server.settings) as session:
        actor = session.exec(select(User).where(User.email == coordinator)).one()
        assert optimal_id is not None
        approvals.approve_all(session=session, actor=actor, run_id=optimal_id)
        rounds.transition_round(session=session, actor=actor, round_id=round_id, action="publish")
        ola_placed = session.exec(
            select(Placement).where(
                Placement.trainee_id == ola_id, Placement.status == PlacementStatus.LIVE
            )
        ).first()
    trainee_page = context.browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}
    ).new_page()
    sign_in(trainee_page, emails["Ola Ade"])
    trainee_page.goto(live_server("/trainee/placement"))
    section = trainee_page.locator("section", has_text=f"Why you got this result in {round_name}")
    expect(section).to_contain_text("This placement needs a DBS check, and you do not have one")
    text = section.inner_text()
    # The explanation comes from the run the coordinator acted on, not the other mode's.
    assert ("You were not placed" in text) == (ola_placed is None), text
    if ola_placed is None:
        # Unplaced: with a DBS check the ward lab's free seat places her, every optimum.
        expect(section).to_contain_text(
            f"What would have changed it: With a DBS check, you would have been placed at "
            f"Ward lab {tag}"
        )
    assert not any(n in text for n in ("Pia Park", "Quin Qi", "Rui Rao"))
    check_a11y(trainee_page, "trainee outcome")
    shoot(trainee_page, "trainee-outcome")
