"""Bulk actions of the coordinator (services/bulk.py) on SQLite and Postgres: each applies
to many ids in one transaction, audits each row it changes, and reports counts and the
rows it left with the reason."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, col, select

from placement.errors import Forbidden, InvalidInput, WrongState
from placement.models import (
    Accreditation,
    AuditEvent,
    EmailLink,
    OutboxMessage,
    Placement,
    Preference,
    RoundTrainee,
    Trainee,
    Verification,
)
from placement.services import bulk
from tests import factories as f


def _join(session: Session, rnd_id: int, *trainees: Trainee) -> None:
    for t in trainees:
        session.add(RoundTrainee(round_id=rnd_id, trainee_id=f.pk(t)))
    session.flush()


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_invite_mails_only_those_who_can_be_invited_and_audits_each(session: Session) -> None:
    boss = f.user(session, role="coordinator")
    rnd = f.round_(session)
    rid = f.pk(rnd)
    fresh = f.trainee(session, name="Amara Osei")
    fresh2 = f.trainee(session, name="Ben Carter")
    nomail = f.trainee(session, name="No Mail", email=None)
    login = f.user(session, role="trainee")
    has_login = f.trainee(session, name="Has Login", user_id=login.id)
    outsider = f.trainee(session, name="Not In Round")
    _join(session, rid, fresh, fresh2, nomail, has_login)

    ids = [f.pk(t) for t in (fresh, fresh2, nomail, has_login, outsider)]
    result = bulk.invite_trainees(session=session, actor=boss, round_id=rid, trainee_ids=ids)

    assert result.done == 2
    assert dict(result.skipped) == {
        "No Mail": "no email address",
        "Has Login": "already has a login",
        "Not In Round": "not in this round",
    }
    mails = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "invitation")).all()
    assert sorted(m.to_address for m in mails) == sorted([fresh.email, fresh2.email])
    links = session.exec(select(EmailLink).where(EmailLink.purpose == "invite")).all()
    assert {link.trainee_id for link in links} == {fresh.id, fresh2.id}
    events = _events(session, "trainee.invite")
    assert sorted(e.trainee_id for e in events) == sorted([fresh.id, fresh2.id])
    assert {e.round_id for e in events} == {rid}

    # Asked again within the hour: nobody is mailed twice.
    again = bulk.invite_trainees(session=session, actor=boss, round_id=rid, trainee_ids=ids[:2])
    assert again.done == 0
    assert {why for _, why in again.skipped} == {"invited in the last hour"}


def test_withdraw_previews_in_numbers_then_removes_membership_and_choices(
    session: Session,
) -> None:
    boss = f.user(session, role="coordinator")
    rnd = f.round_(session, status="closed")
    rid = f.pk(rnd)
    org = f.organisation(session)
    s1 = f.slot(session, round=rnd, organisation=org)
    s2 = f.slot(session, round=rnd, organisation=org)
    leaving = f.trainee(session, name="Leaving One")
    leaving2 = f.trainee(session, name="Leaving Two")
    placed = f.trainee(session, name="Placed One")
    staying = f.trainee(session, name="Staying")
    _join(session, rid, leaving, leaving2, placed, staying)
    for t in (leaving, staying):
        f.preference(session, trainee=t, slot=s1, rank=1)
        f.preference(session, trainee=t, slot=s2, rank=2)
    f.preference(session, trainee=leaving2, slot=s1, rank=1)
    session.add(
        Placement(
            round_id=rid,
            trainee_id=f.pk(placed),
            slot_id=f.pk(s1),
            status="live",
        )
    )
    session.flush()
    ids = [f.pk(leaving), f.pk(leaving2), f.pk(placed)]

    preview = bulk.withdrawal_preview(session=session, actor=boss, round_id=rid, trainee_ids=ids)
    assert preview.selected == 3
    assert preview.withdrawn == ["Leaving One", "Leaving Two"]
    assert preview.choices == 3
    assert [name for name, _ in preview.skipped] == ["Placed One"]
    assert preview.problem is None

    result = bulk.withdraw_from_round(session=session, actor=boss, round_id=rid, trainee_ids=ids)
    assert result.done == 2
    assert [name for name, _ in result.skipped] == ["Placed One"]
    members = set(
        session.exec(select(RoundTrainee.trainee_id).where(RoundTrainee.round_id == rid)).all()
    )
    assert members == {f.pk(placed), f.pk(staying)}
    left = session.exec(select(Preference.trainee_id).where(Preference.round_id == rid)).all()
    assert set(left) == {f.pk(staying)}
    events = _events(session, "trainee.withdraw_from_round")
    assert {e.trainee_id: e.detail["choices_removed"] for e in events} == {
        f.pk(leaving): 2,
        f.pk(leaving2): 1,
    }


def test_withdraw_is_refused_once_results_are_published(session: Session) -> None:
    boss = f.user(session, role="coordinator")
    rnd = f.round_(session, status="published")
    t = f.trainee(session)
    _join(session, f.pk(rnd), t)
    preview = bulk.withdrawal_preview(
        session=session, actor=boss, round_id=f.pk(rnd), trainee_ids=[f.pk(t)]
    )
    assert preview.problem is not None and "published" in preview.problem
    with pytest.raises(WrongState, match="published"):
        bulk.withdraw_from_round(
            session=session, actor=boss, round_id=f.pk(rnd), trainee_ids=[f.pk(t)]
        )
    assert session.get(RoundTrainee, (f.pk(rnd), f.pk(t))) is not None


def test_verify_hosts_verifies_each_through_vetting_and_leaves_expired(session: Session) -> None:
    boss = f.user(session, role="coordinator")
    a = f.organisation(session, name="Alpha Labs", verified=False)
    b = f.organisation(session, name="Beta Labs", verified=False)
    done_already = f.organisation(session, name="Gamma Labs", verified=True)
    expired = f.organisation(session, name="Delta Labs", verified=False)
    session.add(
        Accreditation(
            organisation_id=f.pk(expired),
            standard="ISO 13485",
            body="BSI",
            number="MD 1",
            expires_on=date(2020, 1, 1),
        )
    )
    session.flush()
    ids = [f.pk(a), f.pk(b), f.pk(done_already), f.pk(expired)]

    result = bulk.verify_hosts(
        session=session, actor=boss, organisation_ids=ids, seen="UKAS register"
    )

    assert result.done == 2
    skipped = dict(result.skipped)
    assert skipped["Gamma Labs"] == "already verified"
    assert "expired" in skipped["Delta Labs"]
    session.refresh(a)
    session.refresh(expired)
    assert a.verified and not expired.verified
    records = session.exec(
        select(Verification).where(col(Verification.organisation_id).in_([a.id, b.id]))
    ).all()
    assert {r.seen for r in records} == {"UKAS register"} and len(records) == 2
    assert len(_events(session, "organisation.verify")) == 2


def test_bulk_actions_refuse_no_selection_and_other_roles(session: Session) -> None:
    boss = f.user(session, role="coordinator")
    host = f.user(session, role="employer")
    rnd = f.round_(session)
    with pytest.raises(InvalidInput, match="Select at least one trainee"):
        bulk.invite_trainees(session=session, actor=boss, round_id=f.pk(rnd), trainee_ids=[])
    with pytest.raises(InvalidInput, match="at most"):
        bulk.verify_hosts(
            session=session, actor=boss, organisation_ids=list(range(1, bulk.MAX_IDS + 2))
        )
    with pytest.raises(Forbidden):
        bulk.verify_hosts(session=session, actor=host, organisation_ids=[1])
    with pytest.raises(Forbidden):
        bulk.withdraw_from_round(session=session, actor=host, round_id=f.pk(rnd), trainee_ids=[1])
    assert session.exec(select(Placement)).all() == []


def test_all_that_match_acts_on_the_whole_search_not_the_ticked_rows(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    boss = f.user(session, role="coordinator")
    rnd = f.round_(session, status="closed")
    rid = f.pk(rnd)
    org = f.organisation(session)
    slot = f.slot(session, round=rnd, organisation=org)
    smiths = [f.trainee(session, name=f"Sam Smith {i}") for i in range(60)]
    jones = f.trainee(session, name="Jo Jones")
    outsider_smith = f.trainee(session, name="Sal Smith (other round)")
    _join(session, rid, *smiths, jones)
    f.preference(session, trainee=smiths[0], slot=slot, rank=1)

    # Preview and withdrawal of "all 60 that match smith" (more than one 50-row page); the
    # ticked ids are ignored.
    preview = bulk.withdrawal_preview(
        session=session, actor=boss, round_id=rid, trainee_ids=[], all_matching=True, q="SMITH"
    )
    assert (preview.selected, len(preview.withdrawn), preview.choices) == (60, 60, 1)
    # The list changed since the confirmation: refused, nothing withdrawn.
    with pytest.raises(WrongState, match=r"changed since you confirmed \(59 then, 60 now\)"):
        bulk.withdraw_from_round(
            session=session,
            actor=boss,
            round_id=rid,
            trainee_ids=[],
            all_matching=True,
            q="smith",
            expected=59,
        )
    result = bulk.withdraw_from_round(
        session=session,
        actor=boss,
        round_id=rid,
        trainee_ids=[f.pk(jones)],
        all_matching=True,
        q="smith",
        expected=60,
    )
    assert (result.done, result.skipped) == (60, [])
    members = session.exec(select(RoundTrainee.trainee_id).where(RoundTrainee.round_id == rid))
    assert set(members.all()) == {f.pk(jones)}
    assert len(_events(session, "trainee.withdraw_from_round")) == 60
    assert f.pk(outsider_smith) not in {
        e.trainee_id for e in _events(session, "trainee.withdraw_from_round")
    }

    # Invite all that match (no search: the whole round, here Jo Jones alone).
    invited = bulk.invite_trainees(
        session=session, actor=boss, round_id=rid, trainee_ids=[], all_matching=True, q=None
    )
    assert invited.done == 1
    mails = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "invitation")).all()
    assert [m.to_address for m in mails] == [jones.email]

    # Nothing matches, or too many: clear refusals.
    with pytest.raises(InvalidInput, match="No trainee of the round matches"):
        bulk.invite_trainees(
            session=session, actor=boss, round_id=rid, trainee_ids=[], all_matching=True, q="zz"
        )
    monkeypatch.setattr(bulk, "MAX_MATCHING", 0)
    with pytest.raises(InvalidInput, match="Narrow the search"):
        bulk.invite_trainees(
            session=session, actor=boss, round_id=rid, trainee_ids=[], all_matching=True, q=None
        )
