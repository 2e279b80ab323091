"""Coordinator pages without a browser, on both databases: irreversible steps say what they
will do in numbers and warn when early; runs have names and honest comparisons; a trainee
has a record page; proposals can be decided in place (JSON for the page's script)."""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session

from placement.models import MatchRun, Placement, Proposal, RoundTrainee, utcnow
from tests import factories as f
from tests.postcodes_support import load_demo_postcodes
from tests.web.helpers import client_sign_in, csrf_token

JSON = {"Accept": "application/json"}


def _coordinator(client: Any, session: Session) -> Any:
    return client_sign_in(client, session, "coordinator", "coord-pages@example.test")


def _join(session: Session, rnd: Any, *people: Any) -> None:
    for person in people:
        session.add(RoundTrainee(round_id=rnd.id, trainee_id=person.id))
    session.flush()


def _run(session: Session, rnd: Any, **kw: Any) -> MatchRun:
    values: dict[str, Any] = {
        "status": "succeeded",
        "phase": "done",
        "progress": 100,
        "weights": {"preference": 1.0, "employer": 0.0, "skills": 0.0, "distance": 0.0},
        "stats": {"placed": 1, "unplaced": 1, "objective": 3.5},
    }
    values.update(kw)
    return f.match_run(session, round=rnd, **values)


def test_closing_early_with_few_ranked_warns_in_numbers(client: Any, session: Session) -> None:
    _coordinator(client, session)
    deadline = utcnow().date() + timedelta(days=5)
    rnd = f.round_(session, name="Early close", preference_deadline=deadline)
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org)
    a, b = f.trainee(session), f.trainee(session)
    _join(session, rnd, a, b)
    page = html.unescape(client.get(f"/coordinator/rounds/{rnd.id}/close").text)
    assert "0 trainees' choices are fixed" in page
    assert "2 trainees who ranked nothing will not be matched" in page
    assert "in 5 days" in page and "Only 0 of 2 trainees have ranked any slots." in page
    assert "Close the round anyway" in page
    f.preference(session, trainee=a, slot=slot, rank=1)
    f.preference(session, trainee=b, slot=slot, rank=1)
    rnd.preference_deadline = date(2020, 1, 1)
    session.flush()
    calm = html.unescape(client.get(f"/coordinator/rounds/{rnd.id}/close").text)
    assert "This may be too soon" not in calm and "Yes, close it" in calm


def test_publish_is_not_offered_before_a_run_and_says_who_gets_nothing(
    client: Any, session: Session
) -> None:
    _coordinator(client, session)
    rnd = f.round_(session, name="Publish me", status="closed")
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org, capacity=2)
    people = [f.trainee(session) for _ in range(3)]
    _join(session, rnd, *people)
    round_page = client.get(f"/coordinator/rounds/{rnd.id}").text
    assert "Publish the round" not in round_page and "Start a match run" in round_page
    early = html.unescape(client.get(f"/coordinator/rounds/{rnd.id}/publish").text)
    assert "0 approved placements will be published; 3 trainees will get nothing" in early
    assert "No match run has been made" in early

    run = _run(session, rnd)
    proposal = f.proposal(session, run=run, trainee=people[0], slot=slot, status="approved")
    session.add(
        Placement(
            round_id=rnd.id, trainee_id=people[0].id, slot_id=slot.id, proposal_id=proposal.id
        )
    )
    session.flush()
    assert "Publish the round" in client.get(f"/coordinator/rounds/{rnd.id}").text
    ready = html.unescape(client.get(f"/coordinator/rounds/{rnd.id}/publish").text)
    assert "1 approved placement will be published; 2 trainees will get nothing" in ready
    assert "More than half the trainees (2) would get nothing." in ready


