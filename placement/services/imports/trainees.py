"""Importing trainees (with their DBS checks and ranked preferences) into a round."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy import delete
from sqlmodel import Session, col, select

from placement.config import Settings
from placement.models import (
    Preference,
    Round,
    RoundTrainee,
    Slot,
    Trainee,
    User,
    utcnow,
)
from placement.services import vetting
from placement.services.common import audit, bulk_insert, chunks
from placement.services.imports.common import (
    DBS_COLUMNS,
    TRAINEE_COLUMNS,
    TRAINEE_REQUIRED,
    ImportResult,
    Progress,
    _by,
    _Errors,
    _finish,
    _is_id,
    _load,
    _locate_rows,
    _postcode_wanted,
    _start,
    _step,
    _typed,
    read_csv,
)
from placement.services.validation import DbsCheckFields, TraineeFields

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
        "needs": "",
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
    rnd = _start(session, actor, round_id, system, ("draft", "open", "closed"), "import trainees")
    rows = read_csv(data, TRAINEE_COLUMNS, TRAINEE_REQUIRED)
    errors = _Errors()
    schema = TraineeFields()
    slots = session.exec(select(Slot).where(Slot.round_id == rnd.id)).all()
    slot_ids = {s.id for s in slots}
    by_title: dict[str, list[int]] = {}
    for s in slots:
        assert s.id is not None
        by_title.setdefault(s.title.strip().lower(), []).append(s.id)

    parsed: list[tuple[int, dict[str, Any], list[int] | None]] = []
    first_row_of_email: dict[str, int] = {}
    dbs_by_email: dict[str, dict[str, Any]] = {}
    for number, cells in rows:
        values = _load(
            schema, number, _typed(cells, skip=("id", "preferences", *DBS_COLUMNS)), errors
        )
        dbs = _dbs_check(cells, number, values, errors)
        trainee_id = _typed({"id": cells.get("id", "")}).get("id")
        if trainee_id is not None and not isinstance(trainee_id, int):
            errors.add(number, "id", "Not a valid integer.")
        elif trainee_id is not None and not _is_id(trainee_id):
            errors.add(number, "id", "no such trainee")
            trainee_id = None
        prefs = _preferences(cells.get("preferences", ""), number, slot_ids, by_title, rnd, errors)
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
        if dbs is not None:
            dbs_by_email[email] = dbs
        if isinstance(trainee_id, int):
            values["id"] = trainee_id
        parsed.append((number, values, prefs))

    existing_by_email = _by(session, Trainee, col(Trainee.email), list(first_row_of_email))
    wanted_ids = [v["id"] for _, v, _ in parsed if "id" in v]
    existing_by_id = _by(session, Trainee, col(Trainee.id), wanted_ids)
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
    updated = 0
    for target, values, _ in targets:
        values.pop("id", None)
        if target is None:
            new_rows.append({**_trainee_defaults(now), **values})
        else:
            for key, value in values.items():
                setattr(target, key, value)
            target.updated_at = now
            updated += 1
    session.flush()
    # Set-wise, not ORM objects: COPY on Postgres, executemany elsewhere.
    bulk_insert(session, Trainee, _uniform(new_rows, _trainee_defaults(now)))
    # A fresh table's planner statistics say "empty": without new ones every lookup below
    # (and the DBS checks') may scan the table per batch of ids.
    _analyze(session, len(new_rows), "trainees")
    ids_by_email = {t.email: t.id for t in existing_by_email.values()}
    for chunk in chunks([row["email"] for row in new_rows]):
        ids_by_email.update(
            session.exec(
                select(Trainee.email, Trainee.id).where(col(Trainee.email).in_(chunk))
            ).all()
        )
    enrolled = set(
        session.exec(select(RoundTrainee.trainee_id).where(RoundTrainee.round_id == rnd.id)).all()
    )
    joins: list[dict[str, Any]] = []
    new_prefs: list[dict[str, Any]] = []
    replaced: list[int] = []
    checks: list[tuple[int, dict[str, Any]]] = []
    for target, values, prefs in targets:
        # A row that names an existing trainee by id may change their email.
        known = target.id if target is not None else ids_by_email[values["email"]]
        assert known is not None
        trainee_id = known
        if values["email"] in dbs_by_email:
            checks.append((trainee_id, dbs_by_email[values["email"]]))
        if trainee_id not in enrolled:
            joins.append({"round_id": rnd.id, "trainee_id": trainee_id, "joined_at": now})
            enrolled.add(trainee_id)
        if prefs is not None:
            replaced.append(trainee_id)
            new_prefs.extend(
                {
                    "round_id": rnd.id,
                    "trainee_id": trainee_id,
                    "slot_id": s,
                    "rank": r,
                    "updated_at": now,
                }
                for r, s in enumerate(prefs, start=1)
            )
    bulk_insert(session, RoundTrainee, joins)
    for chunk in chunks(replaced):
        session.execute(
            delete(Preference).where(
                col(Preference.round_id) == rnd.id, col(Preference.trainee_id).in_(chunk)
            )
        )
    bulk_insert(session, Preference, new_prefs)
    _analyze(session, len(joins) + len(new_prefs), "round_trainees", "preferences")
    vetting.record_imported_checks(session, actor=actor, checks=checks)
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
    _step(progress, 0.9)
    _finish(session, dry_run)
    return ImportResult(created=len(new_rows), updated=updated)


def _uniform(rows: list[dict[str, Any]], defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows that all name the same columns (a bulk insert writes one column list)."""
    columns = set(defaults).union(*rows) if rows else set()
    return [{c: row.get(c, defaults.get(c)) for c in columns} for row in rows]


