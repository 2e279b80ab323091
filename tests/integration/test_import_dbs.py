"""Imported DBS checks written set-wise record what the one-by-one ORM version recorded.

`record_imported_checks` used to add each check, its audit event and the trainee's new
status as ORM objects. `_one_by_one` below is that version, kept as the reference: both run
on twin trainees (the same starting status) and must leave the same checks, the same audit
events and the same status, on SQLite and Postgres. The import then writes a new trainee's
status with the row (`imported_status`), which must agree too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select

from placement.models import (
    DEFAULT_DBS_MAX_AGE_YEARS,
    AuditEvent,
    DbsCheck,
    RoundStatus,
    Trainee,
    User,
    utcnow,
)
from placement.services import imports, vetting
from placement.services.common import snapshot
from placement.services.vetting.dbs import DBS_STATUS_FIELDS, _audit_check
from tests import factories as f

TODAY = utcnow().date()


def _one_by_one(
    session: Session, actor: User | None, checks: Sequence[tuple[int, Mapping[str, Any]]]
) -> None:
    """The ORM-object version the set-wise one replaced (kept as the reference)."""
    now = utcnow()
    cutoff = vetting.dbs_cutoff(now.date(), DEFAULT_DBS_MAX_AGE_YEARS)
    for trainee_id, values in checks:
        trainee = session.get(Trainee, trainee_id)
        assert trainee is not None
        check = DbsCheck(
            trainee_id=trainee_id,
            certificate_number=values.get("certificate_number"),
            level=values.get("level"),
            issued_on=values.get("issued_on"),
            source="import",
            seen_by=actor.id if actor is not None else None,
            seen_at=now,
        )
        session.add(check)
        before = snapshot(trainee, DBS_STATUS_FIELDS)
        newest = vetting.counts_from(check)
        if trainee.dbs_checked_on is None or trainee.dbs_checked_on < newest:
            trainee.dbs_checked_on = newest
        trainee.dbs_cleared = trainee.dbs_checked_on >= cutoff
        _audit_check(session, actor=actor, trainee=trainee, check=check, before=before)
    session.flush()


def _cert(number: int, level: str, issued_on: date) -> dict[str, Any]:
    return {"certificate_number": f"{number:012d}", "level": level, "issued_on": issued_on}


# (starting status, the checks the import carries for that trainee, in order)
CASES: list[tuple[tuple[bool, date | None], list[dict[str, Any]]]] = [
    ((False, None), [{}]),  # a bare `dbs_cleared`
    ((True, TODAY), [_cert(1, "basic", date(2020, 1, 1))]),  # older: no change
    ((False, date(2015, 3, 1)), [_cert(2, "enhanced", TODAY - timedelta(days=30))]),
    ((False, None), [_cert(3, "standard", date(2016, 5, 5)), {}]),  # the same trainee twice
    ((False, None), [_cert(4, "enhanced", date(2010, 1, 1))]),  # too old to count
    ((True, TODAY - timedelta(days=2)), [{}]),
]


def _twins(session: Session) -> tuple[list[int], list[int]]:
    pairs = []
    for (cleared, checked_on), _ in CASES:
        pair = [
            f.pk(f.trainee(session, dbs_cleared=cleared, dbs_checked_on=checked_on))
            for _ in range(2)
        ]
        pairs.append(pair)
    session.flush()
    return [a for a, _ in pairs], [b for _, b in pairs]


def _checks(ids: list[int]) -> list[tuple[int, dict[str, Any]]]:
    # Interleaved across trainees, as an import's rows are.
    out: list[tuple[int, dict[str, Any]]] = []
    for step in range(2):
        out.extend(
            (tid, dict(values[step]))
            for tid, (_, values) in zip(ids, CASES, strict=True)
            if len(values) > step
        )
    return out


def _recorded(session: Session, ids: list[int]) -> list[Any]:
    """What each trainee ends with: status, checks and audit events (ids and times aside)."""
    session.expire_all()
    out = []
    for tid in ids:
        trainee = session.get(Trainee, tid)
        assert trainee is not None
        checks = session.exec(
            select(DbsCheck).where(DbsCheck.trainee_id == tid).order_by(col(DbsCheck.id))
        ).all()
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "dbs_check.record", AuditEvent.object_id == str(tid))
            .order_by(col(AuditEvent.id))
        ).all()
        out.append(
            (
                trainee.dbs_cleared,
                trainee.dbs_checked_on,
                [(c.certificate_number, c.level, c.issued_on, c.source, c.seen_by) for c in checks],
                [(e.actor_id, e.object_type, e.detail, e.round_id, e.trainee_id) for e in events],
            )
        )
    return out


def test_set_wise_checks_record_what_the_orm_version_recorded(session: Session) -> None:
    coordinator = f.user(session, role="coordinator")
    old_ids, new_ids = _twins(session)

    _one_by_one(session, coordinator, _checks(old_ids))
    written = vetting.record_imported_checks(session, actor=coordinator, checks=_checks(new_ids))

    assert written == len(_checks(new_ids))
    expected = _recorded(session, old_ids)
    assert _recorded(session, new_ids) == expected
    # The reference itself says what the rules say.
    assert [(cleared, on) for cleared, on, _, _ in expected] == [
        (True, TODAY),
        (True, TODAY),
        (True, TODAY - timedelta(days=30)),
        (True, TODAY),
        (False, date(2010, 1, 1)),
        (True, TODAY),
    ]
    assert expected[1][3][0][2] == {"level": "basic", "issued_on": "2020-01-01", "source": "import"}


def test_created_trainees_carry_their_status_from_the_row(session: Session) -> None:
    """The import writes a new trainee's status with its row; the checks then add none."""
    old_ids, new_ids = _twins(session)
    now = utcnow()
    fresh = [i for i, ((cleared, on), _) in enumerate(CASES) if (cleared, on) == (False, None)]
    for i in fresh:
        trainee = session.get(Trainee, new_ids[i])
        assert trainee is not None
        for key, value in vetting.imported_status(CASES[i][1][0], now).items():
            setattr(trainee, key, value)
    session.flush()

    _one_by_one(session, None, _checks(old_ids))
    vetting.record_imported_checks(
        session,
        actor=None,
        checks=_checks(new_ids),
        created={new_ids[i] for i in fresh},
        now=now,
    )

    assert _recorded(session, new_ids) == _recorded(session, old_ids)


