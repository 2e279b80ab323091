"""The audit trail answers who changed what, when, from where: before/after values, secrets
masked, 403s recorded without flooding, filters by round, person, action and date."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from placement.models import AuditEvent, Organisation, Trainee, utcnow
from placement.services.common import MASK, changes, snapshot
from tests.api.conftest import World
from tests.web.helpers import client_sign_in

API = "/api/v1"


def _events(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
        )
    )


def _log(client: FlaskClient, world: World, query: str = "") -> list[dict]:  # type: ignore[type-arg]
    r = client.get(f"{API}/audit?per_page=500&{query}", headers=world.headers("coordinator"))
    assert r.status_code == 200, r.get_json()
    items: list[dict] = r.get_json()["items"]  # type: ignore[type-arg]
    return items


def test_changes_helper_diffs_and_masks(session: Session, world: World) -> None:
    trainee = session.get(Trainee, world.ids["trainee_a"])
    assert trainee is not None
    before = snapshot(trainee)
    trainee.postcode = "B15 2TT"
    trainee.needs = "wheelchair access"
    trainee.updated_at = utcnow() + timedelta(seconds=5)
    diff = changes(before, trainee)
    assert diff["postcode"]["after"] == "B15 2TT"
    assert diff["needs"] == {"before": None if before["needs"] is None else MASK, "after": MASK}
    assert "updated_at" not in diff and "name" not in diff
    secret = changes({"password_hash": "old-hash"}, {"password_hash": "new-hash"})
    assert secret == {"password_hash": {"before": MASK, "after": MASK}}
    named = changes({"totp_secret_pending": None, "api_token": "a"}, {"totp_secret_pending": "s"})
    assert named == {
        "totp_secret_pending": {"before": None, "after": MASK},
        "api_token": {"before": MASK, "after": None},
    }
    session.rollback()


def test_profile_changes_keep_before_and_after_values(
    client: FlaskClient, world: World, session: Session
) -> None:
    tid = world.ids["trainee_a"]
    old = session.get(Trainee, tid)
    assert old is not None
    old_provider = old.provider
    r = client.put(
        f"{API}/trainees/me",
        json={"provider": "Aston College", "needs": "Step-free access, please"},
        headers=world.headers("trainee_a"),
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert r.status_code == 200, r.get_json()
    event = _events(session, "trainee.update")[-1]
    assert event.actor_id == world.users["trainee_a"].id and event.trainee_id == tid
    assert event.ip == "203.0.113.9"
    found = event.detail["changes"]
    assert found["provider"] == {"before": old_provider, "after": "Aston College"}
    assert found["needs"]["after"] == MASK
    assert "Step-free" not in str(event.detail)

    r = client.patch(
        f"{API}/trainees/{tid}", json={"max_travel_km": 42.5}, headers=world.headers("coordinator")
    )
    assert r.status_code == 200
    event = _events(session, "trainee.update")[-1]
    assert event.actor_id == world.users["coordinator"].id
    assert event.detail["changes"]["max_travel_km"]["after"] == 42.5


def test_organisation_slot_round_and_decision_changes(
    client: FlaskClient, world: World, session: Session
) -> None:
    coordinator = world.headers("coordinator")
    org = session.get(Organisation, world.ids["org_x"])
    assert org is not None
    r = client.patch(
        f"{API}/organisations/{world.ids['org_x']}",
        json={"website": "https://x-labs.example"},
        headers=world.headers("employer_x"),
    )
    assert r.status_code == 200, r.get_json()
    event = _events(session, "organisation.update")[-1]
    assert event.detail["changes"]["website"]["after"] == "https://x-labs.example"

    r = client.patch(
        f"{API}/slots/{world.ids['slot_x']}", json={"capacity": 3}, headers=coordinator
    )
    assert r.status_code == 200, r.get_json()
    event = _events(session, "slot.update")[-1]
    assert event.detail["changes"]["capacity"]["after"] == 3
    assert event.round_id == world.ids["round"]

    r = client.put(
        f"{API}/rounds/{world.ids['round']}/preferences",
        json={"slot_ids": [world.ids["slot_y"], world.ids["slot_x"]]},
        headers=world.headers("trainee_a"),
    )
    assert r.status_code == 200, r.get_json()
    event = _events(session, "preference.set")[-1]
    assert event.detail["changes"]["slot_ids"] == {
        "before": [world.ids["slot_x"]],
        "after": [world.ids["slot_y"], world.ids["slot_x"]],
    }

    r = client.post(f"{API}/rounds/{world.ids['draft']}/open", headers=coordinator)
    assert r.status_code == 200
    event = _events(session, "round.open")[-1]
    assert event.detail["changes"]["status"] == {"before": "draft", "after": "open"}
    assert event.round_id == world.ids["draft"]

    r = client.post(
        f"{API}/proposals/{world.ids['proposal_b']}/reject",
        json={"reason": "Not this one"},
        headers=coordinator,
    )
    assert r.status_code == 200
    event = _events(session, "proposal.reject")[-1]
    assert event.detail["changes"]["status"] == {"before": "proposed", "after": "rejected"}
    assert event.detail["changes"]["reason"] == {"before": None, "after": "Not this one"}
    assert event.trainee_id == world.ids["trainee_b"] and event.round_id == world.ids["closed"]

    r = client.delete(f"{API}/placements/{world.ids['placement']}", headers=coordinator)
    assert r.status_code in (200, 204), r.get_json()
    event = _events(session, "placement.withdraw")[-1]
    assert event.detail["changes"]["status"] == {"before": "live", "after": "withdrawn"}


def test_repeated_403s_are_counted_not_stored(
    client: FlaskClient, world: World, session: Session
) -> None:
    for _ in range(30):
        r = client.post(f"{API}/rounds", json={"name": "x"}, headers=world.headers("trainee_a"))
        assert r.status_code == 403
    denied = _events(session, "request.deny")
    assert len(denied) == 1
    assert denied[0].detail["count"] == 30
    assert denied[0].actor_id == world.users["trainee_a"].id
    # Another caller, or another path, is its own event.
    client.post(f"{API}/rounds", json={"name": "x"}, headers=world.headers("employer_x"))
    client.get(f"{API}/audit", headers=world.headers("trainee_a"))
    assert len(_events(session, "request.deny")) == 3
    # An event older than the window is not added to.
    first = _events(session, "request.deny")[0]
    first.at = utcnow() - timedelta(minutes=2)
    session.commit()
    client.post(f"{API}/rounds", json={"name": "x"}, headers=world.headers("trainee_a"))
    assert len(_events(session, "request.deny")) == 4


def test_page_403s_are_recorded(client: FlaskClient, world: World, session: Session) -> None:
    user = client_sign_in(client, session, "trainee", "page-trainee@example.test")
    for _ in range(3):
        assert client.get("/coordinator/audit").status_code == 403
    denied = [
        e for e in _events(session, "request.deny") if e.detail["path"] == "/coordinator/audit"
    ]
    assert len(denied) == 1 and denied[0].detail["count"] == 3
    assert denied[0].actor_id == user.id


def test_filters_by_round_person_action_and_dates(
    client: FlaskClient, world: World, session: Session
) -> None:
    coordinator = world.headers("coordinator")
    client.post(f"{API}/proposals/{world.ids['proposal_a']}/approve", headers=coordinator)
    client.post(f"{API}/rounds/{world.ids['draft']}/open", headers=coordinator)
    client.put(
        f"{API}/trainees/me",
        json={"provider": "Solihull College"},
        headers=world.headers("trainee_b"),
    )

    by_round = _log(client, world, f"round_id={world.ids['closed']}")
    assert [e["action"] for e in by_round] == ["proposal.approve"]
    # A person: who acted (Ben edited his profile), or whom it was about (Ava's approval).
    ava = {e["action"] for e in _log(client, world, "person=ava")}
    assert ava == {"proposal.approve"}
    ben = {e["action"] for e in _log(client, world, "person=BEN%20TRAINEE")}
    assert ben == {"trainee.update"}
    cora = {e["action"] for e in _log(client, world, "person=cora")}
    assert {"proposal.approve", "round.open"} <= cora and "trainee.update" not in cora
    assert {e["action"] for e in _log(client, world, "action=round")} == {"round.open"}
    assert {e["action"] for e in _log(client, world, "action=round.open")} == {"round.open"}
    actor = world.users["trainee_b"].id
    assert {e["action"] for e in _log(client, world, f"actor_id={actor}")} == {"trainee.update"}
    today = utcnow().date()
    assert len(_log(client, world, f"since={today}&until={today}")) >= 3
    assert _log(client, world, f"until={today - timedelta(days=1)}") == []
    assert _log(client, world, f"since={today + timedelta(days=1)}") == []
    r = client.get(
        f"{API}/audit?since={today}&until={today - timedelta(days=1)}", headers=coordinator
    )
    assert r.status_code == 422 and "until" in r.get_json()["errors"]
    r = client.get(f"{API}/audit?since=yesterday", headers=coordinator)
    assert r.status_code == 422 and "since" in r.get_json()["errors"]
