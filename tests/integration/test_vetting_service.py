"""The vetting service on SQLite and Postgres: the daily sweep, DBS ages, evidence files,
and what an unverified host's slots become in a round's instance."""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from placement.errors import Conflict, InvalidInput, NotFound, TooLarge
from placement.models import (
    Accreditation,
    AuditEvent,
    DbsCheck,
    Organisation,
    Placement,
    Trainee,
    Verification,
    utcnow,
)
from placement.services import vetting
from placement.services.instances import build
from tests import factories as f

TODAY = date.today()
PDF = b"%PDF-1.4\n%%EOF\n"


def _verified_host(session: Session, expires_on: date) -> Organisation:
    coordinator = f.user(session, role="coordinator")
    org = f.organisation(session, verified=False, accreditations=[])
    session.add(
        Accreditation(
            organisation_id=f.pk(org),
            standard="ISO 15189",
            body="UKAS",
            number="8123",
            expires_on=expires_on,
        )
    )
    session.flush()
    if expires_on >= TODAY:
        vetting.verify(session, actor=coordinator, org=org, seen="UKAS schedule")
    else:
        org.verified = True
    session.commit()
    return org


def test_dbs_cutoff_counts_whole_years() -> None:
    assert vetting.dbs_cutoff(date(2026, 12, 2), 3) == date(2023, 12, 2)
    assert vetting.dbs_cutoff(date(2028, 2, 29), 1) == date(2027, 2, 28)
    assert vetting.dbs_cutoff(date(2024, 2, 29), -3) == date(2027, 2, 28)


def test_sweep_lapses_expired_hosts_once(session: Session, tmp_path: Path) -> None:
    expired = _verified_host(session, TODAY - timedelta(days=1))
    current = _verified_host(session, TODAY + timedelta(days=30))
    result = vetting.sweep(session=session, storage=tmp_path)
    assert result["lapsed"] == 1
    session.refresh(expired)
    session.refresh(current)
    assert expired.verified is False and current.verified is True
    lapse = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == "organisation.lapse", AuditEvent.object_id == str(expired.id)
        )
    ).one()
    assert lapse.actor_id is None
    assert lapse.detail["reason"].startswith("ISO 15189 expired on ")
    # Idempotent: nothing more the second time.
    assert vetting.sweep(session=session, storage=tmp_path)["lapsed"] == 0
    # A verification that lapsed keeps what was verified and why it lapsed.
    record = vetting.current_verification(session, f.pk(current))
    assert record is not None and record.snapshot["accreditations"][0]["number"] == "8123"


def test_expired_host_cannot_be_verified(session: Session) -> None:
    org = _verified_host(session, TODAY - timedelta(days=1))
    org.verified = False
    session.commit()
    coordinator = f.user(session, role="coordinator")
    with pytest.raises(Conflict, match="ISO 15189 has expired"):
        vetting.verify_organisation(session=session, actor=coordinator, organisation_id=f.pk(org))
    assert (
        session.exec(select(Verification).where(Verification.organisation_id == org.id)).all() == []
    )


def test_sweep_stops_counting_old_dbs_checks(session: Session, tmp_path: Path) -> None:
    coordinator = f.user(session, role="coordinator")
    old = f.trainee(session, dbs_cleared=False)
    recent = f.trainee(session, dbs_cleared=False)
    for trainee, issued in ((old, TODAY - timedelta(days=365 * 3 - 5)), (recent, TODAY)):
        vetting.record_dbs_check(
            session=session,
            actor=coordinator,
            trainee_id=f.pk(trainee),
            values={"certificate_number": "000000000001", "level": "basic", "issued_on": issued},
        )
    assert old.dbs_cleared is True
    later = TODAY + timedelta(days=10)
    assert vetting.sweep(session=session, storage=tmp_path, today=later)["dbs_expired"] == 1
    session.refresh(old)
    session.refresh(recent)
    assert old.dbs_cleared is False and old.dbs_checked_on is not None
    assert recent.dbs_cleared is True


def test_imported_checks_keep_the_newest(session: Session) -> None:
    coordinator = f.user(session, role="coordinator")
    trainee = f.trainee(session, dbs_cleared=False)
    vetting.record_dbs_check(
        session=session,
        actor=coordinator,
        trainee_id=f.pk(trainee),
        values={"certificate_number": "000000000001", "level": "enhanced", "issued_on": TODAY},
    )
    older = {"certificate_number": "000000000002", "level": "basic", "issued_on": date(2020, 1, 1)}
    assert (
        vetting.record_imported_checks(session, actor=coordinator, checks=[(f.pk(trainee), older)])
        == 1
    )
    session.commit()
    session.refresh(trainee)
    assert trainee.dbs_checked_on == TODAY and trainee.dbs_cleared is True
    sources = session.exec(
        select(DbsCheck.source).where(DbsCheck.trainee_id == trainee.id).order_by(col(DbsCheck.id))
    ).all()
    assert list(sources) == ["seen", "import"]


def test_dbs_check_refuses_future_dates_and_erased_trainees(session: Session) -> None:
    coordinator = f.user(session, role="coordinator")
    trainee = f.trainee(session)
    values = {"certificate_number": "000000000001", "level": "basic"}
    with pytest.raises(InvalidInput):
        vetting.record_dbs_check(
            session=session,
            actor=coordinator,
            trainee_id=f.pk(trainee),
            values={**values, "issued_on": TODAY + timedelta(days=1)},
        )
    trainee.erased_at = utcnow()
    session.commit()
    with pytest.raises(Conflict):
        vetting.record_dbs_check(
            session=session,
            actor=coordinator,
            trainee_id=f.pk(trainee),
            values={**values, "issued_on": TODAY},
        )


