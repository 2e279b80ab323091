"""The users.id columns that record who acted (`base._actor`) have no foreign key; this
module does, once per transaction, the check the key did per row.

Every unit of work that writes such an id notes it: the ORM's new and changed rows are
noted by themselves (`before_flush`), hand-written statements call `note_actors`. At
commit (after the last flush, so the transaction has written and, on SQLite, holds the
write lock) the noted ids are checked in one query; on Postgres the query takes
`FOR KEY SHARE` on their users rows, the lock a foreign key takes. An id whose account is
gone fails the commit with `AccountGone` (the caller rolls back: signed out).

Why this is sound against erasure (which deletes the users row after nulling the id
everywhere, `privacy.forget_actor`): erasure locks the users row FOR UPDATE *before* it
nulls the columns. On Postgres either the request's KEY SHARE comes first, and erasure
waits for the request's commit, then its UPDATEs (new statements, new snapshots under READ
COMMITTED) see and null the request's rows; or erasure's lock comes first, and the
request's KEY SHARE waits for erasure's commit and then finds no row: the request rolls
back. On SQLite writers are serialised by the database lock and the check runs inside the
request's write transaction, after its writes: erasure committed before it (the check
finds no row) or commits after it (and nulls its rows)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from placement.errors import Unauthorized

_NOTED = "placement_actor_ids"
# table name -> the who-acted column of that table (filled in by `watch`).
ACTOR_COLUMNS: dict[str, str] = {}


class AccountGone(Unauthorized):
    default_message = "Your account no longer exists: you have been signed out."
    code = "account_gone"


def watch(model: Any, column: str) -> None:
    """Declare `model.column` a who-acted users.id without a foreign key."""
    ACTOR_COLUMNS[model.__tablename__] = column


def note_actors(session: Session, ids: Iterable[int | None]) -> None:
    """Record that this transaction writes these users' ids as who acted."""
    noted: set[int] = session.info.setdefault(_NOTED, set())
    noted.update(i for i in ids if i is not None)


def _note_orm(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.new:
        column = ACTOR_COLUMNS.get(getattr(obj, "__tablename__", ""))
        if column is not None:
            note_actors(session, (getattr(obj, column, None),))
    for obj in session.dirty:
        column = ACTOR_COLUMNS.get(getattr(obj, "__tablename__", ""))
        if column is not None:
            # Only a value this unit of work sets: one already stored was checked then.
            note_actors(session, sa.inspect(obj).attrs[column].history.added)


_CHECK_PG = sa.text("SELECT id FROM users WHERE id = ANY(:ids) FOR KEY SHARE")
_CHECK = sa.text("SELECT id FROM users WHERE id IN :ids").bindparams(
    sa.bindparam("ids", expanding=True)
)


def check_noted(session: Session) -> None:
    """Flush, then check that every noted actor's account still exists (locking it on
    Postgres until the commit); `AccountGone` when one does not."""
    session.flush()  # what commit does next anyway; notes the ORM's ids
    ids = sorted(session.info.pop(_NOTED, ()))
    if not ids:
        return
    connection = session.connection()
    check = _CHECK_PG if connection.dialect.name == "postgresql" else _CHECK
    found = set(connection.execute(check, {"ids": ids}).scalars())
    if found != set(ids):
        raise AccountGone()


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_NOTED, None)


event.listen(Session, "before_flush", _note_orm)
event.listen(Session, "before_commit", check_noted)
event.listen(Session, "after_soft_rollback", _forget)
