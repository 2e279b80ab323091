"""DBS checks: those a coordinator saw, those a trainee import carried, and the
`dbs_cleared` status that follows from the newest."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from placement.errors import Conflict, InvalidInput, NotFound
from placement.models import (
    DEFAULT_DBS_MAX_AGE_YEARS,
    AuditEvent,
    DbsCheck,
    Trainee,
    User,
    utcnow,
)
from placement.services.common import (
    Changes,
    audit,
    audit_values,
    bulk_insert,
    changes,
    chunks,
    require_role,
    snapshot,
    trainee_of,
)

# What a DBS check changes on the trainee.
DBS_STATUS_FIELDS = ("dbs_cleared", "dbs_checked_on")


def dbs_cutoff(today: date, years: int) -> date:
    """The oldest issue date a check may have to count `today` (29 Feb counts as 28 Feb)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def counts_from(check: DbsCheck) -> date:
    """A check counts from its issue date; an import that only said "cleared" from the day
    it was recorded."""
    return check.issued_on or check.seen_at.date()


def _refresh_trainee(session: Session, trainee: Trainee) -> None:
    session.flush()
    checks = session.exec(select(DbsCheck).where(DbsCheck.trainee_id == trainee.id)).all()
    newest = max((counts_from(c) for c in checks), default=None)
    trainee.dbs_checked_on = newest
    trainee.dbs_cleared = newest is not None and newest >= dbs_cutoff(
        utcnow().date(), DEFAULT_DBS_MAX_AGE_YEARS
    )


def _check_dbs_values(values: Mapping[str, Any]) -> None:
    issued = values.get("issued_on")
    if issued is not None and issued > utcnow().date():
        raise InvalidInput(
            "A DBS certificate cannot be issued in the future.",
            errors={"issued_on": ["must not be in the future"]},
        )


@dataclass(frozen=True)
class RecordedCheck:
    """A check just recorded, and the trainee's status that follows from it."""

    check: DbsCheck
    dbs_cleared: bool
    dbs_checked_on: date | None


def record_dbs_check(
    *, session: Session, actor: User, trainee_id: int, values: Mapping[str, Any]
) -> RecordedCheck:
    """A coordinator records the DBS certificate they saw; `dbs_cleared` follows."""
    require_role(actor, "coordinator")
    trainee = session.get(Trainee, trainee_id)
    if trainee is None:
        raise NotFound("No such trainee.")
    if trainee.erased_at is not None:
        raise Conflict("The trainee's personal data was erased.")
    _check_dbs_values(values)
    check = DbsCheck(
        trainee_id=trainee_id,
        certificate_number=values["certificate_number"],
        level=values["level"],
        issued_on=values["issued_on"],
        source="seen",
        seen_by=actor.id,
    )
    session.add(check)
    before = snapshot(trainee, DBS_STATUS_FIELDS)
    _refresh_trainee(session, trainee)
    _audit_check(session, actor=actor, trainee=trainee, check=check, before=before)
    session.commit()
    return RecordedCheck(check, trainee.dbs_cleared, trainee.dbs_checked_on)


def _audit_check(
    session: Session,
    *,
    actor: User | None,
    trainee: Trainee,
    check: DbsCheck,
    before: dict[str, Any],
) -> None:
    # The certificate number stays out of the audit trail: erasure removes it with the
    # check, and audit rows outlive erasure.
    audit(
        session,
        actor=actor,
        action="dbs_check.record",
        object_type="trainee",
        object_id=trainee.id,
        level=check.level,
        issued_on=check.issued_on,
        source=check.source,
        changes=changes(before, trainee),
    )


Status = tuple[bool, date | None]  # (dbs_cleared, dbs_checked_on)
NOT_CHECKED: Status = (False, None)


def _after_check(before: Status, issued_on: date | None, now: datetime) -> Status:
    """A trainee's status once an imported check is recorded: the newest check counts."""
    newest = issued_on or now.date()
    checked_on = before[1] if before[1] is not None and before[1] >= newest else newest
    return checked_on >= dbs_cutoff(now.date(), DEFAULT_DBS_MAX_AGE_YEARS), checked_on