def test_an_import_with_dbs_columns_records_checks_and_status(session: Session) -> None:
    coordinator = f.user(session, role="coordinator")
    rnd = f.round_(session, status=RoundStatus.OPEN)
    known = f.trainee(session, email="known@learners.test", dbs_cleared=False, dbs_checked_on=None)
    session.commit()
    data = (
        "email,name,dbs_cleared,dbs_certificate_number,dbs_level,dbs_issued_on\r\n"
        "new1@learners.test,New One,true,,,\r\n"
        f"new2@learners.test,New Two,true,000000000009,enhanced,{TODAY - timedelta(days=9)}\r\n"
        "new3@learners.test,New Three,false,,,\r\n"
        "known@learners.test,Known,yes,000000000010,basic,2010-01-01\r\n"
    ).encode()

    result = imports.import_trainees(
        session=session, actor=coordinator, round_id=f.pk(rnd), data=data
    )

    assert (result.created, result.updated) == (3, 1)
    session.expire_all()
    by_email = {
        t.email: t
        for t in session.exec(select(Trainee).where(col(Trainee.email).like("%@learners.test")))
    }
    status = {e: (t.dbs_cleared, t.dbs_checked_on) for e, t in by_email.items()}
    assert status["new1@learners.test"] == (True, TODAY)
    assert status["new2@learners.test"] == (True, TODAY - timedelta(days=9))
    assert status["new3@learners.test"] == (False, None)
    assert status["known@learners.test"] == (False, date(2010, 1, 1))
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.action == "dbs_check.record")
        .order_by(col(AuditEvent.id))
    ).all()
    assert [e.object_id for e in events] == [
        str(by_email[e].id) for e in ("new1@learners.test", "new2@learners.test")
    ] + [str(known.id)]
    assert events[0].actor_id == coordinator.id
    assert events[0].detail == {
        "level": None,
        "issued_on": None,
        "source": "import",
        "changes": {
            "dbs_checked_on": {"before": None, "after": TODAY.isoformat()},
            "dbs_cleared": {"before": False, "after": True},
        },
    }
    assert events[2].detail["changes"] == {
        "dbs_checked_on": {"before": None, "after": "2010-01-01"}
    }
    last = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert last is not None and last.action == "trainee.import"
    assert last.detail["dbs_checks"] == 3
