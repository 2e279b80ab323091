"""Coordinators' notes on a trainee's record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from placement.errors import InvalidInput
from placement.models import TraineeNote, User
from placement.services.common import audit, require_role
from placement.services.pages.lookups import user_names
from placement.services.trainees import get_trainee

NOTE_MAX = 2000


@dataclass(frozen=True)
class Note:
    text: str
    author: str
    at: datetime


def add_note(*, session: Session, actor: User, trainee_id: int, text: str) -> TraineeNote:
    """A coordinator adds a note to a trainee's record. The audit log says a note was added
    and by whom; the text stays on the record (it may be sensitive)."""
    require_role(actor, "coordinator")
    trainee = get_trainee(session=session, actor=actor, trainee_id=trainee_id)
    text = text.strip()
    if not text:
        raise InvalidInput(errors={"text": ["Enter the note"]})
    if len(text) > NOTE_MAX:
        raise InvalidInput(errors={"text": [f"The note must be {NOTE_MAX:,} characters or fewer"]})
    if trainee.erased_at is not None:
        raise InvalidInput(errors={"text": ["This trainee's personal data is erased"]})
    note = TraineeNote(trainee_id=trainee_id, author_id=actor.id, text=text)
    session.add(note)
    session.flush()
    audit(
        session,
        actor=actor,
        action="trainee.note",
        object_type="trainee",
        object_id=trainee_id,
        trainee_id=trainee_id,
        note_id=note.id,
        length=len(text),
    )
    session.commit()
    return note


def notes_of(session: Session, trainee_id: int) -> list[Note]:
    """A trainee's notes, newest first, with their authors' names (the caller checks that
    the reader is a coordinator)."""
    rows = session.exec(
        select(TraineeNote)
        .where(TraineeNote.trainee_id == trainee_id)
        .order_by(col(TraineeNote.created_at).desc(), col(TraineeNote.id).desc())
    ).all()
    names = user_names(session, [n.author_id for n in rows])
    return [
        Note(
            text=n.text,
            author=names.get(n.author_id, "a former coordinator")
            if n.author_id
            else "a former coordinator",
            at=n.created_at,
        )
        for n in rows
    ]
