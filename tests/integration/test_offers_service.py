"""Offers as services on SQLite and Postgres: a whole round through publication, a decline,
a clearing run (executed in-process, as a worker would) that refills the freed seat without
offering the declined pair again, and the 48-hour reminders, each sent once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from placement.config import Settings
from placement.db import get_engine
from placement.models import (
    OutboxMessage,
    Placement,
    Proposal,
    Slot,
    UnplacedTrainee,
    User,
    utcnow,
)
from placement.services import approvals, offers, rounds
from placement.services.instances import build_instance
from placement.services.runs import execution, reading
from tests import factories as f
from tests.conftest import Backend
from tests.integration.runs_support import run_settings


def _offers_of(session: Session, round_id: int) -> dict[int, tuple[int, str | None, str]]:
    rows = session.exec(
        select(Placement).where(Placement.round_id == round_id).order_by(col(Placement.id))
    ).all()
    return {p.id or 0: (p.trainee_id, p.offer_status, p.status) for p in rows}


def test_decline_then_a_clearing_run_refills_the_seat(
    committed_backend: Backend, tmp_path: Path
) -> None:
    settings: Settings = run_settings(committed_backend, tmp_path)
    engine = get_engine(settings)
    with Session(engine, expire_on_commit=False) as session:
        coordinator = f.user(session, role="coordinator")
        users = [f.user(session, role="trainee") for _ in range(3)]
        ada, ben, cal = (
            f.trainee(session, user_id=u.id, name=n, email=u.email)
            for u, n in zip(users, ("Ada", "Ben", "Cal"), strict=True)
        )
        rnd = f.round_(session, status="closed", offer_days=5)
        host = f.organisation(session)
        lab = f.slot(session, round=rnd, organisation=host, capacity=1, title="Lab")
        clinic = f.slot(session, round=rnd, organisation=host, capacity=1, title="Clinic")
        # Ada and Ben both want the lab; Cal the clinic.
        f.preference(session, trainee=ada, slot=lab, rank=1)
        f.preference(session, trainee=ben, slot=lab, rank=1)
        f.preference(session, trainee=cal, slot=clinic, rank=1)
        session.commit()
        round_id, lab_id, clinic_id = f.pk(rnd), f.pk(lab), f.pk(clinic)

    # The main run, approved in full, then published.
    with Session(engine, expire_on_commit=False) as session:
        run = reading.start_run(
            session=session, actor=coordinator, round_id=round_id, settings=settings
        )
    execution.execute_run(f.pk(run), settings=settings)
    with Session(engine, expire_on_commit=False) as session:
        result = approvals.approve_all(session=session, actor=coordinator, run_id=f.pk(run))
        assert (result.approved, result.conflicts) == (2, 0)
        rounds.transition_round(
            session=session, actor=coordinator, round_id=round_id, action="publish"
        )
        placed = {t: status for t, status, _ in _offers_of(session, round_id).values()}
        assert set(placed.values()) == {"offered"}
        assert f.pk(cal) in placed
        first = session.exec(
            select(Placement).where(Placement.round_id == round_id, Placement.slot_id == lab_id)
        ).one()
        assert first.offer_expires_at is not None and first.offered_at is not None
        assert first.offer_expires_at - first.offered_at == timedelta(days=5)
        at_lab = first.trainee_id
        waiting = ({f.pk(ada), f.pk(ben)} - {at_lab}).pop()

    # Whoever holds the lab declines it; the seat is free at once.
    holder = next(u for u, t in zip(users, (ada, ben, cal), strict=True) if t.id == at_lab)
    with Session(engine, expire_on_commit=False) as session:
        offers.decline_offer(
            session=session, actor=holder, placement_id=f.pk(first), reason="Too far"
        )
        lab_row = session.get(Slot, lab_id)
        assert lab_row is not None and lab_row.filled == 0
        # Cal's accepted offer is locked in a clearing run; the decliner is excluded from
        # the lab, the seat they freed is free.
        cal_offer = session.exec(
            select(Placement).where(Placement.trainee_id == cal.id, Placement.status == "live")
        ).one()
        cal_user = session.get(User, users[2].id)
        assert cal_user is not None
        offers.accept_offer(session=session, actor=cal_user, placement_id=f.pk(cal_offer))
        doc = build_instance(session=session, round_id=round_id)
        assert {"trainee_id": str(cal.id), "slot_id": str(clinic_id)} in doc["locked"]
        assert {"trainee_id": str(at_lab), "slot_id": str(lab_id)} in doc["excluded"]

    # The clearing run places the one who was waiting; approving it is an offer at once.
    with Session(engine, expire_on_commit=False) as session:
        clearing = reading.start_run(
            session=session, actor=coordinator, round_id=round_id, settings=settings
        )
        assert clearing.clearing is True
    execution.execute_run(f.pk(clearing), settings=settings)
    with Session(engine, expire_on_commit=False) as session:
        proposals = session.exec(select(Proposal).where(Proposal.run_id == f.pk(clearing))).all()
        assert [(p.trainee_id, p.slot_id) for p in proposals] == [(waiting, lab_id)]
        unplaced = session.exec(
            select(UnplacedTrainee).where(UnplacedTrainee.run_id == f.pk(clearing))
        ).all()
        assert [u.trainee_id for u in unplaced] == [at_lab]
        placement = approvals.approve_proposal(
            session=session, actor=coordinator, proposal_id=f.pk(proposals[0])
        )
        assert placement.offer_status == "offered" and placement.offer_expires_at is not None
        waiting_user = next(
            u for u, t in zip(users, (ada, ben, cal), strict=True) if t.id == waiting
        )
        assert session.exec(
            select(OutboxMessage).where(
                OutboxMessage.kind == "offer_made", OutboxMessage.to_address == waiting_user.email
            )
        ).first()
        lab_row = session.get(Slot, lab_id, populate_existing=True)
        assert lab_row is not None and lab_row.filled == 1
        final = _offers_of(session, round_id)
        live = [t for t, _, status in final.values() if status == "live"]
        assert sorted(live) == sorted([waiting, f.pk(cal)])
        statuses = sorted(str(s) for _, s, _ in final.values())
        assert statuses == ["accepted", "declined", "offered"]


def test_reminders_go_once_48_hours_before_the_deadline(session: Session) -> None:
    rnd = f.round_(session, status="published")
    host = f.organisation(session)
    now = utcnow()
    made: list[Placement] = []
    for days in (7, 2):
        user = f.user(session, role="trainee")
        trainee = f.trainee(session, user_id=user.id, email=user.email)
        slot = f.slot(session, round=rnd, organisation=host, capacity=1, filled=1)
        placement = Placement(
            round_id=f.pk(rnd),
            trainee_id=f.pk(trainee),
            slot_id=f.pk(slot),
            offer_status="offered",
            offered_at=now,
            offer_expires_at=now + timedelta(days=days),
        )
        session.add(placement)
        made.append(placement)
    session.commit()
    week, short = made
    assert week.offer_expires_at is not None
    # Too early: nothing.
    assert offers.send_offer_reminders(session=session, now=now + timedelta(days=1)) == 0
    when = week.offer_expires_at - timedelta(hours=47)
    # The 7-day offer is reminded once; the 2-day one never (its mail named the deadline).
    assert offers.send_offer_reminders(session=session, now=when) == 1
    assert offers.send_offer_reminders(session=session, now=when + timedelta(hours=1)) == 0
    reminders = session.exec(
        select(OutboxMessage).where(OutboxMessage.kind == "offer_reminder")
    ).all()
    assert len(reminders) == 1
    assert "Two days left" in reminders[0].subject
    session.refresh(week)
    session.refresh(short)
    assert week.offer_reminded_at == when and short.offer_reminded_at is None
