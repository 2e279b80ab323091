"""Pages ask for postcodes, not coordinates, on both databases (no browser)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from placement.models import Organisation, Slot, Trainee
from tests import factories as f
from tests.postcodes_support import load_demo_postcodes
from tests.web.helpers import client_sign_in, csrf_token


def _post(client: Any, path: str, data: dict[str, str]) -> Any:
    token = csrf_token(client.get(path).text)
    return client.post(path, data={**data, "csrf_token": token})


def test_trainee_profile_by_postcode(client: Any, session: Session) -> None:
    load_demo_postcodes(session)
    user = client_sign_in(client, session, "trainee", "postcode-trainee@example.test")
    page = client.get("/trainee/profile").text
    assert 'name="latitude"' not in page and 'name="longitude"' not in page
    assert "Before you can rank placements" in page
    for step in ("Choose your level", "Add your home postcode", "Say how far you can travel"):
        assert step in page
    assert "max_travel_km" not in page.split("<form")[0]  # no raw field names in the message

    base = {"name": "Pat Postcode", "level": "4", "max_travel_km": "25"}
    response = _post(client, "/trainee/profile", {**base, "postcode": "ZE9 9ZZ"})
    assert response.status_code == 422
    assert 'id="postcode-error"' in response.text
    assert "We could not find postcode ZE9 9ZZ" in response.text

    assert _post(client, "/trainee/profile", {**base, "postcode": "b236qt"}).status_code == 302
    me = session.exec(select(Trainee).where(Trainee.user_id == user.id)).one()
    session.refresh(me)
    assert (me.postcode, me.latitude, me.longitude) == ("B23 6QT", 52.5241, -1.8362)
    page = client.get("/trainee/profile").text
    assert "Add your home postcode" not in page and "Add the dates you are available" in page

    # A new postcode moves the home; removing it removes the home.
    _post(client, "/trainee/profile", {**base, "postcode": "CV4 7EZ"})
    session.refresh(me)
    assert (me.latitude, me.longitude) == (52.386, -1.556)
    _post(client, "/trainee/profile", {**base, "postcode": ""})
    session.refresh(me)
    assert (me.postcode, me.latitude, me.longitude) == (None, None, None)


def test_trainee_without_a_postcode_keeps_coordinates_a_coordinator_gave(
    client: Any, session: Session
) -> None:
    user = client_sign_in(client, session, "trainee", "coords-trainee@example.test")
    me = session.exec(select(Trainee).where(Trainee.user_id == user.id)).one()
    me.latitude, me.longitude = 52.48, -1.89
    session.flush()
    assert _post(client, "/trainee/profile", {"name": "Kept Home"}).status_code == 302
    session.refresh(me)
    assert (me.name, me.latitude, me.longitude) == ("Kept Home", 52.48, -1.89)


def test_employer_organisation_and_slot_by_postcode(client: Any, session: Session) -> None:
    load_demo_postcodes(session)
    user = client_sign_in(client, session, "employer", "postcode-employer@example.test")
    page = client.get("/employer/organisation").text
    assert 'name="latitude"' not in page
    body = {"name": "Postcode Devices", "kind": "device_maker"}
    response = _post(client, "/employer/organisation", {**body, "postcode": "B1"})
    assert response.status_code == 422 and "Enter a full UK postcode" in response.text
    assert (
        _post(client, "/employer/organisation", {**body, "postcode": "ws1 1tp"}).status_code == 302
    )
    org = session.exec(select(Organisation).where(Organisation.owner_id == user.id)).one()
    assert (org.postcode, org.latitude, org.longitude) == ("WS1 1TP", 52.586, -1.982)

    org.verified = True
    rnd = f.round_(session, status="open")
    session.flush()
    page = client.get("/employer/slots/new").text
    assert 'name="latitude"' not in page and 'value="WS1 1TP"' in page
    slot = {
        "round_id": str(rnd.id),
        "title": "Bench work",
        "min_level": "4",
        "capacity": "1",
        "starts_on": "2027-02-01",
        "ends_on": "2027-05-28",
    }
    response = _post(client, "/employer/slots/new", {**slot, "postcode": "ZE9 9ZZ"})
    assert response.status_code == 422 and 'id="postcode-error"' in response.text
    assert _post(client, "/employer/slots/new", {**slot, "postcode": ""}).status_code == 302
    assert _post(client, "/employer/slots/new", {**slot, "postcode": "DY1 1HF"}).status_code == 302
    session.expire_all()
    slots = session.exec(select(Slot).where(Slot.organisation_id == org.id)).all()
    placed = {s.postcode: (s.latitude, s.longitude) for s in slots}
    assert placed == {"WS1 1TP": (52.586, -1.982), "DY1 1HF": (52.512, -2.083)}
