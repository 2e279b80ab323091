"""The API's busiest paths read with hand-written SQL on Postgres and Core on SQLite; both
give the same caller and the same answers (run on both backends)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from placement.models import User, utcnow
from placement.services import accounts, sessions
from tests import factories


def test_resolved_caller_is_the_sessions_user_and_loads_other_columns(session: Session) -> None:
    owner = factories.user(session, role="employer", mfa_secret="JBSWY3DPEHPK3PXP")
    org = factories.organisation(session, owner_id=owner.id)
    token = accounts.issue_token(session=session, user=owner)
    owner_id, password_hash = owner.id, owner.password_hash
    session.expunge_all()

    caller = sessions.resolve(session=session, kind="api", token=token)
    assert caller is not None
    # Persistent in this session (no second copy of the row), not dirty, and the columns
    # the query did not read load on first use.
    assert session.get(User, owner_id) is caller
    assert caller.email == owner.email and caller.role == "employer" and caller.mfa_enabled
    assert caller.email_verified_at is not None
    assert caller.email_verified_at.utcoffset() == timedelta(0)
    assert caller.password_hash == password_hash
    assert not session.dirty
    me = accounts.me(session=session, actor=caller)
    assert (me.organisation_id, me.trainee_id, me.mfa_enabled) == (org.id, None, True)


def test_resolve_refuses_expired_revoked_and_unverified(session: Session) -> None:
    person = factories.user(session)
    trainee = factories.trainee(session, user_id=person.id)
    token = accounts.issue_token(session=session, user=person)
    caller = sessions.resolve(session=session, kind="api", token=token)
    assert caller is not None
    assert accounts.me(session=session, actor=caller).trainee_id == trainee.id

    life = sessions.lifetime(session)
    stale = accounts.issue_token(session=session, user=person)
    row = sessions._find(session, "api", stale)
    assert row is not None
    row.last_used_at = utcnow() - life.idle - timedelta(minutes=1)
    session.commit()
    assert sessions.resolve(session=session, kind="api", token=stale) is None

    old = accounts.issue_token(session=session, user=person)
    row = sessions._find(session, "api", old)
    assert row is not None
    row.created_at = row.last_used_at = utcnow() - life.absolute - timedelta(minutes=1)
    session.commit()
    assert sessions.resolve(session=session, kind="api", token=old) is None

    assert sessions.revoke(session=session, kind="api", token=token)
    session.commit()
    assert sessions.resolve(session=session, kind="api", token=token) is None

    unproved = factories.user(session, email_verified_at=None)
    pending = accounts.issue_token(session=session, user=unproved)
    assert sessions.resolve(session=session, kind="api", token=pending) is None
    # A page session's id is no bearer token.
    page = sessions.issue(session=session, user=person, kind="web")
    session.commit()
    assert sessions.resolve(session=session, kind="api", token=page) is None
    assert sessions.resolve(session=session, kind="web", token=page) is not None