def _analyze(session: Session, written: int, *tables: str) -> None:
    """New planner statistics for tables a big import has just filled (Postgres)."""
    if written >= ANALYZE_AFTER and session.connection().dialect.name == "postgresql":
        session.execute(sa.text(f"ANALYZE {', '.join(tables)}"))


def _dbs_check(
    cells: dict[str, str], row: int, values: dict[str, Any] | None, errors: _Errors
) -> dict[str, Any] | None:
    """The DBS check a row vouches for: the certificate's fields (all three), `{}` for a
    bare `dbs_cleared` true, None for none (false records nothing; earlier checks stay)."""
    given = {name.removeprefix("dbs_"): cells[name] for name in DBS_COLUMNS if cells.get(name)}
    cleared = values.get("dbs_cleared") if values is not None else None
    if not given:
        return {} if cleared else None
    if cleared is False:
        errors.add(row, "dbs_cleared", "is false, but the row gives a DBS certificate")
        return None
    try:
        loaded: dict[str, Any] = DbsCheckFields().load(given)
    except ValidationError as exc:
        for key, messages in exc.messages_dict.items():
            errors.add_validation(row, messages, f"dbs_{key}")
        return None
    if loaded["issued_on"] > utcnow().date():
        errors.add(row, "dbs_issued_on", "must not be in the future")
        return None
    return loaded


def _preferences(
    cell: str,
    row: int,
    slot_ids: set[int | None],
    by_title: dict[str, list[int]],
    rnd: Round,
    errors: _Errors,
) -> list[int] | None:
    """A `;`-separated list of slot ids or titles, in order; None when the cell is blank."""
    items = [item.strip() for item in cell.split(";") if item.strip()]
    if not items:
        return None
    resolved: list[int] = []
    ok = True
    for item in items:
        matches = by_title.get(item.lower(), [])
        slot_id = int(item) if item.isascii() and item.isdigit() and len(item) <= 10 else None
        if slot_id is not None and slot_id in slot_ids:
            resolved.append(slot_id)
        elif len(matches) == 1:
            resolved.append(matches[0])
        elif len(matches) > 1:
            errors.add(row, "preferences", f"{item!r} names {len(matches)} slots; use slot ids")
            ok = False
        else:
            errors.add(row, "preferences", f"{item!r} is not a slot id or title in this round")
            ok = False
    if len(set(resolved)) != len(resolved):
        errors.add(row, "preferences", "must not repeat a slot")
        ok = False
    if len(items) > rnd.max_preferences:
        errors.add(row, "preferences", f"at most {rnd.max_preferences} slots may be ranked")
        ok = False
    return resolved if ok else None
