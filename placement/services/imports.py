"""Bulk CSV import of trainees and of slots into a round: all or nothing.

The whole file is read and checked before anything is written. Any bad row means an
InvalidInput listing every bad row and field, rows numbered as a spreadsheet shows them
(the header is row 1), and nothing stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError
from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from placement.config import Settings
from placement.errors import InvalidInput, NotFound
from placement.models import (
    Organisation,
    Preference,
    Round,
    RoundTrainee,
    Slot,
    Trainee,
    User,
    utcnow,
)
from placement.services import vetting
from placement.services.common import audit, chunks, require_role
from placement.services.postcodes import (
    lookup_many,
    needs_lookup,
    normalise,
    not_found_message,
    unreachable_message,
)
from placement.services.rounds import require_status
from placement.services.slots import EDITABLE, NO_PLACE_MESSAGE, at_host
from placement.services.trainees import PROFILE_FIELDS
from placement.services.validation import MAX_ID, DbsCheckFields, SlotFields, TraineeFields

# A row may vouch for a DBS check: `dbs_cleared` alone, or the certificate's fields.
DBS_COLUMNS = ("dbs_certificate_number", "dbs_level", "dbs_issued_on")
TRAINEE_COLUMNS = ("id", "email", *PROFILE_FIELDS, "dbs_cleared", *DBS_COLUMNS, "preferences")
TRAINEE_REQUIRED = ("name", "email")
# A slot's host: `organisation_id`, or `organisation`, the host's name as hosts give it.
SLOT_COLUMNS = ("id", "round_id", "organisation_id", "organisation", *EDITABLE)
SLOT_REQUIRED = ("title", "starts_on", "ends_on")
SLOT_HOST_COLUMNS = ("organisation_id", "organisation")
LIST_COLUMNS = ("skills", "required_skills", "preferences")
INT_COLUMNS = ("id", "round_id", "organisation_id", "level", "min_level", "capacity")
MAX_ERRORS = 1000


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


class _Errors:
    """Collects `{row, field, message}` problems; stops collecting past MAX_ERRORS."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, row: int | None, field: str | None, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append({"row": row, "field": field, "message": message})

    def add_validation(self, row: int, messages: Any, field: str | None = None) -> None:
        if isinstance(messages, dict):
            for key, value in messages.items():
                name = key if field is None else field
                self.add_validation(row, value, name if name != "_schema" else None)
        elif isinstance(messages, list):
            for message in messages:
                self.add_validation(row, message, field)
        else:
            self.add(row, field, str(messages))

    def raise_if_any(self, what: str) -> None:
        if self.items:
            rows = {e["row"] for e in self.items if e["row"] is not None}
            detail = f" in {len(rows)} row(s)" if rows else ""
            raise InvalidInput(
                f"The {what} file has {len(self.items)} problem(s){detail}; nothing was imported.",
                errors=self.items,
            )


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


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


def read_csv(
    data: bytes, columns: Iterable[str], required: Iterable[str]
) -> list[tuple[int, dict[str, str]]]:
    """Decode (UTF-8, BOM or not), parse, and check the header. Returns (row number, cells)
    for every non-blank data row; cells are keyed by lower-cased column name."""
    errors = _Errors()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        errors.add(row, None, f"the file is not UTF-8 text (byte {exc.start})")
        errors.raise_if_any("CSV")
    if not text.strip():
        errors.add(None, "file", "the file is empty")
        errors.raise_if_any("CSV")
    records: list[tuple[int, list[str]]] = []
    try:
        for number, record in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            records.append((number, record))
    except csv.Error as exc:
        errors.add(len(records) + 1, None, f"not readable as CSV: {exc}")
        errors.raise_if_any("CSV")
    header = [h.strip().lower() for h in records[0][1]]
    allowed = set(columns)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.add(1, name, "column appears twice")
        elif name and name not in allowed:
            errors.add(1, name, f"unknown column; expected some of: {', '.join(columns)}")
        seen.add(name)
    for name in required:
        if name not in seen:
            errors.add(1, name, "required column is missing")
    errors.raise_if_any("CSV")
    rows: list[tuple[int, dict[str, str]]] = []
    for number, record in records[1:]:
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(header):
            errors.add(number, None, f"has {len(record)} cells but the header has {len(header)}")
            continue
        rows.append(
            (number, {h: cell.strip() for h, cell in zip(header, record, strict=False) if h})
        )
    errors.raise_if_any("CSV")
    return rows