def test_evidence_files_are_checked_stored_and_cleaned(session: Session, tmp_path: Path) -> None:
    owner = f.user(session, role="employer")
    other = f.user(session, role="employer")
    org = f.organisation(session, owner_id=owner.id, verified=False, accreditations=[])
    record = vetting.create_accreditation(
        session=session, actor=owner, organisation_id=f.pk(org), values={"standard": "ISO 13485"}
    )
    rid = f.pk(record)
    with pytest.raises(InvalidInput):
        vetting.attach_evidence(
            session=session,
            actor=owner,
            accreditation_id=rid,
            data=b"GIF89a",
            filename="x.gif",
            storage=tmp_path,
        )
    with pytest.raises(TooLarge):
        vetting.sniff_evidence(b"%PDF-" + bytes(vetting.EVIDENCE_MAX_BYTES))
    with pytest.raises(NotFound):
        vetting.attach_evidence(
            session=session,
            actor=other,
            accreditation_id=rid,
            data=PDF,
            filename="x.pdf",
            storage=tmp_path,
        )
    vetting.attach_evidence(
        session=session,
        actor=owner,
        accreditation_id=rid,
        data=PDF,
        filename="cert.pdf",
        storage=tmp_path,
    )
    first = record.evidence_file
    assert first and (tmp_path / first).read_bytes() == PDF
    vetting.attach_evidence(
        session=session,
        actor=owner,
        accreditation_id=rid,
        data=PDF,
        filename="cert2.pdf",
        storage=tmp_path,
    )
    assert not (tmp_path / first).exists()  # the replaced file goes at once
    second = record.evidence_file
    assert second is not None
    vetting.delete_accreditation(session=session, actor=owner, accreditation_id=rid)
    assert (tmp_path / second).exists()
    # The sweep removes files no record names once they are old enough.
    assert vetting.remove_orphan_files(session, tmp_path) == 0
    past = time.time() - 7200
    os.utime(tmp_path / second, (past, past))
    assert vetting.remove_orphan_files(session, tmp_path) == 1
    assert list(tmp_path.iterdir()) == []


def test_unverified_hosts_keep_only_the_seats_they_hold(session: Session) -> None:
    rnd = f.round_(session, status="closed")
    verified = f.organisation(session)
    unverified = f.organisation(session, verified=False)
    open_slot = f.slot(session, round=rnd, organisation=verified, capacity=2)
    held = f.slot(session, round=rnd, organisation=unverified, capacity=3, filled=1)
    empty = f.slot(session, round=rnd, organisation=unverified, capacity=2)
    placed, chooser = f.trainee(session), f.trainee(session)
    f.preference(session, trainee=placed, slot=held, rank=1)
    f.preference(session, trainee=chooser, slot=empty, rank=1)
    f.preference(session, trainee=chooser, slot=open_slot, rank=2)
    session.add(Placement(round_id=f.pk(rnd), trainee_id=f.pk(placed), slot_id=f.pk(held)))
    session.flush()

    built = build(session=session, round_id=f.pk(rnd))
    slots = {s["id"]: s for s in built.data["slots"]}
    assert set(slots) == {str(open_slot.id), str(held.id)}
    assert slots[str(held.id)]["capacity"] == 1  # only the seat its placement holds
    assert built.data["locked"] == [{"trainee_id": str(placed.id), "slot_id": str(held.id)}]
    prefs = {t["id"]: t["preferences"] for t in built.data["trainees"]}
    assert prefs[str(chooser.id)] == [str(open_slot.id)]
    assert built.left_out["unverified_host_slots"] == 2


def test_round_dbs_age_in_the_instance(session: Session) -> None:
    rnd = f.round_(session, status="closed", dbs_max_age_years=5)
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org, requires_dbs=True)
    four_years = vetting.dbs_cutoff(TODAY, 4)
    recent, old, none = (
        f.trainee(session, dbs_cleared=True, dbs_checked_on=four_years),
        f.trainee(session, dbs_cleared=True, dbs_checked_on=vetting.dbs_cutoff(TODAY, 6)),
        f.trainee(session, dbs_cleared=False),
    )
    for t in (recent, old, none):
        f.preference(session, trainee=t, slot=slot, rank=1)
    cleared = {
        t["id"]: t["dbs_cleared"]
        for t in build(session=session, round_id=f.pk(rnd)).data["trainees"]
    }
    assert cleared == {str(recent.id): True, str(old.id): False, str(none.id): False}
    rnd.dbs_max_age_years = 3
    session.flush()
    cleared = {
        t["id"]: t["dbs_cleared"]
        for t in build(session=session, round_id=f.pk(rnd)).data["trainees"]
    }
    assert cleared[str(recent.id)] is False


def test_erasure_removes_dbs_checks(session: Session) -> None:
    from placement.services.privacy import erase_trainee

    coordinator = f.user(session, role="coordinator")
    trainee = f.trainee(session)
    vetting.record_dbs_check(
        session=session,
        actor=coordinator,
        trainee_id=f.pk(trainee),
        values={"certificate_number": "000000000001", "level": "basic", "issued_on": TODAY},
    )
    erase_trainee(session=session, actor=coordinator, trainee_id=f.pk(trainee))
    assert session.exec(select(DbsCheck).where(DbsCheck.trainee_id == trainee.id)).all() == []
    stored = session.get(Trainee, trainee.id)
    assert stored is not None and stored.dbs_checked_on is None