def imported_status(values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The status columns of a trainee an import creates with the check `values` (as for
    `record_imported_checks`): written with the new row, so no update follows."""
    status = _after_check(NOT_CHECKED, values.get("issued_on"), now)
    return dict(zip(DBS_STATUS_FIELDS, status, strict=True))


def record_imported_checks(
    session: Session,
    *,
    actor: User | None,
    checks: Sequence[tuple[int, Mapping[str, Any]]],
    created: Collection[int] = (),
    now: datetime | None = None,
) -> int:
    """Record the checks a coordinator's trainee import carried, one per (trainee id,
    values): the certificate's fields, or none for a bare `dbs_cleared`, seen at `now`.

    `created` names trainees the import has just created, each written with the status
    `imported_status` gives its first check (before it, none). Set-wise for big files: the
    checks, their audit events and the other trainees' new status are each written in one
    statement (COPY on Postgres); the caller (the import, all or nothing) commits."""
    if not checks:
        return 0
    session.flush()
    now = now or utcnow()
    table = _table(Trainee)
    status: dict[int, Status] = dict.fromkeys(created, NOT_CHECKED)
    older = sorted({tid for tid, _ in checks if tid not in status})
    for chunk in chunks(older):
        rows = session.execute(
            sa.select(table.c.id, table.c.dbs_cleared, table.c.dbs_checked_on).where(
                table.c.id.in_(chunk)
            )
        )
        status.update((tid, (cleared, on)) for tid, cleared, on in rows)
    # The status each trainee's row holds now.
    stored = {tid: status[tid] for tid in older}
    seen_by = actor.id if actor is not None else None
    check_rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    # Most trainees go from the same status to the same status: each diff is built once.
    diffs: dict[tuple[Status, Status], Changes] = {}
    for trainee_id, values in checks:
        issued_on: date | None = values.get("issued_on")
        level = values.get("level")
        check_rows.append(
            {
                "trainee_id": trainee_id,
                "certificate_number": values.get("certificate_number"),
                "level": level,
                "issued_on": issued_on,
                "source": "import",
                "seen_by": seen_by,
                "seen_at": now,
            }
        )
        before = status[trainee_id]
        status[trainee_id] = after = _after_check(before, issued_on, now)
        stored.setdefault(trainee_id, after)  # a created trainee's first check
        events.append(
            audit_values(
                actor=actor,
                action="dbs_check.record",
                object_type="trainee",
                object_id=trainee_id,
                level=level,
                issued_on=issued_on,
                source="import",
                changes=diffs.get((before, after))
                or diffs.setdefault((before, after), _changes(before, after)),
            )
        )
    bulk_insert(session, DbsCheck, check_rows)
    bulk_insert(session, AuditEvent, events)
    changed = {tid: now_ for tid, now_ in status.items() if stored.get(tid, now_) != now_}
    _write_status(session, changed)
    # ORM copies of these trainees (the import's updates) must not keep the old status.
    for trainee_id in changed:
        loaded = session.identity_map.get(session.identity_key(Trainee, trainee_id))
        if loaded is not None:
            session.expire(loaded, list(DBS_STATUS_FIELDS))
    return len(checks)


def _changes(before: Status, after: Status) -> Changes:
    """As `changes(snapshot(trainee), trainee)` around the update, without the objects."""
    if before == after:
        return {}
    return changes(_status(before), _status(after))


def _status(state: tuple[bool, date | None]) -> dict[str, Any]:
    return snapshot(dict(zip(DBS_STATUS_FIELDS, state, strict=True)))


def _write_status(session: Session, status: Mapping[int, tuple[bool, date | None]]) -> None:
    """Each trainee's new `dbs_cleared` and `dbs_checked_on`, in one statement."""
    if not status:
        return
    table = _table(Trainee)
    if session.connection().dialect.name == "postgresql":
        ids, cleared, checked = zip(*((t, c, d) for t, (c, d) in status.items()), strict=True)
        session.execute(
            sa.text(
                "UPDATE trainees SET dbs_cleared = v.cleared, dbs_checked_on = v.checked_on "
                "FROM unnest(CAST(:ids AS integer[]), CAST(:cleared AS boolean[]), "
                "CAST(:checked AS date[])) AS v(id, cleared, checked_on) "
                "WHERE trainees.id = v.id"
            ),
            {"ids": list(ids), "cleared": list(cleared), "checked": list(checked)},
        )
        return
    session.execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("trainee"))
        .values(dbs_cleared=sa.bindparam("cleared"), dbs_checked_on=sa.bindparam("checked")),
        [{"trainee": t, "cleared": c, "checked": d} for t, (c, d) in status.items()],
    )


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def list_dbs_checks(*, session: Session, actor: User, trainee_id: int) -> list[DbsCheck]:
    require_role(actor, "coordinator")
    if session.get(Trainee, trainee_id) is None:
        raise NotFound("No such trainee.")
    return checks_of(session, trainee_id)


def checks_of(session: Session, trainee_id: int) -> list[DbsCheck]:
    return list(
        session.exec(
            select(DbsCheck)
            .where(DbsCheck.trainee_id == trainee_id)
            .order_by(col(DbsCheck.seen_at).desc(), col(DbsCheck.id).desc())
        )
    )


@dataclass(frozen=True)
class DbsStatus:
    """What a trainee sees of their own DBS record."""

    cleared: bool
    checked_on: date | None
    # The last day the newest check counts under the default age (rounds may differ).
    current_until: date | None
    checks: list[DbsCheck]


def dbs_status_of(session: Session, trainee: Trainee) -> DbsStatus:
    checks = checks_of(session, trainee.id or 0)
    until = None
    if trainee.dbs_checked_on is not None:
        until = dbs_cutoff(trainee.dbs_checked_on, -DEFAULT_DBS_MAX_AGE_YEARS)
    return DbsStatus(trainee.dbs_cleared, trainee.dbs_checked_on, until, checks)


def own_dbs_status(*, session: Session, actor: User) -> DbsStatus:
    return dbs_status_of(session, trainee_of(session, actor))


def erase_dbs(session: Session, trainee: Trainee) -> int:
    """Erasure: the trainee's DBS checks go (the caller commits)."""
    checks = session.exec(select(DbsCheck).where(DbsCheck.trainee_id == trainee.id)).all()
    for check in checks:
        session.delete(check)
    trainee.dbs_cleared = False
    trainee.dbs_checked_on = None
    return len(checks)
