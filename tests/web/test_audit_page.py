"""The coordinator's audit log page: who did what to whom, in words and names, with filters;
a host's website is only ever a link when it is an http(s) address. Both databases."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

from sqlmodel import Session, select

from placement.models import AuditEvent, Placement, Trainee, utcnow
from placement.services import rounds as rounds_service
from placement.services.trainees import update_trainee
from tests import factories as f
from tests.web.helpers import client_sign_in


def test_audit_page_says_who_did_what_to_whom(client: Any, session: Session) -> None:
    coordinator = client_sign_in(client, session, "coordinator", "cora-audit@example.test")
    rnd = f.round_(session, status="draft", name="Spring Midlands")
    amara = f.trainee(session, name="Amara Osei", postcode="B1 1AA")
    session.commit()
    update_trainee(
        session=session,
        actor=coordinator,
        trainee_id=f.pk(amara),
        values={
            "postcode": "B15 2TT",
            "latitude": 52.45,
            "longitude": -1.93,
            "needs": "quiet room",
        },
    )
    rounds_service.transition_round(
        session=session, actor=coordinator, round_id=f.pk(rnd), action="open"
    )
    # Sign-ins and sign-outs, as the identity service writes them.
    for action in ("login.success", "session.logout"):
        session.add(
            AuditEvent(
                actor_id=coordinator.id,
                action=action,
                object_type="user",
                object_id=str(coordinator.id),
                ip="198.51.100.7",
            )
        )
    session.add(AuditEvent(action="login.fail", object_type="user", ip="203.0.113.50"))
    session.commit()

    page = client.get("/coordinator/audit")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "coordinator person changed the profile of Amara Osei" in text
    assert "Postcode: B1 1AA" in text and "B15 2TT" in text
    assert "quiet room" not in text and "(hidden)" in text
    assert "coordinator person opened round “Spring Midlands”" in text
    assert "Status: draft" in text
    assert "coordinator person signed in" in text and "coordinator person signed out" in text
    assert "Failed sign-in to an unknown email address" in text
    assert "198.51.100.7" in text

    # Filters: person, round, what, dates; each keeps the others out.
    by_person = html.unescape(client.get("/coordinator/audit?person=amara").text)
    assert "profile of Amara Osei" in by_person and "opened round" not in by_person
    by_round = html.unescape(client.get(f"/coordinator/audit?round={rnd.id}").text)
    assert "opened round" in by_round and "Amara" not in by_round
    sign_ins = html.unescape(client.get("/coordinator/audit?action=login").text)
    assert "signed in" in sign_ins and "Failed sign-in" in sign_ins
    assert "signed out" not in sign_ins
    today = utcnow().date()
    assert (
        "Nothing recorded that matches"
        in client.get(f"/coordinator/audit?until={today - timedelta(days=1)}").text
    )
    assert "opened round" in html.unescape(
        client.get(f"/coordinator/audit?since={today}&until={today}").text
    )


def test_audit_page_refuses_bad_filters_with_a_clear_message(client: Any, session: Session) -> None:
    client_sign_in(client, session, "coordinator", "cora-filters@example.test")
    for query, words in [
        ("since=13/09/2027", "must be a date such as"),
        ("until=tomorrow", "must be a date such as"),
        ("since=2027-09-14&until=2027-09-13", "must not be before"),
        ("round=abc", "choose a round from the list"),
        (f"round={2**40}", "choose a round from the list"),
    ]:
        response = client.get(f"/coordinator/audit?{query}")
        assert response.status_code == 422, query
        assert words in html.unescape(response.text), query


def test_a_website_that_is_not_http_is_never_a_link(client: Any, session: Session) -> None:
    user = client_sign_in(client, session, "trainee", "tia-links@example.test")
    trainee = session.exec(select(Trainee).where(Trainee.user_id == user.id)).one()
    rnd = f.round_(session, status="published")
    bad = f.organisation(session, name="Old Host", website="javascript:alert(1)")
    good = f.organisation(session, name="Good Host", website="https://good.example")
    for org in (bad, good):
        slot = f.slot(session, round=rnd, organisation=org, filled=1)
        session.add(
            Placement(
                round_id=f.pk(rnd),
                trainee_id=f.pk(trainee),
                slot_id=f.pk(slot),
                offer_status="offered",
                offered_at=utcnow(),
                offer_expires_at=utcnow() + timedelta(days=7),
            )
            if org is bad
            else Placement(
                round_id=f.pk(rnd), trainee_id=f.pk(trainee), slot_id=f.pk(slot), status="withdrawn"
            )
        )
    session.commit()
    page = client.get("/trainee/placement")
    assert page.status_code == 200
    assert 'href="javascript:' not in page.text
    assert "javascript:alert(1)" in page.text  # shown as text