def _typed(cells: dict[str, str], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Cells as the schema expects them: blanks left out, lists split on `;`, integers
    parsed (anything else is left to the schema to refuse)."""
    out: dict[str, Any] = {}
    for key, value in cells.items():
        if key in skip or value == "":
            continue
        if key in LIST_COLUMNS:
            out[key] = [item.strip() for item in value.split(";") if item.strip()]
        elif key in INT_COLUMNS:
            try:
                out[key] = int(value)
            except ValueError:
                out[key] = value
        else:
            out[key] = value
    return out


def _is_id(value: Any) -> bool:
    """Whether `value` could be a row's id: an int that fits the databases' id columns."""
    return isinstance(value, int) and 1 <= value <= MAX_ID


def _load(
    schema: Schema, row: int, values: dict[str, Any], errors: _Errors
) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = schema.load(values)
        return loaded
    except ValidationError as exc:
        errors.add_validation(row, exc.messages)
        return None


def _postcode_wanted(row: int, values: dict[str, Any], current: Any, errors: _Errors) -> str | None:
    """The postcode whose coordinates the row should take (see services.postcodes)."""
    try:
        return needs_lookup(values, current)
    except InvalidInput as exc:
        errors.add_validation(row, exc.errors)
        return None


def _locate_rows(
    session: Session,
    pending: list[tuple[int, dict[str, Any], str]],
    errors: _Errors,
    settings: Settings | None,
) -> None:
    """Fill the coordinates of rows that gave a postcode without them, in one lookup;
    an unknown postcode is that row's error."""
    if not pending:
        return
    found, unanswered = lookup_many(session, [p for _, _, p in pending], settings=settings)
    for number, values, postcode in pending:
        location = found.get(postcode)
        if location is not None:
            values["latitude"], values["longitude"] = location.latitude, location.longitude
        elif postcode in unanswered:
            errors.add(number, "postcode", unreachable_message(postcode))
        else:
            errors.add(number, "postcode", not_found_message(postcode))


def _by(
    session: Session, model: Any, column: Any, keys: list[Any], where: Any = None
) -> dict[Any, Any]:
    found: dict[Any, Any] = {}
    for chunk in chunks(keys):
        statement = select(model).where(column.in_(chunk))
        if where is not None:
            statement = statement.where(where)
        for obj in session.exec(statement):
            found[getattr(obj, column.key)] = obj
    return found


def _start(
    session: Session,
    actor: User | None,
    round_id: int,
    system: bool,
    states: tuple[str, ...],
    doing: str,
) -> Round:
    if not system:
        require_role(actor, "coordinator")
    rnd = session.get(Round, round_id)
    if rnd is None:
        raise NotFound("No such round.")
    require_status(rnd, *states, doing=doing)
    return rnd


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
    # Plain executemany, not ORM objects: 20,000 rows go in seconds, not tens of seconds.
    if new_rows:
        session.execute(insert(_table(Trainee)), new_rows)
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
    if joins:
        session.execute(insert(_table(RoundTrainee)), joins)
    for chunk in chunks(replaced):
        session.execute(
            delete(Preference).where(
                col(Preference.round_id) == rnd.id, col(Preference.trainee_id).in_(chunk)
            )
        )
    if new_prefs:
        session.execute(insert(_table(Preference)), new_prefs)
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
    _finish(session, dry_run)
    return ImportResult(created=len(new_rows), updated=updated)


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


# --- slots -----------------------------------------------------------------------------


def import_slots(
    *,
    session: Session,
    actor: User | None,
    round_id: int,
    data: bytes,
    system: bool = False,
    settings: Settings | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Create slots in the round (or update the round's slots named by `id`). A slot sits
    at its postcode when one is given without coordinates, else where it was, else at its
    host's; an unknown postcode is the row's error."""
    rnd = _start(session, actor, round_id, system, ("draft", "open"), "import slots")
    rows = read_csv(data, SLOT_COLUMNS, SLOT_REQUIRED)
    errors = _Errors()
    rows, unnamed = _hosts_by_name(session, rows, errors)
    schema = SlotFields()
    parsed: list[tuple[int, dict[str, Any]]] = []
    # Organisation references are checked on every row, even one whose other values are
    # bad, so that a single pass reports all of a row's problems.
    org_refs: list[tuple[int, int]] = []
    for number, cells in rows:
        typed = _typed(cells, skip=("id", "round_id"))
        if _is_id(typed.get("organisation_id")):
            org_refs.append((number, typed["organisation_id"]))
        values = _load(schema, number, typed, errors)
        extra = _typed({k: cells.get(k, "") for k in ("id", "round_id")})
        for key, value in extra.items():
            if not isinstance(value, int):
                errors.add(number, key, "Not a valid integer.")
        if extra.get("round_id") not in (None, rnd.id):
            errors.add(number, "round_id", f"must be this round ({rnd.id}) or blank")
        if values is None:
            continue
        if values.get("organisation_id") is None:
            if number not in unnamed:  # a host name that matched nothing: said already
                errors.add(number, "organisation_id", "Missing data for required field.")
            continue
        if isinstance(extra.get("id"), int):
            if not _is_id(extra["id"]):
                errors.add(number, "id", "no such slot in this round")
                continue
            values["id"] = extra["id"]
        parsed.append((number, values))

    orgs = _by(session, Organisation, col(Organisation.id), list({o for _, o in org_refs}))
    for number, org_id in org_refs:
        if org_id not in orgs:
            errors.add(number, "organisation_id", "no such organisation")
    existing = _by(
        session,
        Slot,
        col(Slot.id),
        [v["id"] for _, v in parsed if "id" in v],
        where=col(Slot.round_id) == rnd.id,
    )
    seen_ids: dict[int, int] = {}
    checked: list[tuple[Slot | None, dict[str, Any]]] = []
    pending: list[tuple[int, dict[str, Any], str]] = []
    for number, values in parsed:
        org = orgs.get(values["organisation_id"])
        if org is None:
            continue  # reported above
        target: Slot | None = None
        if "id" in values:
            target = existing.get(values["id"])
            if target is None:
                errors.add(number, "id", "no such slot in this round")
                continue
            if values["id"] in seen_ids:
                errors.add(number, "id", f"repeats the slot of row {seen_ids[values['id']]}")
                continue
            seen_ids[values["id"]] = number
            if values.get("capacity", target.capacity) < target.filled:
                errors.add(number, "capacity", f"{target.filled} seats are already filled")
                continue
        if target is None or normalise(values.get("postcode")) != normalise(target.postcode):
            at_host(values, org)
        postcode = _postcode_wanted(number, values, target, errors)
        if postcode is not None:
            pending.append((number, values, postcode))
        else:
            no_place = False
            for key in ("latitude", "longitude"):
                if values.get(key) is None:
                    fallback = getattr(target, key) if target is not None else getattr(org, key)
                    no_place = no_place or fallback is None
                    values[key] = fallback
            if no_place:
                errors.add(number, "postcode", NO_PLACE_MESSAGE)
        if values.get("postcode") is None and target is None:
            values["postcode"] = org.postcode
        checked.append((target, values))
    _locate_rows(session, pending, errors, settings)
    errors.raise_if_any("slots")

    created: list[Slot] = []
    updated = 0
    for target, values in checked:
        values.pop("id", None)
        if target is None:
            created.append(Slot(round_id=round_id, **values))
        else:
            for key, value in values.items():
                setattr(target, key, value)
            updated += 1
    session.add_all(created)
    session.flush()
    audit(
        session,
        actor=actor,
        action="slot.import",
        object_type="round",
        object_id=rnd.id,
        round_id=rnd.id,
        created=len(created),
        updated=updated,
        via="cli" if system else "api",
    )
    _finish(session, dry_run)
    return ImportResult(created=len(created), updated=updated)


def _hosts_by_name(
    session: Session, rows: list[tuple[int, dict[str, str]]], errors: _Errors
) -> tuple[list[tuple[int, dict[str, str]]], set[int]]:
    """Rows whose `organisation` names a host get that host's `organisation_id`; a name
    no host has, or more than one has, is a row error (those rows are returned too). A
    file needs one of the two columns."""
    if rows and not any(k in cells for _, cells in rows for k in SLOT_HOST_COLUMNS):
        errors.add(1, "organisation_id", "required column is missing (or give organisation)")
        errors.raise_if_any("CSV")
    names = {c["organisation"].casefold() for _, c in rows if c.get("organisation")}
    hosts: dict[str, list[int]] = {}
    if names:
        for org_id, name in session.exec(select(Organisation.id, Organisation.name)).all():
            if name.casefold() in names and org_id is not None:
                hosts.setdefault(name.casefold(), []).append(org_id)
    out: list[tuple[int, dict[str, str]]] = []
    unnamed: set[int] = set()
    for number, cells in rows:
        cells = dict(cells)
        name = cells.pop("organisation", "")
        if name:
            found = hosts.get(name.casefold(), [])
            if len(found) != 1:
                unnamed.add(number)
            if not found:
                errors.add(number, "organisation", f"no host is called “{name}”")
            elif len(found) > 1:
                errors.add(
                    number,
                    "organisation",
                    f"{len(found)} hosts are called “{name}”; give organisation_id instead",
                )
            elif cells.get("organisation_id") and cells["organisation_id"] != str(found[0]):
                errors.add(number, "organisation", "names a different host from organisation_id")
            else:
                cells["organisation_id"] = str(found[0])
        out.append((number, cells))
    return out, unnamed


def _finish(session: Session, dry_run: bool) -> None:
    """Keep the import, or (a dry run: the preview's check of every value) undo it all."""
    if dry_run:
        session.rollback()
    else:
        session.commit()


IMPORTERS: dict[str, Callable[..., ImportResult]] = {
    "trainees": import_trainees,
    "slots": import_slots,
}
