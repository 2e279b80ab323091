"""Offers in a real browser: a trainee accepts one offer and declines another (with a
reason) on their placement page, at phone width; the host sees who accepted and how to
reach them; the coordinator's offer report counts both. Each page passes axe-core."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from placement.db import session_scope
from placement.models import Placement, Round, Slot, Trainee, User, utcnow
from tests import factories as f
from tests.web.conftest import LiveServer
from tests.web.helpers import account, sign_in, unique_email

pytestmark = pytest.mark.browser


def _offer(session: Any, *, trainee: Trainee, slot: Slot, days: int = 7) -> None:
    now = utcnow()
    session.add(
        Placement(
            round_id=slot.round_id,
            trainee_id=f.pk(trainee),
            slot_id=f.pk(slot),
            offer_status="offered",
            offered_at=now,
            offer_expires_at=now + timedelta(days=days),
        )
    )
    slot.filled += 1


def _world(live_server: LiveServer, tag: str) -> dict[str, str]:
    emails = {
        "maya": account(live_server.settings, "trainee", name="Maya Osei", profile=True),
        "tom": account(live_server.settings, "trainee", name="Tom Reid", profile=True),
        "host": account(live_server.settings, "employer", name="Hana Host"),
        "coordinator": account(live_server.settings, "coordinator", name="Cleo Coordinator"),
    }
    with session_scope(live_server.settings) as session:

        def trainee(email: str) -> Trainee:
            user = session.exec(select(User).where(User.email == email)).one()
            return session.exec(select(Trainee).where(Trainee.user_id == user.id)).one()

        host_user = session.exec(select(User).where(User.email == emails["host"])).one()
        host = f.organisation(session, owner_id=host_user.id, name=f"Walsall Assays {tag}")
        rnd: Round = f.round_(session, name=f"Spring {tag}", status="published")
        assay = f.slot(session, round=rnd, organisation=host, title=f"Assay validation {tag}")
        device = f.slot(session, round=rnd, organisation=host, title=f"Device testing {tag}")
        maya, tom = trainee(emails["maya"]), trainee(emails["tom"])
        maya.needs = "Step-free access"
        maya.share_needs = True
        f.preference(session, trainee=maya, slot=assay, rank=1)
        f.preference(session, trainee=tom, slot=assay, rank=1)
        f.preference(session, trainee=tom, slot=device, rank=2)
        _offer(session, trainee=maya, slot=assay)
        _offer(session, trainee=tom, slot=device)
        emails["round_id"] = str(rnd.id)
    return emails


def test_trainees_answer_offers_and_hosts_and_coordinators_see_it(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    tag = unique_email("x")[2:8]
    w = _world(live_server, tag)
    page.set_viewport_size({"width": 390, "height": 844})

    # Maya accepts her first choice.
    sign_in(page, w["maya"])
    page.goto("/trainee/placement")
    card = page.locator("section.offer", has_text=f"Assay validation {tag}")
    expect(card).to_contain_text("Number 1 on your list")
    expect(card).to_contain_text("Accept or decline this placement by")
    expect(card).to_contain_text(f"Walsall Assays {tag}")
    check_a11y(page, "placement with an open offer")
    shoot(page, "trainee-offer")
    card.get_by_role("button", name="Accept this placement").click()
    expect(page.get_by_text(f"You accepted Assay validation {tag}")).to_be_visible()
    card = page.locator("section.offer", has_text=f"Assay validation {tag}")
    expect(card).to_contain_text("Who to contact")
    expect(card.get_by_role("link", name=w["host"])).to_be_visible()
    expect(card.get_by_role("button", name="Accept this placement")).to_have_count(0)
    check_a11y(page, "placement accepted")
    page.get_by_role("button", name="Sign out").click()

    # Tom declines his second choice, saying why; the seat is free and he is told that a
    # clearing run may still place him.
    sign_in(page, w["tom"])
    page.goto("/trainee/placement")
    card = page.locator("section.offer", has_text=f"Device testing {tag}")
    expect(card).to_contain_text("Number 2 on your list")
    card.get_by_role("link", name="Decline").click()
    expect(page.get_by_role("heading", name=f"Decline Device testing {tag}?")).to_be_visible()
    page.get_by_label("Why are you declining? (optional)").fill("x" * 1001)
    page.get_by_role("button", name="Yes, decline it").click()
    expect(page.locator("#reason-error")).to_contain_text("1000")
    check_a11y(page, "decline with an error")
    page.get_by_label("Why are you declining? (optional)").fill("I start a job in March.")
    page.get_by_role("button", name="Yes, decline it").click()
    expect(page.get_by_text(f"You declined Device testing {tag}")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"No placement yet in Spring {tag}")
    expect(page.locator("main")).to_contain_text(
        f"You declined the offer of Device testing {tag} at Walsall Assays {tag}."
    )
    expect(page.locator("main")).to_contain_text("clearing run")
    check_a11y(page, "placement declined")
    shoot(page, "trainee-declined")
    page.get_by_role("button", name="Sign out").click()

    # The host sees who accepted (with email and shared needs) and who declined.
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, w["host"])
    page.goto("/employer/placements")
    table = page.locator("#offers")
    maya_row = table.locator("tr", has_text="Maya Osei")
    expect(maya_row).to_contain_text("Accepted")
    expect(maya_row).to_contain_text(w["maya"])
    expect(maya_row).to_contain_text("Step-free access")
    tom_row = table.locator("tr", has_text="Tom Reid")
    expect(tom_row).to_contain_text("Declined")
    expect(tom_row).not_to_contain_text(w["tom"])
    expect(tom_row).not_to_contain_text("I start a job")
    check_a11y(page, "employer offers")
    shoot(page, "employer-offers")
    page.get_by_role("button", name="Sign out").click()

    # The coordinator's report counts them and lists the freed seat.
    sign_in(page, w["coordinator"])
    page.goto(f"/coordinator/rounds/{w['round_id']}/report")
    counts = page.locator("#offer-counts")
    expect(counts).to_contain_text("Accepted")
    expect(page.locator("#free-seats")).to_contain_text(f"Device testing {tag}")
    check_a11y(page, "offer report")
    shoot(page, "coordinator-offer-report")
    with session_scope(live_server.settings) as session:
        statuses = sorted(
            str(p.offer_status)
            for p in session.exec(
                select(Placement).where(Placement.round_id == int(w["round_id"]))
            ).all()
        )
        assert statuses == ["accepted", "declined"]
