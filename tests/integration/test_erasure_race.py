"""Who-acted ids have no foreign key (migration 8c55563b8b33); `models.actor_guard` checks
them once per transaction. A user's own request in flight while they are erased must not
leave their id behind: real commits, two connections, on each backend."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from placement.db import for_writing, make_engine
from placement.models import AccountGone, AuditEvent, User
from placement.models.actor_guard import check_noted
from placement.services import privacy
from placement.services.common import bulk_insert, utcnow
from tests import factories as f
from tests.conftest import Backend


def _people(engine: sa.Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        boss = f.user(session, role="coordinator")
        login = f.user(session, role="trainee")
        trainee = f.trainee(session, user_id=login.id)
        session.commit()
        return f.pk(boss), f.pk(login), f.pk(trainee)


def _erase(engine: sa.Engine, boss_id: int, trainee_id: int) -> None:
    with Session(for_writing(engine)) as session:
        boss = session.get(User, boss_id)
        assert boss is not None
        privacy.erase_trainee(session=session, actor=boss, trainee_id=trainee_id)


def _left_with(engine: sa.Engine, user_id: int) -> int:
    with engine.connect() as conn:
        return sum(
            conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE {column} = :u"), {"u": user_id}
            ).scalar_one()
            for table, column in (
                ("audit_events", "actor_id"),
                ("placements", "approved_by"),
                ("proposals", "decided_by"),
            )
        )


@pytest.mark.parametrize("how", ["orm", "bulk"])
def test_a_write_after_the_erasure_committed_is_refused(
    committed_backend: Backend, how: str
) -> None:
    """The request checked its token (the user existed), erasure committed, then the
    request writes the user's id: the commit fails and nothing of theirs survives."""
    engine = make_engine(committed_backend.url)
    try:
        boss_id, user_id, trainee_id = _people(engine)
        with Session(for_writing(engine), expire_on_commit=False) as request:
            me = request.exec(select(User).where(User.id == user_id)).one()  # the token check
            if engine.dialect.name == "sqlite":
                request.commit()  # SQLite: writers queue, so the check was its own unit
            _erase(engine, boss_id, trainee_id)
            if how == "orm":
                request.add(AuditEvent(actor_id=me.id, action="preference.set"))
            else:
                row = {"at": utcnow(), "actor_id": me.id, "action": "x", "object_type": ""}
                row |= {"object_id": "", "detail": {}, "ip": None}
                bulk_insert(request, AuditEvent, [row | {"round_id": None, "trainee_id": None}])
            with pytest.raises(AccountGone):
                request.commit()
            request.rollback()
        assert _left_with(engine, user_id) == 0
    finally:
        engine.dispose()


def test_erasure_waits_for_a_request_that_already_wrote_and_nulls_its_id(
    committed_backend: Backend,
) -> None:
    """The request wrote and checked first (Postgres: it holds FOR KEY SHARE on the user);
    erasure, started meanwhile in another thread, waits for its commit and then nulls the
    id the request wrote."""
    if committed_backend.name != "postgres":
        pytest.skip("SQLite serialises the two writers on its database lock")
    engine = make_engine(committed_backend.url)
    try:
        boss_id, user_id, trainee_id = _people(engine)
        with Session(engine) as request:
            request.add(AuditEvent(actor_id=user_id, action="preference.set"))
            check_noted(request)  # what commit does first: KEY SHARE on the user's row
            failed: list[BaseException] = []

            def erase() -> None:
                try:
                    _erase(engine, boss_id, trainee_id)
                except BaseException as error:  # reported below
                    failed.append(error)

            worker = threading.Thread(target=erase)
            worker.start()
            # Wait until the erasure is blocked on the user's row lock.
            for _ in range(600):
                waiting = request.connection().execute(
                    sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                )
                if waiting.scalar_one() or not worker.is_alive():
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the erasure never waited for the request")
            assert worker.is_alive(), failed
            request.commit()
        worker.join(60)
        assert not worker.is_alive() and not failed, failed
        assert _left_with(engine, user_id) == 0
        with Session(engine) as check:
            assert check.get(User, user_id) is None
    finally:
        engine.dispose()