def test_runs_are_named_and_compared_honestly(client: Any, session: Session) -> None:
    _coordinator(client, session)
    rnd = f.round_(session, name="Compare me", status="closed")
    a = _run(session, rnd, name="Preference first")
    b = _run(
        session, rnd, weights={"preference": 1.0, "employer": 0.0, "skills": 0.0, "distance": 2.0}
    )
    page = html.unescape(
        client.get(f"/coordinator/rounds/{rnd.id}/compare", query_string={"run": [a.id, b.id]}).text
    )
    assert f"Preference first and Run {b.id} compared" in page
    assert "not comparable" in page and 'id="not-comparable"' in page
    same = client.get(f"/coordinator/rounds/{rnd.id}/compare", query_string={"run": [a.id, a.id]})
    assert same.status_code == 302
    assert "two different runs" in client.get(same.headers["Location"]).text
    c = _run(session, rnd, name="Again")
    alike = client.get(
        f"/coordinator/rounds/{rnd.id}/compare", query_string={"run": [a.id, c.id]}
    ).text
    assert 'id="not-comparable"' not in alike
    # The run form takes a name.
    form = client.get(f"/coordinator/rounds/{rnd.id}/runs/new").text
    assert 'name="name"' in form and "Name (optional)" in form


def test_trainees_link_to_a_record_with_choices_runs_and_history(
    client: Any, session: Session
) -> None:
    _coordinator(client, session)
    rnd = f.round_(session, name="Record round", status="closed")
    org = f.organisation(session, name="Oldbury Optics")
    slot = f.slot(session, round=rnd, organisation=org, title="Lens testing")
    placed = f.trainee(session, name="Placed Person")
    waiting = f.trainee(session, name="Waiting Person", latitude=None)
    _join(session, rnd, placed, waiting)
    f.preference(session, trainee=placed, slot=slot, rank=1)
    run = _run(session, rnd, name="First go")
    proposal = f.proposal(session, run=run, trainee=placed, slot=slot, status="approved")
    session.add(
        Placement(round_id=rnd.id, trainee_id=placed.id, slot_id=slot.id, proposal_id=proposal.id)
    )
    f.unplaced(session, run=run, trainee=waiting)
    session.flush()
    listing = client.get(f"/coordinator/rounds/{rnd.id}/trainees").text
    assert f'href="/coordinator/trainees/{placed.id}?round={rnd.id}"' in listing
    assert "lacks home location" in listing and ">placed<" in listing and "unplaced" in listing
    record = html.unescape(client.get(f"/coordinator/trainees/{placed.id}?round={rnd.id}").text)
    assert "Lens testing at Oldbury Optics" in record
    assert "First go" in record and "their choice 1: approved" in record
    other = html.unescape(client.get(f"/coordinator/trainees/{waiting.id}").text)
    assert "Not placed" in other and "lacks home location" in other


def test_a_proposal_is_decided_in_place_for_the_script(client: Any, session: Session) -> None:
    _coordinator(client, session)
    rnd = f.round_(session, name="Decide round", status="closed")
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org, capacity=1)
    run = _run(session, rnd)
    first, second = f.trainee(session, name="First One"), f.trainee(session, name="Second One")
    p1 = f.proposal(session, run=run, trainee=first, slot=slot)
    p2 = f.proposal(session, run=run, trainee=second, slot=slot)
    page = client.get(f"/coordinator/runs/{run.id}").text
    assert "data-decide" in page
    token = csrf_token(page)
    ok = client.post(
        f"/coordinator/proposals/{p1.id}/approve", data={"csrf_token": token}, headers=JSON
    )
    assert ok.status_code == 200 and ok.json["ok"] and ok.json["status"] == "approved"
    assert "First One" in ok.json["message"]
    full = client.post(
        f"/coordinator/proposals/{p2.id}/approve", data={"csrf_token": token}, headers=JSON
    )
    assert full.status_code == 409 and full.json["ok"] is False and full.json["message"]
    no = client.post(
        f"/coordinator/proposals/{p2.id}/reject",
        data={"csrf_token": token, "reason": "No seat"},
        headers=JSON,
    )
    assert no.status_code == 200 and no.json["status"] == "rejected"
    session.expire_all()
    decided = session.get(Proposal, p2.id)
    assert decided is not None and decided.status == "rejected"


