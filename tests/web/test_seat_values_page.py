"""The seat values page in a real browser: who one more seat would place, the moves it
sets off in plain words, names linked to records, readable at phone width."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from placement.db import get_engine, session_scope
from placement.models import EmployerRanking, User
from placement.services.runs import execution, reading
from tests import factories as f
from tests.web.conftest import LiveServer
from tests.web.helpers import account, sign_in, unique_email

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_one_more_seat_names_who_it_places_and_who_moves(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    # Mo holds the one Microbiology seat (the host ranked him first); Uma wants only
    # Microbiology, Hal holds the one Haematology seat, Mo's second choice. One more
    # Haematology seat: Mo moves there and Uma takes his Microbiology seat.
    tag = unique_email("s").split("@")[0][-6:]
    coordinator = account(live_server.settings, "coordinator", name="Ada Byron")
    with session_scope(live_server.settings) as session:
        org = f.organisation(session, name=f"Queen Elizabeth Labs {tag}")
        rnd = f.round_(session, name=f"Seats round {tag}", status="closed", max_preferences=3)
        micro = f.slot(session, round=rnd, organisation=org, title=f"Microbiology {tag}",
                       capacity=1)  # fmt: skip
        haem = f.slot(session, round=rnd, organisation=org, title=f"Haematology {tag}",
                      capacity=1)  # fmt: skip
        mo, uma, hal = (f.trainee(session, name=n) for n in ("Mo Farah", "Uma Iqbal", "Hal Ng"))
        for trainee, slots in ((mo, [micro, haem]), (uma, [micro]), (hal, [haem])):
            for rank, slot in enumerate(slots, start=1):
                f.preference(session, trainee=trainee, slot=slot, rank=rank)
        session.add(EmployerRanking(slot_id=micro.id, trainee_id=mo.id, rank=1))
        round_id = rnd.id
    settings = live_server.settings
    with Session(get_engine(settings), expire_on_commit=False) as session:
        actor = session.exec(select(User).where(User.email == coordinator)).one()
        assert round_id is not None
        run = reading.start_run(session=session, actor=actor, round_id=round_id,
                                settings=settings)  # fmt: skip
    assert run.id is not None
    execution.execute_run(run.id, settings=settings)

    sign_in(page, coordinator)
    page.goto(live_server(f"/coordinator/runs/{run.id}/seat-values"))
    cards = page.locator("#seat-values > li")
    expect(cards).to_have_count(2)
    haem_card = cards.filter(has_text=f"Haematology {tag} at")
    # Plain words first: who is placed at which of their choices, who moves up or down.
    expect(haem_card.locator(".seat-summary")).to_have_text(
        "One more seat places Uma Iqbal (their 1st choice); "
        "1 trainee moves to a choice they ranked lower."
    )
    expect(haem_card).to_contain_text(
        f"It would place Uma Iqbal at Microbiology {tag}, Queen Elizabeth Labs {tag}"
        " (their 1st choice)."
    )
    expect(haem_card).to_contain_text("To make room, 1 placed trainee would move:")
    expect(haem_card.locator("ol.seat-moves li")).to_have_text(
        f"Mo Farah would move from Microbiology {tag}, Queen Elizabeth Labs {tag}"
        " (their 1st choice) to this slot (their 2nd choice)."
    )
    expect(haem_card).to_contain_text("The match's total cost would go up by")
    micro_card = cards.filter(has_text=f"Microbiology {tag} at")
    expect(micro_card).to_contain_text("It would place Uma Iqbal here (their 1st choice).")
    expect(micro_card.locator(".seat-summary")).to_have_text(
        "One more seat places Uma Iqbal (their 1st choice)."
    )
    assert "+" not in page.locator("#seat-values").inner_text()  # words, not "+5.11"
    # What the cost means: a details component, closed until asked, opened by keyboard.
    help_ = page.locator("details.cost-help")
    expect(help_.locator("summary")).to_have_text("What the cost means")
    expect(help_.get_by_text("lower is better")).to_be_hidden()
    help_.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(help_.get_by_text("lower is better")).to_be_visible()
    expect(micro_card).to_contain_text("Nobody else would move.")
    assert "Trainee " not in page.locator("main").inner_text()  # names, never ids
    check_a11y(page, "seat values with moves")
    shoot(page, "coordinator-seat-values-moves")
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # no sideways scrolling at phone width
    check_a11y(page, "seat values at 390 px")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Keyboard only: Tab reaches the name of the trainee who moves; Enter opens the record.
    link = haem_card.get_by_role("link", name="Mo Farah")
    for _ in range(40):
        page.keyboard.press("Tab")
        if link.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the trainee's name")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mo Farah")
