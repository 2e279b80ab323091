"""The coordinator's journey, end to end, with a real `placement worker` on the embedded
broker: import, close, run (watching the progress), compare, approve, publish; then the
trainee sees their placement."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from placement.db import session_scope
from placement.models import Placement
from placement.services.users import create_user
from tests import factories as f
from tests.web.conftest import LiveServer
from tests.web.helpers import PASSWORD, account, sign_in, unique_email

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HEADER = (
    "name,email,level,skills,latitude,longitude,max_travel_km,available_from,available_to,"
    "dbs_cleared,preferences"
)


def _trainee_row(name: str, email: str, level: str, prefs: str) -> str:
    return f"{name},{email},{level},pipetting,52.48,-1.89,40,2027-01-04,2027-07-02,true,{prefs}"


def _round_with_slots(live_server: LiveServer, tag: str) -> tuple[int, str]:
    with session_scope(live_server.settings) as session:
        org = f.organisation(session, name=f"Edgbaston Test Labs {tag}")
        rnd = f.round_(session, name=f"Spring round {tag}", max_preferences=3)
        f.slot(session, round=rnd, organisation=org, title=f"Microbiology {tag}", capacity=1)
        f.slot(session, round=rnd, organisation=org, title=f"Haematology {tag}", capacity=2)
        f.slot(session, round=rnd, organisation=org, title=f"Calibration {tag}", capacity=1)
        assert rnd.id is not None
        return rnd.id, rnd.name


def test_coordinator_runs_a_round_to_publication(
    context: Any,
    page: Any,
    live_server: LiveServer,
    worker_factory: Any,
    check_a11y: Any,
    shoot: Any,
    tmp_path: Path,
) -> None:
    tag = unique_email("r").split("@")[0][-6:]
    round_id, round_name = _round_with_slots(live_server, tag)
    coordinator = account(live_server.settings, "coordinator", name="Helen Okafor")
    learner = unique_email("learner")
    # Start the worker early: it is ready by the time the run is queued.
    worker = worker_factory(live_server.env)

    sign_in(page, coordinator)
    expect(page.get_by_role("heading", name="Rounds")).to_be_visible()
    check_a11y(page, "coordinator dashboard")
    shoot(page, "coordinator-dashboard")
    page.get_by_role("link", name=round_name).click()
    check_a11y(page, "round page")

    # A file with a bad row: nothing is stored, and the rows' problems show as a table.
    page.get_by_role("link", name="Import trainees (CSV)").click()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "\n".join(
            [
                HEADER,
                _trainee_row("Ada Lovelace", unique_email("t"), "4", f"Microbiology {tag}"),
                _trainee_row("Bad Level", unique_email("t"), "7", f"Microbiology {tag}"),
                _trainee_row("Unknown Slot", unique_email("t"), "4", "No such slot"),
            ]
        )
    )
    page.get_by_label("CSV file of trainees").set_input_files(str(bad))
    page.get_by_role("button", name="Preview").click()
    # The preview checks every value, as the import would: no import button, the errors.
    expect(page.get_by_role("button", name="Import 3 trainees")).to_have_count(0)
    errors = page.locator("#import-errors")
    expect(errors).to_be_visible()
    rows = errors.locator("tbody tr")
    assert rows.count() >= 2
    text = errors.inner_text()
    assert "level" in text and "preferences" in text
    check_a11y(page, "import with row errors")
    shoot(page, "coordinator-import-errors")

    good = tmp_path / "good.csv"
    good.write_text(
        "\ufeff"
        + "\n".join(
            [
                HEADER,
                _trainee_row("Amara Osei", learner, "4", f"Microbiology {tag};Haematology {tag}"),
                _trainee_row("Ben Carter", unique_email("t"), "4", f"Microbiology {tag}"),
                _trainee_row("Chen Li", unique_email("t"), "5", f"Haematology {tag}"),
                _trainee_row("Dara Byrne", unique_email("t"), "4", f"Calibration {tag}"),
                _trainee_row("Eve Adams", unique_email("t"), "4", f"Calibration {tag}"),
            ]
        )
        + "\n"
    )
    page.get_by_label("CSV file of trainees").set_input_files(str(good))
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#import-preview")
    expect(preview.locator("tbody tr")).to_have_count(5)
    expect(preview).to_contain_text("Amara Osei")
    check_a11y(page, "import preview")
    shoot(page, "coordinator-import-preview")
    page.get_by_role("button", name="Import 5 trainees").click()
    expect(page.get_by_text("Imported trainees: 5 created, 0 updated.")).to_be_visible()

    # Close the round, with a confirmation step.
    page.get_by_role("link", name="Close the round").click()
    expect(page.get_by_role("heading", name=f"Close “{round_name}”?")).to_be_visible()
    check_a11y(page, "confirmation")
    page.get_by_role("button", name="Yes, close it").click()
    expect(page.get_by_text(f"Round “{round_name}” is now closed.")).to_be_visible()

    # Two runs with different weights, each watched to 100 %.
    run_urls: list[str] = []
    for employer_weight in ("0", "0.5"):
        page.get_by_role("link", name="Start a match run").click()
        if not run_urls:
            check_a11y(page, "run form")
            shoot(page, "coordinator-run-form")
            page.get_by_label("Name (optional)").fill("Preferences only")
        page.get_by_label("Employers' rankings").fill(employer_weight)
        page.get_by_role("button", name="Start run").click()
        progress = page.locator("[data-progress-url]")
        progress.wait_for()
        # The page polls the run and, once it has succeeded, shows the results (the
        # progress bar may already be gone by the time we look: the page reloads itself).
        page.wait_for_selector("[data-status=succeeded], #run-stats", timeout=90_000)
        page.locator("#run-stats").wait_for(timeout=30_000)
        run_urls.append(page.url)
        page.get_by_role("link", name=round_name).click()
    assert "succeeded" in worker.output() or "Task" in worker.output()

    # Compare the two runs.
    page.get_by_label("Compare Preferences only").check()
    page.locator("input[name=run]:not(:checked)").first.check()
    page.get_by_role("button", name="Compare the two ticked runs").click()
    expect(page.locator("#compare-stats")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Preferences only")
    expect(page.locator("#not-comparable")).to_contain_text("not comparable")
    check_a11y(page, "compare runs")
    shoot(page, "coordinator-compare")

    # The run page: stat cards, the chart, proposals with their why, the unplaced.
    page.goto(run_urls[-1])
    stats = page.locator("#run-stats").inner_text()
    for label in (
        "Placed",
        "Unplaced",
        "First choice",
        "Top 3 choice",
        "Mean rank",
        "Worst rank",
        "Blocking pairs",
    ):
        assert label in stats
    assert page.locator("svg[role=img] rect").count() >= 1
    expect(page.locator("#proposals tbody tr")).to_have_count(4)
    expect(page.locator("#unplaced")).to_contain_text(re.compile("Eve Adams|Dara Byrne"))
    # Filter the proposals by name, by how good a choice it was, by slot or host.
    shown = page.locator("#proposals tbody th")
    filter_button = page.get_by_role("button", name="Filter", exact=True)
    page.get_by_label("Trainee name").fill("amara")
    filter_button.click()
    expect(shown).to_have_text(["Amara Osei"])
    page.get_by_label("Trainee name").fill("")
    page.get_by_label("Choice", exact=True).select_option("unranked")
    filter_button.click()
    expect(page.locator("#proposals")).to_contain_text("No proposals match the filters.")
    page.get_by_label("Choice", exact=True).select_option("top3")
    page.get_by_label("Slot or host").fill(f"calibration {tag}")
    filter_button.click()
    expect(shown).to_have_count(1)
    page.get_by_role("link", name="Clear filters").click()
    expect(shown).to_have_count(4)

    # The why panel: the cost terms at once, the better-ranked choices fetched on opening.
    page.get_by_text("Why Amara Osei").click()
    panel = page.locator("details.why[data-why-loaded]")
    panel.wait_for()
    expect(panel).to_contain_text(re.compile("Choice 1|Nothing ranked higher"))
    check_a11y(page, "run page")
    shoot(page, "coordinator-run")
    page.locator("#unplaced").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Why")).to_be_visible()
    check_a11y(page, "why page")
    page.go_back()

    # Approve one in place: no reload, no jump to the top, focus moves to the next decision;
    # then one more from the keyboard, then the rest.
    page.evaluate("() => { window.notReloaded = true; }")
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Approve Amara Osei").scroll_into_view_if_needed()
    scrolled = page.evaluate("() => window.scrollY")
    page.get_by_role("button", name="Approve Amara Osei").click()
    amara = page.locator("#proposals tbody tr", has_text="Amara Osei")
    expect(amara.locator("[data-decide-cell]")).to_have_text("Approved: Amara Osei is placed.")
    expect(amara.locator("[data-status-cell]")).to_have_text("approved")
    expect(page.locator("#decide-status")).to_have_text("Approved: Amara Osei is placed.")
    assert page.evaluate("() => window.notReloaded") is True
    assert page.evaluate("() => window.scrollY") >= scrolled - 200
    focused = page.evaluate("() => document.activeElement.textContent.trim()")
    assert focused.startswith("Approve"), focused
    page.keyboard.press("Enter")
    expect(page.locator("#proposals [data-status-cell]", has_text="approved")).to_have_count(2)
    check_a11y(page, "run page after deciding in place")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    page.get_by_role("link", name="Approve all 2 open proposals").click()
    expect(page.get_by_role("heading", name="Approve all 2 open proposals of run")).to_be_visible()
    check_a11y(page, "approve all confirmation")
    shoot(page, "coordinator-approve-all-confirm")
    page.get_by_role("button", name="Yes, approve them").click()
    expect(page.get_by_text("Approved 2 proposals.")).to_be_visible()

    # Publish, with confirmation that says what will happen, in numbers.
    page.get_by_role("link", name=round_name).click()
    page.get_by_role("link", name="Publish the round").click()
    expect(page.locator("#consequence")).to_contain_text(
        re.compile(r"4 approved placements will be published; \d+ trainees? will get nothing")
    )
    check_a11y(page, "publish confirmation")
    page.get_by_role(
        "button", name=re.compile("^(Yes, publish it|Publish the round anyway)$")
    ).click()
    expect(page.get_by_text(f"Round “{round_name}” is now published.")).to_be_visible()
    csv = page.request.get(live_server(f"/coordinator/rounds/{round_id}/placements.csv"))
    assert csv.status == 200 and "Amara Osei" in csv.text()

    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("#audit")).to_contain_text("proposal.approve")
    check_a11y(page, "audit log")
    shoot(page, "coordinator-audit")
    page.get_by_role("link", name="Hosts", exact=True).click()
    check_a11y(page, "hosts")
    shoot(page, "coordinator-hosts")

    # The imported trainee registers with the same email and sees the placement.
    with session_scope(live_server.settings) as session:
        create_user(
            session=session, email=learner, name="Amara Osei", role="trainee", password=PASSWORD
        )
    trainee_page = context.browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}
    ).new_page()
    sign_in(trainee_page, learner)
    trainee_page.get_by_role("link", name="My placement").click()
    expect(trainee_page.get_by_role("heading", name="Your placement")).to_be_visible()
    body = trainee_page.locator("main").inner_text()
    # Her first or second choice, whichever the approved run proposed.
    assert f"Microbiology {tag}" in body or f"Haematology {tag}" in body
    assert f"Edgbaston Test Labs {tag}" in body
    assert "1 Feb 2027 to 28 May 2027" in body  # UK dates
    # Publishing made it an offer, to answer by a deadline.
    assert "Accept or decline this placement by" in body
    expect(trainee_page.get_by_role("button", name="Accept this placement")).to_be_visible()
    check_a11y(trainee_page, "trainee placement")
    shoot(trainee_page, "trainee-placement")
    trainee_page.context.close()


def test_coordinator_withdraws_a_placement_and_erases_a_trainee(
    page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    tag = unique_email("w").split("@")[0][-6:]
    with session_scope(live_server.settings) as session:
        org = f.organisation(session, name=f"Walsall Clinical Lab {tag}")
        rnd = f.round_(session, name=f"Summer round {tag}", status="closed")
        slot = f.slot(session, round=rnd, organisation=org, title=f"Immunology {tag}", filled=2)
        for name in ("Grace Hopper", "Alan Turing"):
            trainee = f.trainee(session, name=f"{name} {tag}")
            f.preference(session, trainee=trainee, slot=slot, rank=1)
            session.add(Placement(round_id=rnd.id, trainee_id=trainee.id, slot_id=slot.id))
        round_name = rnd.name
    sign_in(page, account(live_server.settings, "coordinator"))
    page.get_by_role("link", name=round_name).click()

    # The round's placements; withdraw one, after a confirmation naming it.
    page.get_by_role("link", name="Placements (2)").click()
    table = page.locator("#placements")
    expect(table).to_contain_text("2 of 2 seats filled")
    expect(page.get_by_role("link", name="Export placements and offers (CSV)")).to_be_visible()
    check_a11y(page, "round placements")
    shoot(page, "coordinator-placements")
    page.get_by_role("link", name=f"Withdraw Grace Hopper {tag}'s placement").click()
    expect(
        page.get_by_role("heading", name=f"Withdraw Grace Hopper {tag}'s placement?")
    ).to_be_visible()
    check_a11y(page, "withdraw confirmation")
    shoot(page, "coordinator-withdraw-confirm")
    page.get_by_role("button", name="Yes, withdraw it").click()
    expect(page.get_by_text("the seat is free again")).to_be_visible()
    expect(table).to_contain_text("1 of 2 seats filled")
    grace = table.locator("tr", has_text=f"Grace Hopper {tag}")
    expect(grace).to_contain_text("withdrawn")

    # The round's trainees: search, then erase one, after being told what goes and stays.
    page.get_by_role("link", name=round_name).click()
    page.get_by_role("link", name="Trainees (2)").click()
    page.get_by_label("Name or email").fill("turing")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#trainees tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(f"Alan Turing {tag}")
    check_a11y(page, "round trainees")
    shoot(page, "coordinator-trainees")
    # Invite the imported trainees who have no login yet (both of them here).
    page.get_by_role("button", name="Send invitations").click()
    expect(page.get_by_text("Invitations sent to 2 trainees without a login.")).to_be_visible()
    page.get_by_role("link", name=f"Erase Alan Turing {tag}'s personal data").click()
    expect(page.locator("#removed")).to_contain_text("email address")
    expect(page.locator("#kept")).to_contain_text("placements", ignore_case=True)
    check_a11y(page, "erasure confirmation")
    shoot(page, "coordinator-erase-confirm")
    page.get_by_role("button", name="Yes, erase it").click()
    expect(page.get_by_text("personal data is erased")).to_be_visible()
    expect(page.locator("#trainees")).to_contain_text("Erased trainee")
    expect(page.locator("#trainees")).not_to_contain_text("Alan Turing")
