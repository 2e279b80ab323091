"""Coordinators' notes on a trainee's record (services/notes.py) on SQLite and Postgres:
added and listed with author and date, audited without their text, part of the trainee's
data export, and removed by erasure."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from placement.errors import Forbidden, InvalidInput
from placement.models import AuditEvent, TraineeNote
from placement.services import notes, privacy
from tests import factories as f


def test_notes_are_listed_newest_first_with_author_and_audited(session: Session) -> None:
    boss = f.user(session, role="coordinator", name="Helen Okafor")
    t = f.trainee(session)
    tid = f.pk(t)
    notes.add_note(session=session, actor=boss, trainee_id=tid, text="  Rang about travel.  ")
    notes.add_note(session=session, actor=boss, trainee_id=tid, text="Agreed a later start.")
    listed = notes.notes_of(session, tid)
    assert [(n.text, n.author) for n in listed] == [
        ("Agreed a later start.", "Helen Okafor"),
        ("Rang about travel.", "Helen Okafor"),
    ]
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "trainee.note")).all()
    assert len(events) == 2 and {e.trainee_id for e in events} == {tid}
    # The text may be sensitive: the log says a note was added, not what it says.
    assert all("travel" not in str(e.detail) and "later" not in str(e.detail) for e in events)


def test_bad_notes_are_refused_with_the_field_and_nothing_is_kept(session: Session) -> None:
    boss = f.user(session, role="coordinator")
    host = f.user(session, role="employer")
    tid = f.pk(f.trainee(session))
    with pytest.raises(InvalidInput) as blank:
        notes.add_note(session=session, actor=boss, trainee_id=tid, text="   ")
    assert blank.value.errors == {"text": ["Enter the note"]}
    with pytest.raises(InvalidInput) as long:
        notes.add_note(session=session, actor=boss, trainee_id=tid, text="x" * 2001)
    assert "2,000 characters or fewer" in long.value.errors["text"][0]
    with pytest.raises(Forbidden):
        notes.add_note(session=session, actor=host, trainee_id=tid, text="Hello")
    assert session.exec(select(TraineeNote)).all() == []


def test_notes_are_in_the_export_without_author_and_erased_with_the_trainee(
    session: Session,
) -> None:
    boss = f.user(session, role="coordinator")
    login = f.user(session, role="trainee")
    t = f.trainee(session, user_id=login.id)
    tid = f.pk(t)
    notes.add_note(session=session, actor=boss, trainee_id=tid, text="Needs step-free access.")
    exported = privacy.export_own_data(session=session, actor=login)
    assert [n["text"] for n in exported["notes"]] == ["Needs step-free access."]
    assert "author_id" not in exported["notes"][0]
    preview = privacy.erasure_preview(session=session, actor=boss, trainee_id=tid)
    assert any("notes" in line for line in preview.removed)

    privacy.erase_trainee(session=session, actor=boss, trainee_id=tid)
    assert session.exec(select(TraineeNote).where(TraineeNote.trainee_id == tid)).all() == []
    erased = session.exec(select(AuditEvent).where(AuditEvent.action == "trainee.erase")).one()
    assert erased.detail["notes_removed"] == 1
    with pytest.raises(InvalidInput):
        notes.add_note(session=session, actor=boss, trainee_id=tid, text="After erasure")
