"""The vetting pages through the test client, on SQLite and Postgres: recording a DBS check,
the trainee's DBS status, safety details from host to coordinator to trainee, the host's
standards on a slot page, and evidence that only its owner and coordinators can open."""

from __future__ import annotations

import html
import io
import uuid
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, select

from placement.models import Accreditation, DbsCheck, Placement, Trainee, utcnow
from tests import factories as f
from tests.web.helpers import client_sign_in, csrf_token


def _email(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:8]}@example.test"


def test_coordinator_records_a_dbs_check_and_the_trainee_sees_it(
    app: Any, session: Session
) -> None:
    coordinator, learner = app.test_client(), app.test_client()
    client_sign_in(coordinator, session, "coordinator", _email("coordinator"))
    user = client_sign_in(learner, session, "trainee", _email("trainee"))
    trainee = session.exec(select(Trainee).where(Trainee.user_id == user.id)).one()
    assert "No DBS check is recorded for you." in learner.get("/trainee/profile").text

    url = f"/coordinator/trainees/{trainee.id}/dbs"
    page = coordinator.get(url)
    assert page.status_code == 200 and "No DBS check recorded" in page.text
    bad = coordinator.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "certificate_number": "12AB",
            "level": "gold",
            "issued_on": "",
        },
    )
    assert bad.status_code == 422
    assert 'id="certificate_number-error"' in bad.text and 'id="level-error"' in bad.text
    issued = date.today() - timedelta(days=40)
    done = coordinator.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "certificate_number": "001234567890",
            "level": "enhanced",
            "issued_on": issued.isoformat(),
        },
        follow_redirects=True,
    )
    assert "the trainee is DBS cleared" in done.text
    assert "001234567890" in done.text
    session.expire_all()
    assert session.exec(select(DbsCheck).where(DbsCheck.trainee_id == trainee.id)).one()

    profile = html.unescape(learner.get("/trainee/profile").text)
    assert "DBS cleared" in profile
    assert f"{issued.day} {issued:%b %Y}" in profile
    assert 'name="dbs_cleared"' not in profile


def test_safety_details_from_host_to_coordinator_to_trainee(app: Any, session: Session) -> None:
    host, coordinator, learner = app.test_client(), app.test_client(), app.test_client()
    employer = client_sign_in(host, session, "employer", _email("employer"))
    client_sign_in(coordinator, session, "coordinator", _email("coordinator"))
    user = client_sign_in(learner, session, "trainee", _email("trainee"))
    trainee = session.exec(select(Trainee).where(Trainee.user_id == user.id)).one()
    org = f.organisation(session, owner_id=employer.id)
    rnd = f.round_(session, status="published")
    slot = f.slot(session, round=rnd, organisation=org, filled=1)
    # The trainee has accepted the offer: from then on they see the safety details.
    placement = Placement(
        round_id=f.pk(rnd),
        trainee_id=f.pk(trainee),
        slot_id=f.pk(slot),
        offer_status="accepted",
        offered_at=utcnow(),
        offer_expires_at=utcnow(),
        offer_decided_at=utcnow(),
    )
    session.add(placement)
    session.commit()

    url = f"/employer/placements/{placement.id}/safety"
    form = host.get(url)
    assert form.status_code == 200 and "Not complete yet" in form.text
    saved = host.post(
        url,
        data={
            "csrf_token": csrf_token(form.text),
            "supervisor_name": "Dr Sam Okoye",
            "supervisor_contact": "sam.okoye@host.example",
            "induction_arranged": "1",
            "risk_assessment_done": "1",
            "insurance_confirmed": "1",
        },
        follow_redirects=True,
    )
    assert "The safety details are saved." in saved.text
    assert "waiting for a coordinator" in saved.text

    review = coordinator.get(f"/coordinator/placements/{placement.id}/safety")
    assert "Sign off the safety details" in review.text
    signed = coordinator.post(
        f"/coordinator/placements/{placement.id}/safety/sign-off",
        data={"csrf_token": csrf_token(review.text)},
        follow_redirects=True,
    )
    assert "The safety details are signed off." in signed.text

    mine = learner.get("/trainee/placement")
    assert f"/trainee/placement/{placement.id}/safety" in mine.text
    seen = learner.get(f"/trainee/placement/{placement.id}/safety").text
    assert "Dr Sam Okoye" in seen and "Signed off by a coordinator" in seen
    assert 'name="supervisor_name"' not in seen
    # Another host's placement is not this employer's to see.
    other = f.slot(session, round=rnd, organisation=f.organisation(session), filled=1)
    theirs = Placement(round_id=f.pk(rnd), trainee_id=f.pk(f.trainee(session)), slot_id=f.pk(other))
    session.add(theirs)
    session.commit()
    assert host.get(f"/employer/placements/{theirs.id}/safety").status_code == 404


def test_slot_page_shows_host_standards_and_evidence_stays_private(
    app: Any, session: Session
) -> None:
    learner, owner_client, stranger = app.test_client(), app.test_client(), app.test_client()
    client_sign_in(learner, session, "trainee", _email("trainee"))
    owner = client_sign_in(owner_client, session, "employer", _email("employer"))
    client_sign_in(stranger, session, "employer", _email("employer"))
    org = f.organisation(session, owner_id=owner.id, accreditations=[])
    soon = date.today() + timedelta(days=90)
    session.add_all(
        [
            Accreditation(
                organisation_id=f.pk(org),
                standard="ISO 15189",
                body="UKAS",
                number="8123",
                expires_on=soon,
            ),
            Accreditation(organisation_id=f.pk(org), standard="ISO 9001"),
        ]
    )
    slot = f.slot(session, round=f.round_(session, status="open"), organisation=org)
    session.commit()
    text = html.unescape(learner.get(f"/trainee/slots/{slot.id}").text)
    assert f"ISO 15189 (current, until {soon.day} {soon:%b %Y})" in text
    assert "ISO 9001 (not confirmed as current)" in text

    record = session.exec(select(Accreditation).where(Accreditation.standard == "ISO 15189")).one()
    form = owner_client.get(f"/employer/accreditations/{record.id}/edit")
    saved = owner_client.post(
        f"/employer/accreditations/{record.id}/edit",
        data={
            "csrf_token": csrf_token(form.text),
            "standard": "ISO 15189",
            "body": "UKAS",
            "number": "8123",
            "scope": "",
            "expires_on": soon.isoformat(),
            "evidence": (io.BytesIO(b"\xff\xd8\xff\xe0 jpeg"), "scan.jpg"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "ISO 15189 is saved." in saved.text
    download = owner_client.get(f"/employer/accreditations/{record.id}/evidence")
    assert download.status_code == 200 and download.mimetype == "image/jpeg"
    download.close()
    assert stranger.get(f"/employer/accreditations/{record.id}/evidence").status_code == 404
    assert learner.get(f"/coordinator/accreditations/{record.id}/evidence").status_code == 403
