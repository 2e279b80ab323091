"""Offers over the API on both databases: publishing makes them, the placed trainee accepts
or declines, an expired or withdrawn one cannot be answered, hosts see contact details only
once accepted, approvals on a published round are offers at once, and the round report."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from placement.models import (
    Exclusion,
    MatchRun,
    Organisation,
    OutboxMessage,
    Placement,
    Proposal,
    Round,
    Slot,
    Trainee,
    utcnow,
)
from placement.services import offers
from tests import factories as f
from tests.api.conftest import World, call

API = "/api/v1"


def _fresh(session: Session, model: Any, ident: int) -> Any:
    obj = session.get(model, ident, populate_existing=True)
    assert obj is not None
    return obj


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _accept(client: FlaskClient, world: World, role: str = "trainee_a") -> Any:
    return call(
        client, world, role, "POST", f"{API}/placements/{world.ids['published_placement']}/accept"
    )


def _decline(client: FlaskClient, world: World, role: str = "trainee_a", **body: Any) -> Any:
    return call(
        client,
        world,
        role,
        "POST",
        f"{API}/placements/{world.ids['published_placement']}/decline",
        json=body,
    )


def _mail_to(session: Session, email: str, kind: str) -> list[OutboxMessage]:
    return list(
        session.exec(
            select(OutboxMessage).where(
                OutboxMessage.to_address == email, OutboxMessage.kind == kind
            )
        ).all()
    )


def test_publishing_makes_every_live_placement_an_offer(
    client: FlaskClient, world: World, session: Session
) -> None:
    rnd = _fresh(session, Round, world.ids["closed"])
    rnd.offer_days = 3
    session.commit()
    before = utcnow()
    r = call(client, world, "coordinator", "POST", f"{API}/rounds/{world.ids['closed']}/publish")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["offer_days"] == 3
    mine = call(client, world, "trainee_b", "GET", f"{API}/rounds/{world.ids['closed']}/placements")
    assert mine.status_code == 200
    [offer] = mine.get_json()["items"]
    assert offer["id"] == world.ids["placement"]
    assert offer["offer_status"] == "offered" and offer["status"] == "live"
    expires = _when(offer["offer_expires_at"])
    assert before + timedelta(days=3) <= expires <= utcnow() + timedelta(days=3)
    # The results mail is the offer: it says by when to answer, and where.
    [results] = _mail_to(session, world.users["trainee_b"].email, "results_placed")
    assert "accept or decline it by" in results.text_body
    assert offers.uk_time(expires) in results.text_body
    assert "/trainee/placement\n" in results.text_body


def test_accepting_an_offer(client: FlaskClient, world: World, session: Session) -> None:
    hosts = call(
        client, world, "employer_x", "GET", f"{API}/rounds/{world.ids['published']}/placements"
    )
    [seen] = hosts.get_json()["items"]
    assert seen["offer_status"] == "offered"
    assert seen["trainee_email"] is None and seen["trainee_needs"] is None

    r = _accept(client, world)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["offer_status"] == "accepted" and body["status"] == "live"
    assert body["offer_decided_at"] is not None
    placement = _fresh(session, Placement, world.ids["published_placement"])
    assert placement.offer_status == "accepted"
    assert _fresh(session, Slot, placement.slot_id).filled == 1
    assert _mail_to(session, world.users["employer_x"].email, "offer_answered_employer")

    again = _accept(client, world)
    assert again.status_code == 409
    assert "already accepted" in again.get_json()["message"]
    given_up = _decline(client, world)
    assert given_up.status_code == 409
    assert "coordinator" in given_up.get_json()["message"]
    assert _fresh(session, Placement, world.ids["published_placement"]).status == "live"

    # Once accepted, the host sees how to reach the trainee, and needs only if shared.
    hosts = call(
        client, world, "employer_x", "GET", f"{API}/rounds/{world.ids['published']}/placements"
    )
    [seen] = hosts.get_json()["items"]
    assert seen["trainee_email"] == world.users["trainee_a"].email
    assert seen["trainee_needs"] is None
    r = call(
        client,
        world,
        "trainee_a",
        "PUT",
        f"{API}/trainees/me",
        json={"needs": "Step-free access, please.", "share_needs": True},
    )
    assert r.status_code == 200 and r.get_json()["share_needs"] is True
    [seen] = call(
        client, world, "employer_x", "GET", f"{API}/rounds/{world.ids['published']}/placements"
    ).get_json()["items"]
    assert seen["trainee_needs"] == "Step-free access, please."
    assert seen["decline_reason"] is None
    # The other host sees nothing of it.
    other = call(
        client, world, "employer_y", "GET", f"{API}/rounds/{world.ids['published']}/placements"
    )
    assert other.get_json()["total"] == 0


def test_declining_frees_the_seat_at_once(
    client: FlaskClient, world: World, session: Session
) -> None:
    r = _decline(client, world, reason="  I have found work nearer home.  ")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["offer_status"] == "declined" and body["status"] == "withdrawn"
    placement = _fresh(session, Placement, world.ids["published_placement"])
    assert placement.decline_reason == "I have found work nearer home."
    assert placement.withdrawn_at is not None
    assert _fresh(session, Slot, placement.slot_id).filled == 0
    # The pair is not offered again by a later (clearing) run.
    assert session.exec(
        select(Exclusion).where(
            Exclusion.trainee_id == placement.trainee_id, Exclusion.slot_id == placement.slot_id
        )
    ).first()
    assert _mail_to(session, world.users["employer_x"].email, "offer_answered_employer")

    late = _accept(client, world)
    assert late.status_code == 409 and "declined" in late.get_json()["message"]
    assert _decline(client, world).status_code == 409
    assert _fresh(session, Slot, placement.slot_id).filled == 0

    # The trainee still sees what they declined; the host sees that it was, not why.
    [mine] = call(
        client, world, "trainee_a", "GET", f"{API}/rounds/{world.ids['published']}/placements"
    ).get_json()["items"]
    assert mine["offer_status"] == "declined"
    assert mine["decline_reason"] == "I have found work nearer home."
    [seen] = call(
        client, world, "employer_x", "GET", f"{API}/rounds/{world.ids['published']}/placements"
    ).get_json()["items"]
    assert seen["offer_status"] == "declined" and seen["decline_reason"] is None


def test_decline_without_a_reason_and_with_too_long_a_one(
    client: FlaskClient, world: World, session: Session
) -> None:
    r = _decline(client, world, reason="x" * 1001)
    assert r.status_code == 422 and "reason" in r.get_json()["errors"]
    assert _fresh(session, Placement, world.ids["published_placement"]).offer_status == "offered"
    r = call(
        client,
        world,
        "trainee_a",
        "POST",
        f"{API}/placements/{world.ids['published_placement']}/decline",
    )
    assert r.status_code == 200, r.get_json()
    assert _fresh(session, Placement, world.ids["published_placement"]).decline_reason is None


def test_someone_elses_offer_is_not_found_and_nothing_changes(
    client: FlaskClient, world: World, session: Session
) -> None:
    for answer in (_accept, _decline):
        r = answer(client, world, "trainee_b")
        assert r.status_code == 404
        assert r.get_json()["message"] == "No such placement."
    missing = call(client, world, "trainee_a", "POST", f"{API}/placements/999999/accept")
    assert missing.status_code == 404
    placement = _fresh(session, Placement, world.ids["published_placement"])
    assert (placement.status, placement.offer_status) == ("live", "offered")
    assert _fresh(session, Slot, placement.slot_id).filled == 1


def test_an_offer_past_its_deadline_cannot_be_accepted_and_expires(
    client: FlaskClient, world: World, session: Session
) -> None:
    placement = _fresh(session, Placement, world.ids["published_placement"])
    placement.offer_expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    r = _accept(client, world)
    assert r.status_code == 409
    assert "expired" in r.get_json()["message"]
    placement = _fresh(session, Placement, world.ids["published_placement"])
    assert (placement.status, placement.offer_status) == ("live", "offered")

    assert offers.expire_offers(session=session) == 1
    placement = _fresh(session, Placement, world.ids["published_placement"])
    assert (placement.status, placement.offer_status) == ("withdrawn", "expired")
    assert _fresh(session, Slot, placement.slot_id).filled == 0
    assert _mail_to(session, world.users["trainee_a"].email, "offer_expired")
    # The job is idempotent.
    assert offers.expire_offers(session=session) == 0
    assert _fresh(session, Slot, placement.slot_id).filled == 0
    r = _decline(client, world)
    assert r.status_code == 409 and "expired" in r.get_json()["message"]


def test_an_offer_withdrawn_by_the_coordinator_cannot_be_accepted(
    client: FlaskClient, world: World, session: Session
) -> None:
    r = call(
        client,
        world,
        "coordinator",
        "DELETE",
        f"{API}/placements/{world.ids['published_placement']}",
    )
    assert r.status_code == 200
    assert r.get_json()["offer_status"] == "withdrawn" and r.get_json()["status"] == "withdrawn"
    r = _accept(client, world)
    assert r.status_code == 409 and "withdrew" in r.get_json()["message"]
    placement = _fresh(session, Placement, world.ids["published_placement"])
    assert _fresh(session, Slot, placement.slot_id).filled == 0
    assert _mail_to(session, world.users["trainee_a"].email, "placement_withdrawn")


def test_an_approval_on_a_published_round_is_an_offer_at_once(
    client: FlaskClient, world: World, session: Session
) -> None:
    rnd = _fresh(session, Round, world.ids["published"])
    org = _fresh(session, Organisation, world.ids["org_y"])
    slot = f.slot(session, round=rnd, organisation=org, capacity=1)
    run = f.match_run(session, round=rnd, status="succeeded", phase="done", clearing=True)
    trainee_b = world.ids["trainee_b"]
    proposal = Proposal(run_id=f.pk(run), trainee_id=trainee_b, slot_id=f.pk(slot), cost=1.0)
    session.add(proposal)
    session.commit()
    r = call(client, world, "coordinator", "POST", f"{API}/proposals/{f.pk(proposal)}/approve")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["offer_status"] == "offered"
    expires = _when(body["offer_expires_at"]) - _when(body["offered_at"])
    assert expires == timedelta(days=rnd.offer_days)
    [made] = _mail_to(session, world.users["trainee_b"].email, "offer_made")
    assert org.name in made.text_body
    run_body = call(client, world, "coordinator", "GET", f"{API}/runs/{f.pk(run)}").get_json()
    assert run_body["clearing"] is True


def test_clearing_runs_need_a_closed_or_published_round(client: FlaskClient, world: World) -> None:
    r = call(client, world, "coordinator", "POST", f"{API}/rounds/{world.ids['round']}/runs")
    assert r.status_code == 409
    assert "published" in r.get_json()["message"]


def test_offer_days_is_1_to_60(client: FlaskClient, world: World) -> None:
    body = {"name": "Spring", "starts_on": "2027-01-04", "ends_on": "2027-07-02"}
    for bad in (0, 61, "7", 2.5):
        r = call(
            client, world, "coordinator", "POST", f"{API}/rounds", json=body | {"offer_days": bad}
        )
        assert r.status_code == 422, bad
        assert "offer_days" in r.get_json()["errors"]
    r = call(client, world, "coordinator", "POST", f"{API}/rounds", json=body | {"offer_days": 60})
    assert r.status_code == 201 and r.get_json()["offer_days"] == 60
    r = call(client, world, "coordinator", "POST", f"{API}/rounds", json=body)
    assert r.get_json()["offer_days"] == 7


def test_share_needs_is_a_boolean_defaulting_to_false(client: FlaskClient, world: World) -> None:
    me = call(client, world, "trainee_a", "GET", f"{API}/trainees/me").get_json()
    assert me["share_needs"] is False
    r = call(client, world, "trainee_a", "PUT", f"{API}/trainees/me", json={"share_needs": "maybe"})
    assert r.status_code == 422 and "share_needs" in r.get_json()["errors"]


def test_round_report_and_csvs(client: FlaskClient, world: World, session: Session) -> None:
    assert _accept(client, world).status_code == 200
    rnd = _fresh(session, Round, world.ids["published"])
    org = _fresh(
        session, Slot, _fresh(session, Placement, world.ids["published_placement"]).slot_id
    )
    free = f.slot(
        session, round=rnd, organisation=f.organisation(session), capacity=2, title="Spare"
    )
    session.commit()
    r = call(client, world, "coordinator", "GET", f"{API}/rounds/{world.ids['published']}/report")
    assert r.status_code == 200, r.get_json()
    report = r.get_json()
    assert report["overall"]["counts"]["accepted"] == 1 and report["overall"]["total"] == 1
    [kind] = report["by_host_kind"]
    assert kind["counts"]["accepted"] == 1
    assert [seat["slot_id"] for seat in report["free_seats"]] == [f.pk(free)]
    assert report["free_seat_total"] == 2
    assert org.filled == 1

    text = call(
        client, world, "coordinator", "GET", f"{API}/rounds/{world.ids['published']}/report.csv"
    ).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["section"] == "round" and rows[0]["accepted"] == "1"
    assert {row["section"] for row in rows} == {"round", "host_kind", "provider"}

    text = call(
        client, world, "coordinator", "GET", f"{API}/rounds/{world.ids['published']}/placements.csv"
    ).get_data(as_text=True)
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["offer_status"] == "accepted" and row["status"] == "live"
    assert row["offered_at"] and row["offer_expires_at"] and row["offer_decided_at"]


def test_runs_of_a_published_round_are_clearing_runs(
    client: FlaskClient, world: World, session: Session
) -> None:
    r = call(client, world, "coordinator", "POST", f"{API}/rounds/{world.ids['published']}/runs")
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["clearing"] is True
    closed = call(client, world, "coordinator", "POST", f"{API}/rounds/{world.ids['closed']}/runs")
    assert closed.get_json()["clearing"] is False
    assert session.exec(select(MatchRun).where(col(MatchRun.clearing).is_(True))).first()


def test_erasure_removes_a_decline_reason_and_keeps_the_offer(
    client: FlaskClient, world: World, session: Session
) -> None:
    assert _decline(client, world, reason="My own words").status_code == 200
    r = call(client, world, "coordinator", "DELETE", f"{API}/trainees/{world.ids['trainee_a']}")
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    placement = _fresh(session, Placement, world.ids["published_placement"])
    assert placement.decline_reason is None
    assert (placement.status, placement.offer_status) == ("withdrawn", "declined")


def test_approve_all_on_a_clearing_run_makes_offers_and_tells_each_trainee(
    client: FlaskClient, world: World, session: Session
) -> None:
    rnd = _fresh(session, Round, world.ids["published"])
    org = _fresh(session, Organisation, world.ids["org_y"])
    slot = f.slot(session, round=rnd, organisation=org, capacity=1)
    run = f.match_run(session, round=rnd, status="succeeded", phase="done", clearing=True)
    newcomer = f.trainee(session, user_id=f.user(session, role="trainee").id)
    f.proposal(session, run=run, trainee=newcomer, slot=slot)
    # Trainee A already holds an offer in the round: a second one is refused.
    f.proposal(
        session, run=run, trainee=_fresh(session, Trainee, world.ids["trainee_a"]), slot=slot
    )
    session.commit()
    r = call(client, world, "coordinator", "POST", f"{API}/runs/{f.pk(run)}/approve-all")
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["approved"], r.get_json()["conflicts"]) == (1, 1)
    made = session.exec(select(Placement).where(Placement.trainee_id == newcomer.id)).one()
    assert made.offer_status == "offered" and made.offer_expires_at is not None
    assert session.exec(select(OutboxMessage).where(OutboxMessage.kind == "offer_made")).one()
    live_a = session.exec(
        select(Placement).where(
            Placement.trainee_id == world.ids["trainee_a"], Placement.status == "live"
        )
    ).all()
    assert len(live_a) == 1
