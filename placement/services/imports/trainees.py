"""Importing trainees (with their DBS checks and ranked preferences) into a round."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete
from sqlmodel import Session, col, select

from placement.config import Settings
from placement.matching.memory import gc_paused
from placement.models import (
    Preference,
    RoundTrainee,
    Slot,
    Trainee,
    User,
    utcnow,
)
from placement.services import vetting
from placement.services.common import audit, chunks
from placement.services.imports.common import (
    TRAINEE_COLUMNS,
    TRAINEE_REQUIRED,
    ImportResult,
    Progress,
    _by,
    _Errors,
    _finish,
    _insert_returning_ids,
    _locate_rows,
    _matching,
    _postcode_wanted,
    _start,
    _step,
    _table,
    _write_rows,
    read_csv,
)
from placement.services.imports.trainee_rows import SlotIndex, check_rows

PREFERENCE_COLUMNS = ("round_id", "trainee_id", "slot_id", "rank", "updated_at")
# From this many rows written, a Postgres import refreshes the tables' planner statistics.
ANALYZE_AFTER = 1000


def _trainee_defaults(now: datetime) -> dict[str, Any]:
    """Every column of a new trainee row (a plain insert applies no model defaults)."""
    return {
        "user_id": None,
        "email": None,
        "level": None,
        "provider": "",
        "skills": [],
        "postcode": None,
        "latitude": None,
        "longitude": None,
        "max_travel_km": None,
        "available_from": None,
        "available_to": None,
        "dbs_cleared": False,
        "dbs_checked_on": None,
        "needs": "",
        "share_needs": False,
        "created_at": now,
        "updated_at": now,
        "erased_at": None,
    }


# --- trainees --------------------------------------------------------------------------


def import_trainees(
    *,
    session: Session,
    actor: User | None,
    round_id: int,
    data: bytes,
    system: bool = False,
    settings: Settings | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update trainees (matched by `id`, else by email) and enrol them in the
    round; a `preferences` cell replaces their ranked list (slot ids or titles). A postcode
    without coordinates sets them; an unknown postcode is the row's error."""
    with gc_paused():
        return _import_trainees(
            session=session,
            actor=actor,
            round_id=round_id,
            data=data,
            system=system,
            settings=settings,
            dry_run=dry_run,
            progress=progress,
        )


