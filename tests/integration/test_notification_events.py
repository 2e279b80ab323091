"""Who is told what, when a round opens, its results are published, a placement is
withdrawn, and two days before its preference deadline (SQLite and Postgres)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from placement.config import Settings
from placement.db import session_scope
from placement.models import (
    MatchRun,
    Notification,
    OutboxMessage,
    Placement,
    UnplacedTrainee,
    User,
)
from placement.services import approvals, notifications, rounds
from tests import factories as f
from tests.conftest import Backend


def outbox(session: Session) -> list[OutboxMessage]:
    return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def by_address(session: Session) -> dict[str, OutboxMessage]:
    return {m.to_address: m for m in outbox(session)}


def test_opening_a_round_tells_its_trainees_and_the_employers_with_slots(
    session: Session,
) -> None:
    coordinator = f.user(session, role="coordinator")
    rnd = f.round_(
        session, status="draft", name="Spring 2027", preference_deadline=date(2027, 1, 9)
    )
    employer = f.user(session, role="employer", email="xavier@hosts.test", name="Xavier")
    idle_employer = f.user(session, role="employer", email="yasmin@hosts.test")
    host = f.organisation(session, owner_id=employer.id, name="X Test Labs")
    f.organisation(session, owner_id=idle_employer.id)
    slot = f.slot(session, round=rnd, organisation=host)
    f.slot(session, round=rnd, organisation=host)
    ava = f.user(session, email="ava@example.test", name="Ava")
    in_round = f.trainee(session, user_id=ava.id, name="Ava Trainee", email=ava.email)
    imported = f.trainee(session, name="Imported Ivy")  # no account: nobody to tell
    elsewhere_user = f.user(session, email="zed@example.test")
    f.trainee(session, user_id=elsewhere_user.id, email=elsewhere_user.email)  # not in it
    f.preference(session, trainee=in_round, slot=slot, rank=1)
    f.preference(session, trainee=imported, slot=slot, rank=1)
    session.commit()

    assert rnd.id is not None
    rounds.transition_round(session=session, actor=coordinator, round_id=rnd.id, action="open")

    mails = by_address(session)
    assert set(mails) == {"ava@example.test", "xavier@hosts.test"}
    assert mails["ava@example.test"].kind == "round_opened"
    assert mails["ava@example.test"].subject == "Spring 2027 is open: choose your placements"
    assert "9 Jan 2027" in mails["ava@example.test"].text_body
    assert mails["xavier@hosts.test"].kind == "round_opened_employer"
    assert "2 placements X Test Labs offers" in mails["xavier@hosts.test"].text_body
    notes = session.exec(select(Notification)).all()
    assert {n.user_id for n in notes} == {ava.id, employer.id}


@dataclass(frozen=True)
class Published:
    coordinator: User
    round_id: int
    placement_id: int


def _published_world(session: Session) -> Published:
    coordinator = f.user(session, role="coordinator")
    rnd = f.round_(session, status="closed", name="Autumn 2027")
    host = f.organisation(session, name="X Test Labs", postcode="B15 2TT")
    slot = f.slot(session, round=rnd, organisation=host, title="Assay validation", filled=1)
    people = {}
    for key in ("placed", "outcompeted", "ineligible", "rejected"):
        user = f.user(session, email=f"{key}@example.test", name=key.title())
        trainee = f.trainee(session, user_id=user.id, email=user.email, name=key.title())
        f.preference(session, trainee=trainee, slot=slot, rank=1)
        people[key] = trainee
    run = MatchRun(round_id=rnd.id, status="succeeded", phase="done", progress=100)
    session.add(run)
    session.flush()
    session.add_all(
        [
            UnplacedTrainee(
                run_id=run.id, trainee_id=people["outcompeted"].id, reason="outcompeted"
            ),
            UnplacedTrainee(
                run_id=run.id, trainee_id=people["ineligible"].id, reason="no_eligible_slot"
            ),
        ]
    )
    placement = Placement(round_id=rnd.id, trainee_id=people["placed"].id, slot_id=slot.id)
    session.add(placement)
    session.commit()
    assert rnd.id is not None and placement.id is not None
    return Published(coordinator, rnd.id, placement.id)


def _publish(session: Session, world: Published) -> None:
    rounds.transition_round(
        session=session, actor=world.coordinator, round_id=world.round_id, action="publish"
    )


def test_publishing_tells_each_trainee_their_result_with_the_reason(session: Session) -> None:
    _publish(session, _published_world(session))

    mails = by_address(session)
    assert set(mails) == {
        "placed@example.test",
        "outcompeted@example.test",
        "ineligible@example.test",
        "rejected@example.test",
    }
    placed = mails["placed@example.test"]
    assert placed.kind == "results_placed"
    assert placed.subject == "Your placement in Autumn 2027: Assay validation at X Test Labs"
    assert "B15 2TT" in placed.text_body
    assert mails["outcompeted@example.test"].kind == "results_unplaced"
    assert "filled by other trainees" in mails["outcompeted@example.test"].text_body
    assert "DBS clearance" in mails["ineligible@example.test"].text_body
    # Proposed but not approved: no reason from the match, so the plain fact.
    assert "No placement was approved for you" in mails["rejected@example.test"].text_body


def test_withdrawing_a_published_placement_tells_the_trainee(session: Session) -> None:
    world = _published_world(session)
    _publish(session, world)
    before = len(outbox(session))
    approvals.withdraw_placement(
        session=session, actor=world.coordinator, placement_id=world.placement_id
    )
    (withdrawn,) = outbox(session)[before:]
    assert withdrawn.kind == "placement_withdrawn"
    assert withdrawn.to_address == "placed@example.test"
    assert "Assay validation at X Test Labs" in withdrawn.subject


def test_withdrawing_before_publication_tells_nobody(session: Session) -> None:
    world = _published_world(session)
    approvals.withdraw_placement(
        session=session, actor=world.coordinator, placement_id=world.placement_id
    )
    assert outbox(session) == []


# --- the reminder job ------------------------------------------------------------------------


def _settings(backend: Backend, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": backend.url,
            "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
        }
    )


def test_the_deadline_reminder_goes_once_to_each_trainee_in_the_last_48_hours(
    committed_backend: Backend, tmp_path: Path
) -> None:
    settings = _settings(committed_backend, tmp_path)
    deadline = date(2027, 1, 9)  # choices close at midnight UTC after 9 Jan
    with session_scope(settings) as session:
        rnd = f.round_(session, status="open", name="Spring 2027", preference_deadline=deadline)
        other = f.round_(session, status="open", preference_deadline=date(2027, 3, 1))
        host = f.organisation(session)
        slot = f.slot(session, round=rnd, organisation=host)
        far_slot = f.slot(session, round=other, organisation=host)
        for n in range(3):
            user = f.user(session, email=f"t{n}@example.test", name=f"T{n}")
            trainee = f.trainee(session, user_id=user.id, email=user.email)
            f.preference(session, trainee=trainee, slot=slot, rank=1)
            f.preference(session, trainee=trainee, slot=far_slot, rank=1)
        f.preference(session, trainee=f.trainee(session), slot=slot, rank=1)  # no account

    too_early = datetime(2027, 1, 7, 23, 59, tzinfo=UTC)
    opens = datetime(2027, 1, 8, 0, 0, tzinfo=UTC)
    assert notifications.send_deadline_reminders(settings=settings, now=too_early) == 0
    assert notifications.send_deadline_reminders(settings=settings, now=opens) == 3
    assert notifications.send_deadline_reminders(settings=settings, now=opens) == 0
    later = opens + timedelta(hours=30)
    assert notifications.send_deadline_reminders(settings=settings, now=later) == 0

    # A trainee who joins the round later is reminded on the next pass, once.
    with session_scope(settings) as session:
        user = f.user(session, email="late@example.test")
        late = f.trainee(session, user_id=user.id, email=user.email)
        f.preference(session, trainee=late, slot=slot, rank=1)
    assert notifications.send_deadline_reminders(settings=settings, now=later) == 1
    past = datetime(2027, 1, 10, 0, 0, tzinfo=UTC)
    assert notifications.send_deadline_reminders(settings=settings, now=past) == 0

    with session_scope(settings, readonly=True) as session:
        mails = outbox(session)
        assert sorted(m.to_address for m in mails) == [
            "late@example.test",
            "t0@example.test",
            "t1@example.test",
            "t2@example.test",
        ]
        assert {m.kind for m in mails} == {"deadline_reminder"}
        assert all("9 Jan 2027" in m.text_body for m in mails)
        assert all("ranked 1 of up to 10" in m.text_body for m in mails)
        assert len(session.exec(select(Notification)).all()) == 4
