"""The pages without a browser, on both databases: wiring that every page relies on."""

from __future__ import annotations

import html
import json
import re
from datetime import date
from typing import Any

from sqlmodel import Session, select

from placement.models import MatchRun, Placement, Preference, Proposal, Slot, Trainee, User
from placement.services.users import create_user
from tests import factories as f
from tests.web.helpers import PASSWORD, client_sign_in, csrf_token


def _sign_in(client: Any, session: Session, role: str) -> Any:
    return client_sign_in(client, session, role, f"{role}-views@example.test")


def test_the_api_is_not_subject_to_the_page_csrf_check(client: Any) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.test", "password": "whatever1"}
    )
    assert response.status_code == 401
    assert response.is_json


def test_page_errors_are_pages_and_api_errors_are_json(client: Any) -> None:
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Page not found" in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.is_json


def test_pages_need_the_right_role(client: Any, session: Session) -> None:
    assert client.get("/coordinator/").status_code == 302  # to sign in
    _sign_in(client, session, "trainee")
    refused = client.get("/coordinator/")
    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert client.get("/employer/slots").status_code == 403
    assert client.get("/trainee/profile").status_code == 200


def test_a_post_without_csrf_token_is_refused(client: Any, session: Session) -> None:
    _sign_in(client, session, "coordinator")
    response = client.post("/coordinator/rounds/new", data={"name": "Forged"})
    assert response.status_code == 400
    assert "expired or was not sent from this site" in response.text


def test_round_form_shows_inline_errors(client: Any, session: Session) -> None:
    _sign_in(client, session, "coordinator")
    token = csrf_token(client.get("/coordinator/rounds/new").text)
    response = client.post(
        "/coordinator/rounds/new",
        data={
            "csrf_token": token,
            "name": "Spring",
            "starts_on": "2027-07-01",
            "ends_on": "2027-01-01",
            "max_preferences": "99",
        },
    )
    assert response.status_code == 422
    assert 'id="ends_on-error"' in response.text
    assert 'id="max_preferences-error"' in response.text
    assert 'aria-invalid="true"' in response.text


def test_run_progress_endpoint(client: Any, session: Session) -> None:
    user = _sign_in(client, session, "coordinator")
    rnd = f.round_(session, status="closed")
    run = MatchRun(
        round_id=rnd.id, status="running", phase="solving", progress=40, created_by=user.id
    )
    session.add(run)
    session.flush()
    body = client.get(f"/coordinator/runs/{run.id}/progress.json").get_json()
    assert body["progress"] == 40 and body["status"] == "running"
    assert body["phase_label"] == "solving"
    assert body["page_url"] == f"/coordinator/runs/{run.id}"
    page = client.get(f"/coordinator/runs/{run.id}")
    assert 'data-progress-url="/coordinator/runs/' in page.text
    assert '<progress id="run-progress" max="100" value="40">' in page.text


# --- runs: the proposals table's filters, and the "why" panel -----------------------


def _succeeded_run(session: Session, user_id: int | None, round_id: int | None) -> MatchRun:
    run = MatchRun(
        round_id=round_id,
        status="succeeded",
        phase="done",
        progress=100,
        weights={"preference": 1, "employer": 0, "skills": 0, "distance": 0},
        stats={"placed": 0, "unplaced": 0},
        created_by=user_id,
    )
    session.add(run)
    session.flush()
    return run


def _propose(session: Session, run: MatchRun, trainee: Any, slot: Any, rank: int | None) -> None:
    cost = float((rank or 11) ** 2)
    session.add(
        Proposal(
            run_id=run.id,
            trainee_id=trainee.id,
            slot_id=slot.id,
            rank=rank,
            cost=cost,
            terms={"preference": cost, "employer": 0, "skills": 0, "distance": 0},
        )
    )
    session.flush()


def _rows(html: str) -> list[str]:
    table = html.split('id="proposals"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<th scope="row">([^<]+)</th>', table)


