"""Input validation at the edge: 422 with errors per field, 400, 413, JSON errors everywhere."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session

from placement import create_app
from placement.config import Settings
from tests.accounts_support import register_and_verify
from tests.api.conftest import World, slot_body

API = "/api/v1"


def _errors(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["message"]
    errors: dict[str, Any] = body["errors"]
    return errors


def test_unknown_fields_refused(client: FlaskClient, world: World) -> None:
    r = client.post(
        f"{API}/rounds",
        json={"name": "R", "starts_on": "2027-01-01", "ends_on": "2027-02-01", "colour": "red"},
        headers=world.headers("coordinator"),
    )
    assert "colour" in _errors(r)
    r = client.patch(
        f"{API}/slots/{world.ids['slot_x']}",
        json={"id": 5, "filled": 2},
        headers=world.headers("employer_x"),
    )
    errors = _errors(r)
    assert set(errors) == {"id", "filled"}


def test_every_bad_field_is_named(client: FlaskClient, world: World) -> None:
    r = client.post(
        f"{API}/rounds/{world.ids['round']}/slots",
        json=slot_body(
            capacity=0,
            min_level=3,
            latitude=91,
            ends_on="2027-01-01",
            required_skills="pipetting",
            remote="maybe",
        ),
        headers=world.headers("employer_x"),
    )
    errors = _errors(r)
    assert {"capacity", "min_level", "latitude", "required_skills", "remote"} <= set(errors)


def test_dates_in_order(client: FlaskClient, world: World) -> None:
    r = client.post(
        f"{API}/rounds/{world.ids['round']}/slots",
        json=slot_body(starts_on="2027-05-01", ends_on="2027-04-01"),
        headers=world.headers("employer_x"),
    )
    assert "ends_on" in _errors(r)
    r = client.patch(
        f"{API}/slots/{world.ids['slot_x']}",
        json={"ends_on": "2026-01-01"},
        headers=world.headers("employer_x"),
    )
    assert "ends_on" in _errors(r)


@pytest.mark.parametrize(
    "body",
    [
        {"level": 3},
        {"max_travel_km": 0},
        {"max_travel_km": -5},
        {"latitude": "north"},
        {"skills": ["ok", ""]},
        {"name": "x" * 201},
        {"name": "nul\x00byte"},
        {"name": "lone \ud800 surrogate"},
        {"available_from": "2027-13-01"},
        {"dbs_cleared": "perhaps"},
        {"max_travel_km": float("nan")},
    ],
)
def test_trainee_profile_values(client: FlaskClient, world: World, body: dict[str, Any]) -> None:
    r = client.put(f"{API}/trainees/me", json=body, headers=world.headers("trainee_a"))
    assert set(_errors(r)) == set(body)


def test_email_cannot_be_changed_by_the_trainee(client: FlaskClient, world: World) -> None:
    r = client.put(
        f"{API}/trainees/me", json={"email": "new@x.test"}, headers=world.headers("trainee_a")
    )
    assert "email" in _errors(r)


def test_malformed_json_is_400(client: FlaskClient, world: World) -> None:
    for payload in (b"{not json", b'{"a": 1', b"\xff\xfe"):
        r = client.post(
            f"{API}/rounds",
            data=payload,
            content_type="application/json",
            headers=world.headers("coordinator"),
        )
        assert r.status_code == 400, payload
        assert r.get_json()["message"]


def test_wrong_json_type_is_422(client: FlaskClient, world: World) -> None:
    for payload in ([1, 2], "text", 3):
        r = client.post(f"{API}/rounds", json=payload, headers=world.headers("coordinator"))
        assert r.status_code == 422


def test_missing_required_fields(client: FlaskClient, world: World) -> None:
    r = client.post(f"{API}/rounds", json={}, headers=world.headers("coordinator"))
    assert set(_errors(r)) == {"name", "starts_on", "ends_on"}


def test_query_values_validated(client: FlaskClient, world: World) -> None:
    h = world.headers("coordinator")
    assert client.get(f"{API}/rounds?page=0", headers=h).status_code == 422
    assert client.get(f"{API}/rounds?per_page=abc", headers=h).status_code == 422
    r = client.get(f"{API}/rounds?per_page=100000", headers=h)
    assert r.status_code == 200
    assert r.get_json()["per_page"] == 500
    assert client.get(f"{API}/rounds?status=done", headers=h).status_code == 422


def test_pagination_shape(client: FlaskClient, world: World) -> None:
    r = client.get(f"{API}/rounds?page=1&per_page=2", headers=world.headers("coordinator"))
    body = r.get_json()
    assert set(body) == {"items", "total", "page", "per_page"}
    assert body["total"] >= 4
    assert len(body["items"]) == 2
    beyond = body["total"] // 2 + 2
    r = client.get(f"{API}/rounds?page={beyond}&per_page=2", headers=world.headers("coordinator"))
    assert r.get_json()["items"] == []


def test_ids_out_of_range_are_404(client: FlaskClient, world: World) -> None:
    h = world.headers("coordinator")
    for path in (
        "/rounds/0",
        "/rounds/99999999999999999999",
        "/rounds/-1",
        "/rounds/abc",
        "/slots/2147483648",
    ):
        r = client.get(API + path, headers=h)
        assert r.status_code == 404, path
        assert r.get_json()["message"]


def test_json_errors_for_werkzeug_errors(client: FlaskClient, world: World) -> None:
    r = client.get(f"{API}/no-such-thing")
    assert r.status_code == 404 and r.is_json and r.get_json()["message"]
    r = client.put(f"{API}/rounds", json={}, headers=world.headers("coordinator"))
    assert r.status_code == 405 and r.get_json()["message"]
    assert "GET" in r.headers["Allow"]


def test_upload_too_large_is_413(settings: Settings, connection: object, world: World) -> None:
    small = Settings(**{**settings.__dict__, "max_upload_bytes": 1024})
    client = create_app(small, bind=connection).test_client()  # type: ignore[arg-type]
    big = b"name,email\n" + b"x,y@example.test\n" * 200
    r = client.post(
        f"{API}/rounds/{world.ids['round']}/import/trainees",
        data={"file": (io.BytesIO(big), "big.csv")},
        content_type="multipart/form-data",
        headers=world.headers("coordinator"),
    )
    assert r.status_code == 413
    assert r.get_json()["message"]
    r = client.post(
        f"{API}/rounds",
        data=b'{"name": "' + b"x" * 2000 + b'"}',
        content_type="application/json",
        headers=world.headers("coordinator"),
    )
    assert r.status_code == 413


def test_import_without_file_is_422(client: FlaskClient, world: World) -> None:
    r = client.post(
        f"{API}/rounds/{world.ids['round']}/import/trainees",
        data={},
        content_type="multipart/form-data",
        headers=world.headers("coordinator"),
    )
    assert "file" in _errors(r)


def test_preferences_rules(client: FlaskClient, world: World) -> None:
    h = world.headers("trainee_a")
    url = f"{API}/rounds/{world.ids['round']}/preferences"
    sx, sy = world.ids["slot_x"], world.ids["slot_y"]
    assert "slot_ids" in _errors(client.put(url, json={"slot_ids": [sx, sx]}, headers=h))
    other_round_slot = world.ids["closed_slot_x"]
    r = client.put(url, json={"slot_ids": [sx, other_round_slot]}, headers=h)
    assert str(other_round_slot) in str(_errors(r)["slot_ids"])
    r = client.put(url, json={"slot_ids": [sy, sx]}, headers=h)
    assert r.status_code == 200
    body = r.get_json()
    assert body["slot_ids"] == [sy, sx]
    assert body["updated_at"]
    assert client.get(url, headers=h).get_json()["slot_ids"] == [sy, sx]
    assert client.get(url, headers=world.headers("trainee_b")).get_json()["slot_ids"] == [sy]


def test_preferences_at_most_max(client: FlaskClient, world: World, session: Any) -> None:
    from placement.models import Round

    rnd = session.get(Round, world.ids["round"])
    rnd.max_preferences = 1
    session.commit()
    r = client.put(
        f"{API}/rounds/{world.ids['round']}/preferences",
        json={"slot_ids": [world.ids["slot_x"], world.ids["slot_y"]]},
        headers=world.headers("trainee_a"),
    )
    assert "at most 1" in str(_errors(r)["slot_ids"])


def test_rankings_only_applicants(client: FlaskClient, world: World) -> None:
    r = client.put(
        f"{API}/slots/{world.ids['slot_x']}/rankings",
        json={"trainee_ids": [world.ids["trainee_b"]]},
        headers=world.headers("employer_x"),
    )
    assert "trainee_ids" in _errors(r)


def test_employer_sees_no_contact_location_or_dbs(client: FlaskClient, world: World) -> None:
    r = client.get(
        f"{API}/slots/{world.ids['slot_x']}/applicants", headers=world.headers("employer_x")
    )
    items = r.get_json()["items"]
    assert [i["id"] for i in items] == [world.ids["trainee_a"]]
    forbidden = {
        "email",
        "postcode",
        "latitude",
        "longitude",
        "dbs_cleared",
        "needs",
        "max_travel_km",
        "user_id",
    }
    assert not forbidden & set(items[0])
    assert {"name", "level", "skills"} <= set(items[0])
    # Nor where the trainee put the slot in their own list; a coordinator sees that.
    assert items[0]["rank"] is None
    r = client.get(
        f"{API}/slots/{world.ids['slot_x']}/applicants", headers=world.headers("coordinator")
    )
    assert r.get_json()["items"][0]["rank"] == 1


def test_employer_cannot_self_verify(client: FlaskClient, world: World) -> None:
    r = client.patch(
        f"{API}/organisations/{world.ids['org_x']}",
        json={"verified": False},
        headers=world.headers("employer_x"),
    )
    assert r.status_code == 403


def test_unverified_employer_cannot_post_slots(
    client: FlaskClient, world: World, session: Session
) -> None:
    token = register_and_verify(
        client, session, email="new-host@example.test", name="New Host", role="employer"
    )["token"]
    h = {"Authorization": f"Bearer {token}"}
    r = client.post(
        f"{API}/organisations",
        json={"name": "Fresh Lab", "kind": "test_lab", "latitude": 52.4, "longitude": -1.9},
        headers=h,
    )
    assert r.status_code == 201
    org = r.get_json()
    assert org["verified"] is False
    r = client.post(f"{API}/rounds/{world.ids['round']}/slots", json=slot_body(), headers=h)
    assert r.status_code == 403
    client.post(f"{API}/organisations/{org['id']}/verify", headers=world.headers("coordinator"))
    r = client.post(f"{API}/rounds/{world.ids['round']}/slots", json=slot_body(), headers=h)
    assert r.status_code == 201
    assert r.get_json()["organisation_id"] == org["id"]
    assert r.get_json()["latitude"] == 52.4


def test_id_filters_in_query_strings(client: FlaskClient, world: World) -> None:
    coordinator = world.headers("coordinator")
    r = client.get(
        f"{API}/rounds/{world.ids['round']}/slots?organisation_id={world.ids['org_x']}",
        headers=coordinator,
    )
    assert r.status_code == 200, r.get_json()
    assert [s["id"] for s in r.get_json()["items"]] == [world.ids["slot_x"]]
    r = client.get(f"{API}/trainees?round_id={world.ids['round']}", headers=coordinator)
    assert r.status_code == 200, r.get_json()
    assert {t["id"] for t in r.get_json()["items"]} >= {world.ids["trainee_a"]}
    actor = world.users["coordinator"].id
    assert client.get(f"{API}/audit?actor_id={actor}", headers=coordinator).status_code == 200
    r = client.get(
        f"{API}/rounds/{world.ids['round']}/slots?organisation_id=x", headers=coordinator
    )
    assert r.status_code == 422 and "organisation_id" in r.get_json()["errors"]


def test_preferences_need_a_profile_the_matcher_can_use(
    client: FlaskClient, world: World, session: Session
) -> None:
    signed_in = register_and_verify(client, session, email="newcomer@example.test")
    headers = {"Authorization": f"Bearer {signed_in['token']}"}
    url = f"{API}/rounds/{world.ids['round']}/preferences"
    r = client.put(url, json={"slot_ids": [world.ids["slot_x"]]}, headers=headers)
    assert r.status_code == 422
    assert "level" in r.get_json()["errors"]["profile"][0]
    profile = {
        "level": 4,
        "latitude": 52.48,
        "longitude": -1.89,
        "max_travel_km": 30,
        "available_from": "2027-01-04",
        "available_to": "2027-07-02",
    }
    assert client.put(f"{API}/trainees/me", json=profile, headers=headers).status_code == 200
    r = client.put(url, json={"slot_ids": [world.ids["slot_x"]]}, headers=headers)
    assert r.status_code == 200, r.get_json()
