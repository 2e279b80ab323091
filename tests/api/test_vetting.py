"""Vetting and safeguarding over the API, on SQLite and Postgres: accreditation records and
their evidence, verification that lapses, DBS checks, safety details, audit and export."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from placement.models import (
    Accreditation,
    AuditEvent,
    DbsCheck,
    Notification,
    Organisation,
    OutboxMessage,
    Trainee,
)
from placement.services.instances import build
from placement.services.vetting import dbs_cutoff
from tests.api.conftest import World

API = "/api/v1"
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
TODAY = date.today()
NEXT_YEAR = (TODAY + timedelta(days=365)).isoformat()


def _actions(session: Session, prefix: str) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action).startswith(prefix))
            .order_by(col(AuditEvent.id))
        )
    )


def _upload(client: FlaskClient, world: World, role: str, record_id: int, data: bytes, name: str):  # type: ignore[no-untyped-def]
    # The multipart body built here, in memory: the test client's own encoder spools big
    # bodies to a temporary file it never closes (a ResourceWarning, which is an error).
    boundary = "vetting-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.put(
        f"{API}/accreditations/{record_id}/evidence",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=world.headers(role),
    )


def _record(client: FlaskClient, world: World, role: str = "employer_x", **body: Any) -> Any:
    values = {"standard": "ISO 15189", "body": "UKAS", "number": "8123", "expires_on": NEXT_YEAR}
    values.update(body)
    r = client.post(
        f"{API}/organisations/{world.ids['org_x']}/accreditations",
        json=values,
        headers=world.headers(role),
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# --- accreditations and verification -----------------------------------------------------


def test_names_sent_on_create_become_records_to_complete(client: FlaskClient, world: World) -> None:
    coordinator = world.headers("coordinator")
    r = client.post(
        f"{API}/organisations",
        json={
            "name": "Quay Diagnostics",
            "kind": "clinical_lab",
            "accreditations": ["ISO 15189", "ISO 15189", "ISO/IEC 17025"],
            "website": "https://quay.example",
        },
        headers=coordinator,
    )
    assert r.status_code == 201, r.get_json()
    org = r.get_json()
    assert org["accreditations"] == ["ISO 15189", "ISO/IEC 17025"]
    assert org["verified"] is False
    records = client.get(
        f"{API}/organisations/{org['id']}/accreditations", headers=coordinator
    ).get_json()["items"]
    assert [(a["standard"], a["complete"], a["current"]) for a in records] == [
        ("ISO 15189", False, False),
        ("ISO/IEC 17025", False, False),
    ]
    # Completing one makes it current; removing the other drops its name.
    r = client.patch(
        f"{API}/accreditations/{records[0]['id']}",
        json={"body": "UKAS", "number": "9001", "expires_on": NEXT_YEAR},
        headers=coordinator,
    )
    assert r.get_json()["current"] is True
    assert (
        client.delete(f"{API}/accreditations/{records[1]['id']}", headers=coordinator).status_code
        == 204
    )
    org = client.get(f"{API}/organisations/{org['id']}", headers=coordinator).get_json()
    assert org["accreditations"] == ["ISO 15189"]


def test_website_must_be_a_web_address(client: FlaskClient, world: World) -> None:
    for website in ("javascript:alert(1)", "ftp://x.example/", "x.example"):
        r = client.patch(
            f"{API}/organisations/{world.ids['org_x']}",
            json={"website": website},
            headers=world.headers("employer_x"),
        )
        assert r.status_code == 422
        assert "website" in r.get_json()["errors"]


def test_verification_is_a_record_and_lapses_on_owner_changes(
    client: FlaskClient, world: World, session: Session
) -> None:
    coordinator = world.headers("coordinator")
    org_id = world.ids["org_x"]
    r = client.post(
        f"{API}/organisations/{org_id}/verify",
        json={"seen": "UKAS schedule 8123 checked on the UKAS site"},
        headers=coordinator,
    )
    assert r.status_code == 200 and r.get_json()["verified"] is True
    items = client.get(f"{API}/organisations/{org_id}/verifications", headers=coordinator)
    latest = items.get_json()["items"][0]
    assert latest["seen"] == "UKAS schedule 8123 checked on the UKAS site"
    assert latest["verified_by"] == world.users["coordinator"].id
    assert latest["snapshot"]["name"] == "X Test Labs"
    assert latest["lapsed_at"] is None

    # A coordinator's correction keeps the verification; the owner's rename does not.
    client.patch(f"{API}/organisations/{org_id}", json={"name": "X Labs"}, headers=coordinator)
    assert session.get(Organisation, org_id).verified is True  # type: ignore[union-attr]
    r = client.patch(
        f"{API}/organisations/{org_id}",
        json={"name": "X Labs Ltd"},
        headers=world.headers("employer_x"),
    )
    assert r.get_json()["verified"] is False
    latest = client.get(
        f"{API}/organisations/{org_id}/verifications", headers=coordinator
    ).get_json()["items"][0]
    assert latest["lapsed_at"] is not None
    assert latest["lapse_reason"] == "The host changed its name."
    lapse = _actions(session, "organisation.lapse")[-1]
    assert lapse.actor_id == world.users["employer_x"].id
    assert lapse.detail["changes"] == {"verified": {"before": True, "after": False}}
    update = _actions(session, "organisation.update")[-1]
    assert update.detail["changes"]["name"] == {"before": "X Labs", "after": "X Labs Ltd"}
    # The coordinators are told, in the app and by mail.
    told = session.exec(
        select(Notification).where(
            Notification.user_id == world.users["coordinator"].id,
            Notification.kind == "verification_lapsed",
        )
    ).one()
    assert "no longer verified" in told.subject
    assert "The host changed its name." in told.body
    mail = session.exec(
        select(OutboxMessage).where(OutboxMessage.kind == "verification_lapsed")
    ).one()
    assert mail.to_address == world.users["coordinator"].email
    assert f"/coordinator/organisations/{org_id}" in mail.text_body


def test_owner_adding_an_accreditation_lapses_the_verification(
    client: FlaskClient, world: World, session: Session
) -> None:
    created = _record(client, world)
    assert created["current"] is True
    org = session.get(Organisation, world.ids["org_x"])
    assert org is not None
    session.refresh(org)
    assert org.verified is False
    # The factory's host had a name without a record; the list follows the records.
    assert org.accreditations == ["ISO 15189"]
    audit = _actions(session, "accreditation.create")[-1]
    assert audit.detail["changes"]["standard"] == {"before": None, "after": "ISO 15189"}
    # Verifying again while an accreditation has expired is refused.
    session.add(
        Accreditation(
            organisation_id=world.ids["org_x"],
            standard="ISO 13485",
            body="BSI",
            number="1",
            expires_on=TODAY - timedelta(days=1),
        )
    )
    session.commit()
    r = client.post(
        f"{API}/organisations/{world.ids['org_x']}/verify", headers=world.headers("coordinator")
    )
    assert r.status_code == 409
    assert "ISO 13485" in r.get_json()["message"]


def test_expired_accreditation_is_refused(client: FlaskClient, world: World) -> None:
    r = client.post(
        f"{API}/organisations/{world.ids['org_x']}/accreditations",
        json={"standard": "ISO 15189", "expires_on": "2020-01-01"},
        headers=world.headers("employer_x"),
    )
    assert r.status_code == 422
    assert "expires_on" in r.get_json()["errors"]


# --- evidence --------------------------------------------------------------------------


def test_evidence_is_checked_by_content_and_shown_only_to_owner_and_coordinators(
    client: FlaskClient, world: World
) -> None:
    record = _record(client, world)
    r = _upload(client, world, "employer_x", record["id"], b"<html>not a pdf</html>", "a.pdf")
    assert r.status_code == 422
    assert "file" in r.get_json()["errors"]
    big = b"%PDF-" + b"0" * (5 * 1024 * 1024)
    assert _upload(client, world, "employer_x", record["id"], big, "big.pdf").status_code == 413

    r = _upload(client, world, "employer_x", record["id"], PDF, "../../UKAS certificate.pdf")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["evidence_name"] == "UKAS certificate.pdf"
    assert r.get_json()["evidence_type"] == "application/pdf"
    path = f"{API}/accreditations/{record['id']}/evidence"
    for role in ("employer_x", "coordinator"):
        got = client.get(path, headers=world.headers(role))
        assert got.status_code == 200
        assert got.data == PDF
        assert got.mimetype == "application/pdf"
        assert "attachment" in got.headers["Content-Disposition"]
        got.close()
    for role in ("employer_y", "trainee_a"):
        assert client.get(path, headers=world.headers(role)).status_code in (403, 404)

    # A PNG replaces the PDF.
    r = _upload(client, world, "coordinator", record["id"], PNG, "scan")
    assert r.get_json()["evidence_name"] == "scan.png"
    got = client.get(path, headers=world.headers("coordinator"))
    assert got.data == PNG
    got.close()


# --- DBS -------------------------------------------------------------------------------


def test_trainee_cannot_set_dbs_cleared(client: FlaskClient, world: World) -> None:
    r = client.put(
        f"{API}/trainees/me", json={"dbs_cleared": True}, headers=world.headers("trainee_a")
    )
    assert r.status_code == 422
    assert "coordinator" in r.get_json()["errors"]["dbs_cleared"][0]


def test_dbs_check_recorded_by_a_coordinator(
    client: FlaskClient, world: World, session: Session
) -> None:
    tid = world.ids["trainee_b"]
    old = dbs_cutoff(TODAY, 4).isoformat()
    body = {"certificate_number": "001234567890", "level": "enhanced", "issued_on": old}
    r = client.post(
        f"{API}/trainees/{tid}/dbs-check", json=body, headers=world.headers("coordinator")
    )
    assert r.status_code == 201, r.get_json()
    # Four years old: on record, but past the default age.
    assert r.get_json()["dbs_cleared"] is False
    assert r.get_json()["check"]["seen_by"] == world.users["coordinator"].id
    recent = (TODAY - timedelta(days=30)).isoformat()
    r = client.post(
        f"{API}/trainees/{tid}/dbs-check",
        json={**body, "issued_on": recent},
        headers=world.headers("coordinator"),
    )
    assert r.get_json()["dbs_cleared"] is True
    assert r.get_json()["dbs_checked_on"] == recent

    bad = client.post(
        f"{API}/trainees/{tid}/dbs-check",
        json={"certificate_number": "12", "level": "super", "issued_on": "2999-01-01"},
        headers=world.headers("coordinator"),
    )
    assert bad.status_code == 422
    assert {"certificate_number", "level"} <= set(bad.get_json()["errors"])

    status = client.get(f"{API}/trainees/me/dbs", headers=world.headers("trainee_b")).get_json()
    assert status["cleared"] is True
    assert len(status["checks"]) == 2
    event = _actions(session, "dbs_check.record")[-1]
    assert event.object_id == str(tid)
    assert "001234567890" not in str(event.detail)


def test_round_dbs_max_age_decides_clearance_when_solved(
    client: FlaskClient, world: World, session: Session
) -> None:
    tid = world.ids["trainee_b"]
    four_years = dbs_cutoff(TODAY, 4)
    client.post(
        f"{API}/trainees/{tid}/dbs-check",
        json={
            "certificate_number": "001234567890",
            "level": "basic",
            "issued_on": four_years.isoformat(),
        },
        headers=world.headers("coordinator"),
    )
    closed = world.ids["closed"]
    doc = build(session=session, round_id=closed).data
    assert {t["id"]: t["dbs_cleared"] for t in doc["trainees"]}[str(tid)] is False
    r = client.post(
        f"{API}/rounds",
        json={
            "name": "Long",
            "starts_on": "2027-01-04",
            "ends_on": "2027-07-02",
            "dbs_max_age_years": 5,
        },
        headers=world.headers("coordinator"),
    )
    assert r.status_code == 201 and r.get_json()["dbs_max_age_years"] == 5
    bad = client.post(
        f"{API}/rounds",
        json={
            "name": "Bad",
            "starts_on": "2027-01-04",
            "ends_on": "2027-07-02",
            "dbs_max_age_years": 0,
        },
        headers=world.headers("coordinator"),
    )
    assert bad.status_code == 422 and "dbs_max_age_years" in bad.get_json()["errors"]


def test_import_may_vouch_for_dbs(client: FlaskClient, world: World, session: Session) -> None:
    header = "name,email,dbs_cleared,dbs_certificate_number,dbs_level,dbs_issued_on\n"
    issued = (TODAY - timedelta(days=10)).isoformat()
    rows = (
        "Ada,ada@college.test,true,,,\n"
        f"Bea,bea@college.test,,000011112222,standard,{issued}\n"
        "Cy,cy@college.test,false,,,\n"
    )

    def upload(text: str) -> Any:
        return client.post(
            f"{API}/rounds/{world.ids['round']}/import/trainees",
            data={"file": (io.BytesIO(text.encode()), "t.csv")},
            content_type="multipart/form-data",
            headers=world.headers("coordinator"),
        )

    bad = upload(
        header
        + rows
        + "Di,di@college.test,false,000011112222,standard,2020-01-01\n"
        + "Ed,ed@college.test,,12,platinum,\n"
    )
    assert bad.status_code == 422
    problems = {(e["row"], e["field"]) for e in bad.get_json()["errors"]}
    assert problems == {
        (5, "dbs_cleared"),
        (6, "dbs_certificate_number"),
        (6, "dbs_level"),
        (6, "dbs_issued_on"),
    }
    assert session.exec(select(DbsCheck)).all() == []

    r = upload(header + rows)
    assert r.status_code == 201, r.get_json()
    by_email = {t.email: t for t in session.exec(select(Trainee)) if t.email}
    assert by_email["ada@college.test"].dbs_cleared is True
    assert by_email["bea@college.test"].dbs_checked_on == TODAY - timedelta(days=10)
    assert by_email["cy@college.test"].dbs_cleared is False
    checks = session.exec(select(DbsCheck).order_by(col(DbsCheck.id))).all()
    assert [(c.source, c.level, c.certificate_number) for c in checks] == [
        ("import", None, None),
        ("import", "standard", "000011112222"),
    ]


# --- matching ----------------------------------------------------------------------------


def test_unverified_hosts_slots_take_no_new_trainees(
    client: FlaskClient, world: World, session: Session
) -> None:
    closed = world.ids["closed"]
    before = build(session=session, round_id=closed)
    assert str(world.ids["closed_slot_x"]) in {s["id"] for s in before.data["slots"]}
    client.patch(
        f"{API}/organisations/{world.ids['org_x']}",
        json={"website": "https://elsewhere.example"},
        headers=world.headers("employer_x"),
    )
    after = build(session=session, round_id=closed)
    assert str(world.ids["closed_slot_x"]) not in {s["id"] for s in after.data["slots"]}
    assert after.left_out["unverified_host_slots"] == 1


# --- safety details ------------------------------------------------------------------------


def test_safety_details_completed_signed_off_and_seen_by_the_trainee(
    client: FlaskClient, world: World, session: Session
) -> None:
    path = f"{API}/placements/{world.ids['published_placement']}/safety"
    host, coordinator = world.headers("employer_x"), world.headers("coordinator")
    assert client.post(f"{path}/sign-off", headers=coordinator).status_code == 409
    details = {
        "supervisor_name": "Sam Supervisor",
        "supervisor_contact": "sam@x.example",
        "induction_arranged": True,
        "risk_assessment_done": True,
        "insurance_confirmed": True,
    }
    r = client.put(path, json=details, headers=host)
    assert r.status_code == 200 and r.get_json()["complete"] is True
    r = client.post(f"{path}/sign-off", headers=coordinator)
    assert r.status_code == 200 and r.get_json()["signed_off_at"]
    # The trainee sees them once they have accepted the offer.
    assert client.get(path, headers=world.headers("trainee_a")).status_code == 404
    accept = f"{API}/placements/{world.ids['published_placement']}/accept"
    assert client.post(accept, headers=world.headers("trainee_a")).status_code == 200
    seen = client.get(path, headers=world.headers("trainee_a")).get_json()
    assert seen["supervisor_name"] == "Sam Supervisor" and seen["signed_off_at"]
    # A change by the host withdraws the sign-off.
    r = client.put(path, json={"supervisor_contact": "0121 496 0000"}, headers=host)
    assert r.get_json()["signed_off_at"] is None
    # Not the trainee's before results are published.
    r = client.get(
        f"{API}/placements/{world.ids['placement']}/safety", headers=world.headers("trainee_b")
    )
    assert r.status_code == 404
    assert [e.action for e in _actions(session, "placement_safety.")] == [
        "placement_safety.update",
        "placement_safety.sign_off",
        "placement_safety.update",
    ]


# --- personal data -----------------------------------------------------------------------


def test_export_and_erasure_cover_dbs(client: FlaskClient, world: World, session: Session) -> None:
    tid = world.ids["trainee_a"]
    client.post(
        f"{API}/trainees/{tid}/dbs-check",
        json={
            "certificate_number": "001234567890",
            "level": "enhanced",
            "issued_on": TODAY.isoformat(),
        },
        headers=world.headers("coordinator"),
    )
    data = client.get(f"{API}/trainees/me/export", headers=world.headers("trainee_a")).get_json()
    assert data["dbs"]["dbs_cleared"] is True
    assert data["dbs"]["checks"][0]["certificate_number"] == "001234567890"
    assert any(e["action"] == "dbs_check.record" for e in data["about_you"])
    assert "placement_safety" in data

    assert (
        client.delete(f"{API}/trainees/{tid}", headers=world.headers("coordinator")).status_code
        == 204
    )
    assert session.exec(select(DbsCheck).where(DbsCheck.trainee_id == tid)).all() == []
    trainee = session.get(Trainee, tid)
    assert trainee is not None
    session.refresh(trainee)
    assert trainee.dbs_cleared is False and trainee.dbs_checked_on is None