def test_run_page_filters_proposals_by_name_rank_and_slot(client: Any, session: Session) -> None:
    user = _sign_in(client, session, "coordinator")
    rnd = f.round_(session, status="closed")
    edgbaston = f.organisation(session, name="Edgbaston Labs")
    coventry = f.organisation(session, name="Coventry Works")
    micro = f.slot(session, round=rnd, organisation=edgbaston, title="Microbiology")
    calib = f.slot(session, round=rnd, organisation=coventry, title="Calibration")
    run = _succeeded_run(session, user.id, rnd.id)
    for name, slot, rank in (
        ("Amara Osei", micro, 1),
        ("Ben Carter", micro, 2),
        ("Chen Li", calib, 5),
        ("Dara Byrne", calib, None),
        ("Per_cent 100%", calib, 3),
    ):
        _propose(session, run, f.trainee(session, name=name), slot, rank)
    url = f"/coordinator/runs/{run.id}"

    def names(query: str) -> list[str]:
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, response.text
        return _rows(response.text)

    assert len(names("")) == 5
    assert names("trainee=amara") == ["Amara Osei"]
    assert names("rank=first") == ["Amara Osei"]
    assert names("rank=top3") == ["Amara Osei", "Ben Carter", "Per_cent 100%"]
    assert names("rank=4plus") == ["Chen Li"]
    assert names("rank=unranked") == ["Dara Byrne"]
    assert names("slot=coventry") == ["Chen Li", "Dara Byrne", "Per_cent 100%"]
    assert names("slot=MICRO&rank=top3") == ["Amara Osei", "Ben Carter"]
    assert names("status=proposed&trainee=li") == ["Chen Li"]
    # LIKE's wildcards are taken literally.
    assert names("trainee=%25") == ["Per_cent 100%"]
    assert names("trainee=_") == ["Per_cent 100%"]
    # The filters stay filled in.
    page = client.get(f"{url}?trainee=amara&rank=first").text
    assert 'id="trainee" name="trainee" value="amara"' in page
    assert '<option value="first" selected>' in page

    bad = client.get(f"{url}?rank=best&status=lost")
    assert bad.status_code == 422
    assert 'id="rank-error"' in bad.text and 'id="status-error"' in bad.text
    assert _rows(bad.text) == []


def test_proposal_pages_keep_the_filters_and_cost_no_query_per_row(
    client: Any, session: Session, connection: Any
) -> None:
    from sqlalchemy import event

    user = _sign_in(client, session, "coordinator")
    rnd = f.round_(session, status="closed")
    slot = f.slot(session, round=rnd, organisation=f.organisation(session), capacity=100)
    run = _succeeded_run(session, user.id, rnd.id)
    for i in range(30):
        _propose(session, run, f.trainee(session, name=f"Pager {i:02d}"), slot, 1 + i % 4)
    _propose(session, run, f.trainee(session, name="Someone Else"), slot, 1)

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    def queries(query: str) -> tuple[int, str]:
        statements.clear()
        event.listen(connection, "before_cursor_execute", count)
        try:
            response = client.get(f"/coordinator/runs/{run.id}?{query}")
        finally:
            event.remove(connection, "before_cursor_execute", count)
        assert response.status_code == 200
        return len(statements), response.text

    queries("")  # warm up: the first request of a session also touches its login
    few, _ = queries("trainee=someone")
    many, first = queries("trainee=pager")
    assert len(_rows(first)) == 25
    # The same number of statements for 1 row as for 25: nothing is looked up per row.
    assert many == few
    assert "Page 1 of 2" in first
    next_link = re.search(r'href="([^"]+)">Next page</a>', first)
    assert next_link is not None
    target = next_link.group(1).replace("&amp;", "&")
    assert "trainee=pager" in target and "page=2" in target
    second = client.get(target).text
    assert _rows(second) == [f"Pager {i:02d}" for i in range(25, 30)]