def _import_trainees(
    *,
    session: Session,
    actor: User | None,
    round_id: int,
    data: bytes,
    system: bool,
    settings: Settings | None,
    dry_run: bool,
    progress: Progress | None,
) -> ImportResult:
    rnd = _start(session, actor, round_id, system, ("draft", "open", "closed"), "import trainees")
    rows = read_csv(data, TRAINEE_COLUMNS, TRAINEE_REQUIRED)
    slots = session.exec(select(Slot).where(Slot.round_id == rnd.id)).all()
    errors = _Errors()
    checked = check_rows(rows, SlotIndex.of(slots, rnd.max_preferences), errors)

    parsed: list[tuple[int, dict[str, Any], list[int] | None]] = []
    first_row_of_email: dict[str, int] = {}
    dbs_by_email: dict[str, dict[str, Any]] = {}
    for row in checked:
        number, values = row.number, row.values
        if values is None:
            continue
        email = values.get("email")
        if not email:
            errors.add(number, "email", "Missing data for required field.")
            continue
        if email in first_row_of_email:
            errors.add(number, "email", f"repeats the email of row {first_row_of_email[email]}")
            continue
        first_row_of_email[email] = number
        values.pop("dbs_cleared", None)
        if row.dbs is not None:
            dbs_by_email[email] = row.dbs
        if isinstance(row.trainee_id, int):
            values["id"] = row.trainee_id
        parsed.append((number, values, row.prefs))

    existing_by_email, existing_by_id = _existing(session, parsed, list(first_row_of_email))
    targets: list[tuple[Trainee | None, dict[str, Any], list[int] | None]] = []
    pending: list[tuple[int, dict[str, Any], str]] = []
    for number, values, prefs in parsed:
        target: Trainee | None = existing_by_email.get(values["email"])
        if "id" in values:
            by_id = existing_by_id.get(values["id"])
            if by_id is None or by_id.erased_at is not None:
                errors.add(number, "id", "no such trainee")
                continue
            if target is not None and target.id != by_id.id:
                errors.add(number, "email", "belongs to another trainee")
                continue
            if by_id.user_id is not None and by_id.email != values["email"]:
                errors.add(number, "email", "the trainee has a login; their email cannot change")
                continue
            target = by_id
        postcode = _postcode_wanted(number, values, target, errors)
        if postcode is not None:
            pending.append((number, values, postcode))
        targets.append((target, values, prefs))
    _locate_rows(session, pending, errors, settings)
    errors.raise_if_any("trainees")
    _step(progress, 0.5)

    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for target, values, _ in targets:
        values.pop("id", None)
        if target is None:
            check = dbs_by_email.get(values["email"])
            if check is not None:
                values.update(vetting.imported_status(check, now))
            new_rows.append(values)
        else:
            changes.append({"trainee": target.id, **values, "updated_at": now})
    session.flush()
    _update_trainees(session, changes)
    updated = len(changes)
    # Set-wise, not ORM objects: the ids drawn in one query and COPY on Postgres.
    defaults = _trainee_defaults(now)
    columns = [*defaults, *sorted(set().union(*new_rows) - set(defaults))]
    new_ids = iter(
        _insert_returning_ids(
            session,
            Trainee,
            columns,
            [tuple(row.get(c, defaults.get(c)) for c in columns) for row in new_rows],
        )
    )
    # A fresh table's planner statistics say "empty": without new ones every foreign key
    # check below may scan the table.
    _analyze(session, len(new_rows), "trainees")
    enrolled = set(
        session.exec(select(RoundTrainee.trainee_id).where(RoundTrainee.round_id == rnd.id)).all()
    )
    joins: list[tuple[int, int, datetime]] = []
    new_prefs: list[tuple[int, int, int, int, datetime]] = []
    replaced: list[int] = []
    created: set[int] = set()
    checks: list[tuple[int, dict[str, Any]]] = []
    for target, values, prefs in targets:
        if target is None:
            trainee_id = next(new_ids)
            created.add(trainee_id)
        else:
            assert target.id is not None
            trainee_id = target.id
        if values["email"] in dbs_by_email:
            checks.append((trainee_id, dbs_by_email[values["email"]]))
        if trainee_id not in enrolled:
            joins.append((round_id, trainee_id, now))
            enrolled.add(trainee_id)
        if prefs is not None:
            if target is not None:  # a new trainee has no list to replace
                replaced.append(trainee_id)
            new_prefs.extend(
                (round_id, trainee_id, slot, rank, now) for rank, slot in enumerate(prefs, start=1)
            )
    _write_rows(session, RoundTrainee, ("round_id", "trainee_id", "joined_at"), joins)
    for chunk in chunks(replaced):
        session.execute(
            delete(Preference).where(
                col(Preference.round_id) == rnd.id, col(Preference.trainee_id).in_(chunk)
            )
        )
    _write_rows(session, Preference, PREFERENCE_COLUMNS, new_prefs)
    _analyze(session, len(joins) + len(new_prefs), "round_trainees", "preferences")
    vetting.record_imported_checks(session, actor=actor, checks=checks, created=created, now=now)
    audit(
        session,
        actor=actor,
        action="trainee.import",
        object_type="round",
        object_id=rnd.id,
        round_id=rnd.id,
        created=len(new_rows),
        updated=updated,
        dbs_checks=len(checks),
        via="cli" if system else "api",
    )
    # The trainees' ORM copies (read for the checks above) are older than their rows.
    for target, _, _ in targets:
        if target is not None:
            session.expire(target)
    _step(progress, 0.9)
    _finish(session, dry_run)
    return ImportResult(created=len(new_rows), updated=updated)


def _update_trainees(session: Session, changes: list[dict[str, Any]]) -> None:
    """Each row's values onto its trainee, in file order: one executemany per run of rows
    that give the same columns (a trainee two rows name gets both, the later last)."""
    table = _table(Trainee)
    statement = sa.update(table).where(table.c.id == sa.bindparam("trainee"))
    batch: list[dict[str, Any]] = []
    for change in changes:
        if batch and batch[-1].keys() != change.keys():
            session.execute(statement, batch)
            batch = []
        batch.append(change)
    if batch:
        session.execute(statement, batch)


def _existing(
    session: Session, parsed: list[tuple[int, dict[str, Any], Any]], emails: list[str]
) -> tuple[dict[Any, Trainee], dict[Any, Trainee]]:
    """The trainees the rows name by email and by id, as ORM objects (a row updates its
    trainee through them); the ones that exist are found first, in one light query."""
    wanted_ids = [v["id"] for _, v, _ in parsed if "id" in v]
    table = _table(Trainee)
    found = {tid for (tid,) in _matching(session, table.c.email, emails, table.c.id)}
    found.update(tid for (tid,) in _matching(session, table.c.id, wanted_ids, table.c.id))
    trainees = _by(session, Trainee, col(Trainee.id), sorted(found))
    by_email = {t.email: t for t in trainees.values() if t.email is not None}
    return {e: by_email[e] for e in emails if e in by_email}, trainees


def _analyze(session: Session, written: int, *tables: str) -> None:
    """New planner statistics for tables a big import has just filled (Postgres)."""
    if written >= ANALYZE_AFTER and session.connection().dialect.name == "postgresql":
        session.execute(sa.text(f"ANALYZE {', '.join(tables)}"))
