"""Postcodes through the API: a postcode sets latitude and longitude, a changed one moves
them, one that cannot be found is 422 naming `postcode`, and CSV imports report it by row."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from placement.config import Settings
from placement.models import Slot, Trainee
from tests.api.conftest import World, slot_body, slot_count, trainee_count
from tests.postcodes_support import load_demo_postcodes, postcodes_io_stand_in

API = "/api/v1"
NOT_FOUND = "We could not find postcode ZE9 9ZZ; check it or enter the nearest postcode you know"


@pytest.fixture(autouse=True)
def demo_postcodes(session: Session) -> None:
    load_demo_postcodes(session)
    session.commit()


def _call(client: FlaskClient, world: World, role: str, method: str, path: str, **kw: Any) -> Any:
    return client.open(f"{API}{path}", method=method, headers=world.headers(role), **kw)


def test_trainee_profile_postcode(client: FlaskClient, world: World) -> None:
    r = _call(client, world, "trainee_a", "PUT", "/trainees/me", json={"postcode": "b236qt"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["postcode"], body["latitude"], body["longitude"]) == ("B23 6QT", 52.5241, -1.8362)
    r = _call(client, world, "trainee_a", "PUT", "/trainees/me", json={"postcode": "CV4 7EZ"})
    assert (r.get_json()["latitude"], r.get_json()["longitude"]) == (52.386, -1.556)
    r = _call(client, world, "trainee_a", "PUT", "/trainees/me", json={"postcode": "ze99zz"})
    assert r.status_code == 422
    assert r.get_json()["errors"] == {"postcode": [NOT_FOUND]}
    r = _call(client, world, "trainee_a", "PUT", "/trainees/me", json={"postcode": "B23"})
    assert r.status_code == 422
    assert r.get_json()["errors"] == {"postcode": ["Enter a full UK postcode, like B15 2TT"]}
    r = _call(client, world, "trainee_a", "GET", "/trainees/me")
    assert r.get_json()["postcode"] == "CV4 7EZ"


def test_unknown_postcode_is_422_for_trainees_organisations_and_slots(
    client: FlaskClient, world: World, session: Session
) -> None:
    def refused(method: str, path: str, body: dict[str, Any], role: str = "coordinator") -> None:
        r = _call(client, world, role, method, path, json=body)
        assert r.status_code == 422, (path, r.get_json())
        assert r.get_json()["errors"] == {"postcode": [NOT_FOUND]}, path

    before = trainee_count(session), slot_count(session)
    refused("POST", "/trainees", {"name": "Nowhere", "email": "no@x.test", "postcode": "ZE9 9ZZ"})
    refused("PATCH", f"/trainees/{world.ids['trainee_b']}", {"postcode": "ZE9 9ZZ"})
    refused(
        "POST", "/organisations", {"name": "Nowhere Labs", "kind": "other", "postcode": "ZE9 9ZZ"}
    )
    refused("PATCH", f"/organisations/{world.ids['org_x']}", {"postcode": "ZE9 9ZZ"}, "employer_x")
    refused(
        "POST", f"/rounds/{world.ids['round']}/slots", slot_body(postcode="ZE9 9ZZ"), "employer_x"
    )
    refused("PATCH", f"/slots/{world.ids['slot_x']}", {"postcode": "ZE9 9ZZ"}, "employer_x")
    assert (trainee_count(session), slot_count(session)) == before


def test_postcodes_set_and_move_organisations_and_slots(client: FlaskClient, world: World) -> None:
    r = _call(
        client,
        world,
        "coordinator",
        "POST",
        "/organisations",
        json={"name": "Fresh Labs", "kind": "test_lab", "postcode": "dy1 2hq"},
    )
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["latitude"], r.get_json()["longitude"]) == (52.509, -2.105)
    org = world.ids["org_x"]
    r = _call(
        client, world, "employer_x", "PATCH", f"/organisations/{org}", json={"postcode": "B9 5SS"}
    )
    assert (r.get_json()["postcode"], r.get_json()["latitude"]) == ("B9 5SS", 52.48)
    # Explicit coordinates still win.
    r = _call(
        client,
        world,
        "employer_x",
        "POST",
        f"/rounds/{world.ids['round']}/slots",
        json=slot_body(postcode="CV2 2DX", latitude=52.0, longitude=-1.0),
    )
    assert (r.get_json()["latitude"], r.get_json()["longitude"]) == (52.0, -1.0)
    r = _call(
        client,
        world,
        "employer_x",
        "POST",
        f"/rounds/{world.ids['round']}/slots",
        json=slot_body(postcode="CV2 2DX"),
    )
    assert r.status_code == 201, r.get_json()
    slot = r.get_json()
    assert (slot["latitude"], slot["longitude"]) == (52.421, -1.439)
    r = _call(
        client, world, "employer_x", "PATCH", f"/slots/{slot['id']}", json={"postcode": "WV10 0QP"}
    )
    assert (r.get_json()["latitude"], r.get_json()["longitude"]) == (52.599, -2.096)


def _upload(client: FlaskClient, world: World, kind: str, text: str) -> Any:
    return client.post(
        f"{API}/rounds/{world.ids['round']}/import/{kind}",
        data={"file": (io.BytesIO(text.encode()), f"{kind}.csv")},
        content_type="multipart/form-data",
        headers=world.headers("coordinator"),
    )


def test_trainee_import_postcodes(client: FlaskClient, world: World, session: Session) -> None:
    before = trainee_count(session)
    text = (
        "name,email,postcode,latitude,longitude\n"
        "Ana,ana@x.test,b23 6qt,,\n"
        "Bo,bo@x.test,ZE9 9ZZ,,\n"
        "Cy,cy@x.test,ZE9 9ZZ,52.1,-1.1\n"  # explicit coordinates: no lookup
        "Di,di@x.test,B1,,\n"
    )
    r = _upload(client, world, "trainees", text)
    assert r.status_code == 422
    assert r.get_json()["errors"] == [
        {"row": 5, "field": "postcode", "message": "Enter a full UK postcode, like B15 2TT"},
        {"row": 3, "field": "postcode", "message": NOT_FOUND},
    ]
    assert trainee_count(session) == before
    good = "\n".join(line for line in text.splitlines() if not line.startswith(("Bo", "Di")))
    r = _upload(client, world, "trainees", good + "\n")
    assert r.status_code == 201, r.get_json()
    ana = session.exec(select(Trainee).where(Trainee.email == "ana@x.test")).one()
    assert (ana.postcode, ana.latitude, ana.longitude) == ("B23 6QT", 52.5241, -1.8362)
    # Re-imported with a new postcode, Ana moves.
    r = _upload(client, world, "trainees", "name,email,postcode\nAna,ana@x.test,CV4 7EZ\n")
    assert r.get_json() == {"created": 0, "updated": 1}
    session.refresh(ana)
    assert (ana.latitude, ana.longitude) == (52.386, -1.556)


def test_slot_import_postcodes(client: FlaskClient, world: World, session: Session) -> None:
    before = slot_count(session)
    org = world.ids["org_x"]
    header = "organisation_id,title,postcode,starts_on,ends_on\n"
    rows = [
        f"{org},At the host,,2027-02-01,2027-05-28",
        f"{org},In Coventry,cv7 9ju,2027-02-01,2027-05-28",
        f"{org},Nowhere,ZE9 9ZZ,2027-02-01,2027-05-28",
    ]
    r = _upload(client, world, "slots", header + "\n".join(rows) + "\n")
    assert r.status_code == 422
    assert r.get_json()["errors"] == [{"row": 4, "field": "postcode", "message": NOT_FOUND}]
    assert slot_count(session) == before
    r = _upload(client, world, "slots", header + "\n".join(rows[:2]) + "\n")
    assert r.status_code == 201, r.get_json()
    coventry = session.exec(select(Slot).where(Slot.title == "In Coventry")).one()
    assert (coventry.postcode, coventry.latitude, coventry.longitude) == ("CV7 9JU", 52.438, -1.399)


def test_api_asks_postcodes_io_when_configured(
    settings: Settings, connection: object, session: Session, world: World
) -> None:
    from placement import create_app

    with postcodes_io_stand_in(postcodes={"SW1A 1AA": (51.501009, -0.141588)}) as stand_in:
        app = create_app(
            dataclasses.replace(settings, postcodes_io_url=stand_in.url),
            bind=connection,  # type: ignore[arg-type]
        )
        client = app.test_client()
        r = _call(client, world, "trainee_a", "PUT", "/trainees/me", json={"postcode": "sw1a1aa"})
        assert r.status_code == 200, r.get_json()
        assert (r.get_json()["latitude"], r.get_json()["longitude"]) == (51.501009, -0.141588)
        assert stand_in.requests == ["/postcodes/SW1A%201AA"]
        stand_in.broken = True
        r = _call(client, world, "trainee_a", "PUT", "/trainees/me", json={"postcode": "EC1A 1BB"})
        assert r.status_code == 422
        assert "did not answer" in r.get_json()["errors"]["postcode"][0]


def test_a_district_centre_from_postcodes_io_is_shown_as_approximate(
    settings: Settings, connection: object, session: Session, world: World
) -> None:
    from placement import create_app
    from placement.models import DistrictCentre
    from tests.web.helpers import client_sign_in

    approximate = (
        "Location approximate: we found the area (SW1A) but not the full postcode SW1A 9ZZ"
    )
    # The table knows nothing of SW1A; the stand-in knows only the district.
    with postcodes_io_stand_in(outcodes={"SW1A": (51.50123, -0.14158)}) as stand_in:
        asking = create_app(
            dataclasses.replace(settings, postcodes_io_url=stand_in.url),
            bind=connection,  # type: ignore[arg-type]
        ).test_client()
        r = _call(asking, world, "trainee_a", "PUT", "/trainees/me", json={"postcode": "sw1a9zz"})
        assert r.status_code == 200, r.get_json()
        assert (r.get_json()["latitude"], r.get_json()["longitude"]) == (51.50123, -0.14158)
        assert stand_in.requests == ["/postcodes/SW1A%209ZZ", "/outcodes/SW1A"]
        # A second place in the same district keeps one stored centre.
        r = _call(asking, world, "trainee_b", "PUT", "/trainees/me", json={"postcode": "SW1A 8ZZ"})
        assert r.status_code == 200, r.get_json()
    centres = session.exec(select(DistrictCentre)).all()
    assert [(c.outward, c.latitude, c.longitude) for c in centres] == [("SW1A", 51.50123, -0.14158)]

    # Later, postcodes.io gone from the settings: the pages still say it is approximate.
    pages = create_app(settings, bind=connection).test_client()  # type: ignore[arg-type]
    client_sign_in(pages, session, "coordinator", "district-centre@example.test")
    record = pages.get(f"/coordinator/trainees/{world.ids['trainee_a']}")
    assert record.status_code == 200
    assert approximate in record.text
    # A place the table knows exactly has no such sentence.
    r = _call(pages, world, "trainee_b", "PUT", "/trainees/me", json={"postcode": "B23 6QT"})
    assert r.status_code == 200
    exact = pages.get(f"/coordinator/trainees/{world.ids['trainee_b']}")
    assert exact.status_code == 200 and "Location approximate" not in exact.text