def test_why_panel_fragment_explains_better_ranked_choices(client: Any, session: Session) -> None:
    user = _sign_in(client, session, "coordinator")
    rnd = f.round_(session, status="closed")
    org = f.organisation(session, name="Edgbaston Labs")
    wanted = f.slot(session, round=rnd, organisation=org, title="Microbiology", capacity=1)
    other = f.slot(session, round=rnd, organisation=org, title="Calibration", capacity=1)
    winner, second = f.trainee(session, name="Amara Osei"), f.trainee(session, name="Ben Carter")
    f.preference(session, trainee=winner, slot=wanted, rank=1)
    f.preference(session, trainee=second, slot=wanted, rank=1)
    f.preference(session, trainee=second, slot=other, rank=2)
    run = _succeeded_run(session, user.id, rnd.id)
    _propose(session, run, winner, wanted, 1)
    _propose(session, run, second, other, 2)

    page = client.get(f"/coordinator/runs/{run.id}").text
    part_url = f"/coordinator/runs/{run.id}/trainees/{second.id}/why.part"
    assert f'data-why-url="{part_url}"' in page
    part = client.get(part_url)
    assert part.status_code == 200
    assert "<html" not in part.text and "<main" not in part.text
    assert "Choice 1: Microbiology (Edgbaston Labs)" in part.text
    assert "Amara Osei" in part.text
    first = client.get(f"/coordinator/runs/{run.id}/trainees/{winner.id}/why.part")
    assert "Nothing ranked higher" in first.text


# --- placements: the round's list, and withdrawing one -------------------------------


def test_withdrawing_a_placement_asks_first_then_frees_the_seat(
    client: Any, session: Session
) -> None:
    _sign_in(client, session, "coordinator")
    rnd = f.round_(session, status="closed", name="Spring round")
    org = f.organisation(session, name="Edgbaston Labs")
    slot = f.slot(session, round=rnd, organisation=org, title="Microbiology", filled=1)
    trainee = f.trainee(session, name="Amara Osei")
    placement = Placement(round_id=rnd.id, trainee_id=trainee.id, slot_id=slot.id)
    session.add(placement)
    session.flush()

    listing = client.get(f"/coordinator/rounds/{rnd.id}/placements")
    assert listing.status_code == 200
    assert "Amara Osei" in listing.text and "1 of 2 seats filled" in listing.text
    assert f"/coordinator/rounds/{rnd.id}/placements.csv" in listing.text
    url = f"/coordinator/placements/{placement.id}/withdraw"
    assert f'href="{url}"' in listing.text

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Withdraw Amara Osei's placement?" in html.unescape(confirm.text)
    assert "the seat there is free again" in confirm.text
    assert "Yes, withdraw it" in confirm.text
    assert client.post(url).status_code == 400  # no CSRF token
    done = client.post(url, data={"csrf_token": csrf_token(confirm.text)})
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"/coordinator/rounds/{rnd.id}/placements")
    session.refresh(slot)
    session.refresh(placement)
    assert slot.filled == 0 and placement.status == "withdrawn"

    after = client.get(f"/coordinator/rounds/{rnd.id}/placements?status=withdrawn")
    assert "Amara Osei" in after.text and f'href="{url}"' not in after.text
    assert (
        "Amara Osei" not in client.get(f"/coordinator/rounds/{rnd.id}/placements?status=live").text
    )
    again = client.get(url)
    assert "already withdrawn" in again.text and "Yes, withdraw it" not in again.text
    # A second withdrawal is refused by the service, as a page.
    refused = client.post(url, data={"csrf_token": csrf_token(confirm.text)})
    assert refused.status_code == 409 and "already withdrawn" in refused.text
    assert client.get("/coordinator/placements/999999/withdraw").status_code == 404