def test_imports_check_values_at_preview_and_offer_templates(client: Any, session: Session) -> None:
    _coordinator(client, session)
    load_demo_postcodes(session)  # the template's example lives at a demo postcode
    rnd = f.round_(session, name="Import round")
    url = f"/coordinator/rounds/{rnd.id}/import/trainees"
    page = client.get(url).text
    assert f"/coordinator/rounds/{rnd.id}/import/trainees/template.csv" in page
    template = client.get(f"{url}/template.csv")
    assert template.status_code == 200 and template.mimetype == "text/csv"
    header, example = template.text.splitlines()[:2]
    assert header.startswith("email,") or "name" in header.split(",")
    assert "Amara Osei" in example
    # The template itself imports cleanly: the preview says what the import would do.
    token = csrf_token(page)
    good = client.post(
        url,
        data={"csrf_token": token, "step": "preview", "csv_text": template.text},
    )
    assert good.status_code == 200, good.text[:2000]
    assert "importing will create 1 and update 0" in good.text
    bad = template.text.replace("2027-07-02", "2027-02-30")
    refused = client.post(url, data={"csrf_token": token, "step": "preview", "csv_text": bad})
    assert refused.status_code == 422 and 'id="import-errors"' in refused.text
    assert 'value="import"' not in refused.text
    slots = client.get(f"/coordinator/rounds/{rnd.id}/import/slots/template.csv")
    assert "Calibration technician" in slots.text


def test_imports_read_and_write_xlsx_with_the_same_rules(client: Any, session: Session) -> None:
    import io
    from datetime import datetime

    from openpyxl import Workbook, load_workbook

    _coordinator(client, session)
    rnd = f.round_(session, name="Workbook round")
    f.organisation(session, name="Sandwell Sensors")
    url = f"/coordinator/rounds/{rnd.id}/import/slots"
    template = client.get(f"{url}/template.xlsx")
    assert template.status_code == 200 and template.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(template.data)).worksheets[0]
    assert [c.value for c in sheet[1]][:2] == ["organisation_id", "organisation"]

    def workbook(*rows: list[Any]) -> bytes:
        book = Workbook()
        ws = book.active
        assert ws is not None
        for row in rows:
            ws.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    header = ["organisation", "title", "capacity", "starts_on", "ends_on"]
    token = csrf_token(client.get(url).text)
    good = workbook(
        header,
        ["Sandwell Sensors", "Sensor testing", 2, datetime(2027, 2, 1), datetime(2027, 5, 28)],
    )
    preview = client.post(
        url,
        data={"csrf_token": token, "step": "preview", "file": (io.BytesIO(good), "slots.xlsx")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200, preview.text[:2000]
    assert "importing will create 1 and update 0" in preview.text
    assert "2027-02-01" in preview.text  # the sheet's date, read as the import reads dates
    bad = workbook(
        header,
        ["Sandwell Sensors", "Fine", 1, "2027-02-01", "2027-05-28"],
        ["Nobody Ltd", "Lost", 1, "2027-02-01", "2027-05-28"],
    )
    refused = client.post(
        url,
        data={"csrf_token": token, "step": "import", "file": (io.BytesIO(bad), "slots.xlsx")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "no host is called “Nobody Ltd”" in html.unescape(
        refused.text
    )
    row = refused.text.split('id="import-errors"', 1)[1]
    assert '<td data-label="Row" class="num">3</td>' in row  # the sheet's own row number
    broken = client.post(
        url,
        data={
            "csrf_token": token,
            "step": "preview",
            "file": (io.BytesIO(b"PK\x03\x04 not a workbook"), "slots.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert broken.status_code == 422 and "not a readable XLSX" in broken.text
