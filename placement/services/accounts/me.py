"""The caller's own account, as `GET /me` shows it: the API's busiest read."""

from __future__ import annotations

from sqlmodel import Session, select

from placement.models import Organisation, Trainee, User
from placement.services.accounts.signin import Me
from placement.services.driver_sql import pg_connection

# Only the id of the caller's trainee profile or organisation (the trainee row is wide);
# on Postgres as hand-written SQL on the driver (see driver_sql).
_PG_OWN_ID = {
    "trainee": "SELECT id FROM trainees WHERE user_id = %(user_id)s LIMIT 1",
    "employer": "SELECT id FROM organisations WHERE owner_id = %(user_id)s LIMIT 1",
}


def _own_id(session: Session, actor: User) -> int | None:
    pg = pg_connection(session)
    if pg is not None:
        row = pg.execute(_PG_OWN_ID[actor.role], {"user_id": actor.id}).fetchone()
        return int(row[0]) if row else None
    if actor.role == "trainee":
        return session.exec(select(Trainee.id).where(Trainee.user_id == actor.id)).first()
    return session.exec(select(Organisation.id).where(Organisation.owner_id == actor.id)).first()


def me(*, session: Session, actor: User) -> Me:
    own = _own_id(session, actor) if actor.role in _PG_OWN_ID else None
    assert actor.id is not None
    return Me(
        id=actor.id,
        email=actor.email,
        name=actor.name,
        role=actor.role,
        trainee_id=own if actor.role == "trainee" else None,
        organisation_id=own if actor.role == "employer" else None,
        mfa_enabled=actor.mfa_enabled,
    )