def test_round_placements_are_paginated(client: Any, session: Session) -> None:
    _sign_in(client, session, "coordinator")
    rnd = f.round_(session, status="closed")
    slot = f.slot(session, round=rnd, organisation=f.organisation(session), capacity=60, filled=51)
    for i in range(51):
        trainee = f.trainee(session, name=f"Placed {i:02d}")
        session.add(Placement(round_id=rnd.id, trainee_id=trainee.id, slot_id=slot.id))
    session.flush()
    first = client.get(f"/coordinator/rounds/{rnd.id}/placements?status=live").text
    assert "51 placements live" in first and "Page 1 of 2" in first
    assert f"/coordinator/rounds/{rnd.id}/placements?status=live&amp;page=2" in first
    second = client.get(f"/coordinator/rounds/{rnd.id}/placements?status=live&page=2").text
    assert "Placed 50" in second and "Placed 00" not in second
    assert client.get(f"/coordinator/rounds/{rnd.id}/placements?status=lost").status_code == 404


# --- trainees: the round's list, and erasure -----------------------------------------


def test_trainee_erasure_says_what_goes_and_what_stays_and_does_just_that(
    client: Any, session: Session
) -> None:
    from placement.services.privacy import ERASURE_KEPT, ERASURE_REMOVED

    _sign_in(client, session, "coordinator")
    rnd = f.round_(session, name="Spring round")
    slot = f.slot(session, round=rnd, organisation=f.organisation(session))
    login = create_user(
        session=session,
        email="amara@learners.test",
        name="Amara Osei",
        role="trainee",
        password=PASSWORD,
    )
    login_id = login.id
    amara = session.exec(select(Trainee).where(Trainee.user_id == login_id)).one()
    amara_id = amara.id
    for key, value in {
        "level": 5,
        "provider": "Birmingham Met",
        "skills": ["pipetting"],
        "postcode": "B1 1AA",
        "latitude": 52.48,
        "longitude": -1.89,
        "max_travel_km": 30.0,
        "needs": "Step-free access",
    }.items():
        setattr(amara, key, value)
    f.preference(session, trainee=amara, slot=slot, rank=1)
    f.preference(session, trainee=f.trainee(session, name="Ben Carter"), slot=slot, rank=1)

    listing = client.get(f"/coordinator/rounds/{rnd.id}/trainees")
    assert "2 trainees" in listing.text
    found = client.get(f"/coordinator/rounds/{rnd.id}/trainees?q=AMARA").text
    assert "Amara Osei" in found and "Ben Carter" not in found
    url = f"/coordinator/trainees/{amara.id}/erase?round={rnd.id}"
    assert url.replace("?", "?").replace("&", "&amp;") in found

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Erase Amara Osei's personal data?" in html.unescape(confirm.text)
    removed = confirm.text.split('id="removed"', 1)[1].split("</ul>", 1)[0]
    kept = confirm.text.split('id="kept"', 1)[1].split("</ul>", 1)[0]
    assert "email address" in removed and "password" in removed and "IP addresses" in removed
    assert "qualification level" in kept and "placements" in kept.lower()

    # Every field of the record is accounted for on one list or the other ...
    listed = {name for fields, _ in ERASURE_REMOVED + ERASURE_KEPT for name in fields}
    assert set(Trainee.model_fields) <= listed, set(Trainee.model_fields) - listed
    assert not {n for fs, _ in ERASURE_REMOVED for n in fs} & {
        n for fs, _ in ERASURE_KEPT for n in fs
    }

    response = client.post(url, data={"csrf_token": csrf_token(confirm.text)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/coordinator/rounds/{rnd.id}/trainees")
    session.expire_all()
    erased = session.get(Trainee, amara_id)
    assert erased is not None and erased.erased_at is not None
    # ... and the page told the truth: what it said goes has gone, what it said stays stays.
    blank = Trainee(name="x")
    for fields, _ in ERASURE_REMOVED:
        for name in fields:
            if name != "name":
                assert getattr(erased, name) == getattr(blank, name), name
    assert erased.name == "Erased trainee" and erased.level == 5
    assert session.get(User, login_id) is None
    assert session.exec(select(Preference).where(Preference.trainee_id == amara_id)).all()

    after = client.get(f"/coordinator/rounds/{rnd.id}/trainees").text
    assert "Erased trainee" in after and "Amara Osei" not in after
    again = client.get(url).text
    assert "already erased" in again and "Yes, erase it" not in again


# --- employers: deleting a slot ------------------------------------------------------


def test_employer_deletes_a_slot_after_confirming_and_sees_a_409_nicely(
    client: Any, session: Session
) -> None:
    user = _sign_in(client, session, "employer")
    org = f.organisation(session, owner_id=user.id, name="Solihull Device Works")
    rnd = f.round_(session, name="Autumn round")
    doomed = f.slot(session, round=rnd, organisation=org, title="Sterilisation")
    kept = f.slot(session, round=rnd, organisation=org, title="Calibration")
    f.preference(session, trainee=f.trainee(session), slot=doomed, rank=1)
    stranger = f.slot(session, round=rnd, organisation=f.organisation(session), title="Theirs")

    slots_page = client.get("/employer/slots").text
    doomed_id = doomed.id
    url = f"/employer/slots/{doomed_id}/delete"
    assert f'href="{url}"' in slots_page
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Delete “Sterilisation”?" in confirm.text
    assert "1 trainee chose it" in confirm.text and "Yes, delete it" in confirm.text
    assert client.post(url).status_code == 400  # no CSRF token
    done = client.post(url, data={"csrf_token": csrf_token(confirm.text)})
    assert done.status_code == 302 and done.headers["Location"].endswith("/employer/slots")
    session.expire_all()
    assert session.exec(select(Slot).where(Slot.id == doomed_id)).first() is None
    assert "Slot “Sterilisation” deleted." in client.get("/employer/slots").text

    assert client.get(f"/employer/slots/{stranger.id}/delete").status_code == 404

    # The round closes between opening the confirmation and confirming it.
    kept_url = f"/employer/slots/{kept.id}/delete"
    token = csrf_token(client.get(kept_url).text)
    rnd.status = "closed"
    session.flush()
    refused = client.post(kept_url, data={"csrf_token": token})
    assert refused.status_code == 409
    assert "That cannot be done now" in refused.text
    assert "Cannot delete slots while the round is closed" in refused.text
    assert "Yes, delete it" not in refused.text and 'href="/employer/slots"' in refused.text
    assert session.get(Slot, kept.id) is not None
    assert f'href="{kept_url}"' not in client.get("/employer/slots").text


# --- trainees: their own data --------------------------------------------------------


def slot_host(session: Session, slot: Any) -> str:
    from placement.models import Organisation

    org = session.get(Organisation, slot.organisation_id)
    assert org is not None
    return org.name


def test_trainee_sees_and_downloads_their_data(client: Any, session: Session) -> None:
    user = _sign_in(client, session, "trainee")
    me = session.exec(select(Trainee).where(Trainee.user_id == user.id)).one()
    me.skills = ["pipetting", "ELISA"]
    rnd = f.round_(session, name="Open round")
    slot = f.slot(session, round=rnd, organisation=f.organisation(session), title="Immunology")
    f.preference(session, trainee=me, slot=slot, rank=1)

    page = client.get("/trainee/data")
    assert page.status_code == 200
    for heading in ("Your account", "Your profile", "Your rounds and choices", "What you did"):
        assert heading in page.text
    assert "trainee-views@example.test" in page.text and "pipetting, ELISA" in page.text
    # Choices by round, by name: the slot and its host, never ids or cost terms.
    assert "Open round" in page.text
    assert f"Immunology at {slot_host(session, slot)}" in page.text
    for raw in ("Slot id", "Rank", "Dbs cleared", "cost", "terms", "password_hash"):
        assert raw not in page.text
    assert "held only as a one-way hash" in page.text
    assert 'href="/trainee/data.json"' in page.text

    download = client.get("/trainee/data.json")
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Cache-Control"] == "no-store"
    data = json.loads(download.text)
    assert data["format"] == "placement-personal-data/1"
    assert data["account"]["email"] == "trainee-views@example.test"
    assert "password_hash" not in data["account"]
    assert [p["slot_title"] for p in data["preferences"]] == ["Immunology"]
    assert client.get("/coordinator/").status_code == 403


def test_run_page_says_who_was_left_out(client: Any, session: Session) -> None:
    user = _sign_in(client, session, "coordinator")
    rnd = f.round_(session, status="closed")
    run = _succeeded_run(session, user.id, rnd.id)
    page = client.get(f"/coordinator/runs/{run.id}").text
    assert 'id="left-out"' not in page
    run.stats = {"placed": 0, "unplaced": 0, "left_out": {"incomplete_profile": 3, "erased": 1}}
    session.add(run)
    session.flush()
    page = html.unescape(client.get(f"/coordinator/runs/{run.id}").text)
    notice = page[page.index('id="left-out"') :]
    assert "3 trainees whose profile lacks what the matcher needs" in notice
    assert "1 erased trainee." in " ".join(notice.split())
    assert f"/coordinator/rounds/{rnd.id}/trainees" in notice


def test_approve_all_asks_first_and_says_how_many(client: Any, session: Session) -> None:
    user = _sign_in(client, session, "coordinator")
    rnd = f.round_(session, status="closed")
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org, capacity=3)
    run = _succeeded_run(session, user.id, rnd.id)
    for rank in (1, 2):
        _propose(session, run, f.trainee(session), slot, rank)
    url = f"/coordinator/runs/{run.id}/approve-all"
    assert f'href="{url}"' in client.get(f"/coordinator/runs/{run.id}").text
    page = html.unescape(client.get(url).text)
    assert f"Approve all 2 open proposals of run {run.id}?" in page
    assert "Yes, approve them" in page and "cheapest first" in page
    assert session.exec(select(Placement)).all() == []
    response = client.post(url, data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert len(session.exec(select(Placement).where(Placement.slot_id == slot.id)).all()) == 2
    # Nothing left to approve: the page says so and offers only the way back.
    page = html.unescape(client.get(url).text)
    assert "This run has no open proposals left." in page and "Yes, approve" not in page


def test_a_slot_the_trainee_cannot_get_is_flagged_at_once(client: Any, session: Session) -> None:
    """Issue 12: the slot page, the added-choice message and the choices page say which
    rule rules the trainee out, in words."""
    user = _sign_in(client, session, "trainee")
    trainee = session.exec(select(Trainee).where(Trainee.user_id == user.id)).one()
    trainee.level, trainee.latitude, trainee.longitude = 4, 52.48, -1.89
    trainee.max_travel_km = 25
    trainee.available_from, trainee.available_to = date(2027, 1, 4), date(2027, 7, 2)
    trainee.dbs_cleared = False
    rnd = f.round_(session, status="open")
    org = f.organisation(session)
    far = f.slot(session, round=rnd, organisation=org, title="Far lab", latitude=52.79,
                 longitude=-1.89)  # fmt: skip
    session.commit()
    page = client.get(f"/trainee/slots/{far.id}")
    assert page.status_code == 200
    assert "You cannot be matched to this placement" in html.unescape(page.text)
    assert re.search(r"It is 3\d(\.\d)? km away and you said 25 km at most\.", page.text)
    token = csrf_token(page.text)
    added = client.post(
        "/trainee/choices/add", data={"slot_id": far.id, "csrf_token": token},
        follow_redirects=True,
    )  # fmt: skip
    text = html.unescape(added.text)
    assert "You cannot be matched to “Far lab”: It is" in text
    assert "You cannot be matched here:" in text
