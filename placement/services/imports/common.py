"""What both imports share: reading the CSV, collecting row-numbered errors, the
all-or-nothing finish."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, select

from placement.config import Settings
from placement.errors import InvalidInput, NotFound
from placement.models import (
    Round,
    User,
)
from placement.services.common import chunks, json_text, require_role
from placement.services.postcodes import (
    lookup_many,
    needs_lookup,
    not_found_message,
    unreachable_message,
)
from placement.services.rounds import require_status
from placement.services.slots import EDITABLE
from placement.services.trainees import PROFILE_FIELDS
from placement.services.validation import MAX_ID

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
# Told how far an import has come (0..1), between its steps (the background jobs' progress).
Progress = Callable[[float], None]


def _step(progress: Progress | None, fraction: float) -> None:
    if progress is not None:
        progress(fraction)


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


def _matching(session: Session, key: Any, keys: Sequence[Any], *columns: Any) -> list[Any]:
    """`columns` of the rows whose `key` column is one of `keys`: one query with an array
    parameter on Postgres, IN lists of a thousand elsewhere."""
    if not keys:
        return []
    if session.connection().dialect.name == "postgresql":
        wanted = sa.bindparam("keys", value=list(keys), type_=postgresql.ARRAY(key.type))
        return list(session.execute(sa.select(*columns).where(key == sa.any_(wanted))))
    found: list[Any] = []
    for chunk in chunks(keys):
        found.extend(session.execute(sa.select(*columns).where(key.in_(chunk))))
    return found


def _write_rows(
    session: Session, model: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows given as tuples in `columns` order (no dict per row): COPY on Postgres,
    executemany elsewhere. JSON columns take Python values, as in the ORM."""
    if not rows:
        return
    table = _table(model)
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(sa.insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, sa.JSON)]
    raw = connection.connection.driver_connection
    statement = f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN'
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        if not json_at:
            for row in rows:
                copy.write_row(row)
            return
        for row in rows:
            values = list(row)
            for i in json_at:
                values[i] = json_text(values[i])
            copy.write_row(values)


def _insert_returning_ids(
    session: Session, model: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    """Insert rows (tuples in `columns` order) and return their new ids, in order.
    Postgres takes the ids from the table's sequence in one query and writes with COPY."""
    if not rows:
        return []
    table = _table(model)
    if session.connection().dialect.name == "postgresql":
        ids = sorted(
            session.execute(
                sa.text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"table": table.name, "n": len(rows)},
            ).scalars()
        )
        _write_rows(
            session, model, ["id", *columns], [(i, *row) for i, row in zip(ids, rows, strict=True)]
        )
        return ids
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    values = [dict(zip(columns, row, strict=True)) for row in rows]
    return list(session.execute(statement, values).scalars())


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


def _finish(session: Session, dry_run: bool) -> None:
    """Keep the import, or (a dry run: the preview's check of every value) undo it all."""
    if dry_run:
        session.rollback()
    else:
        session.commit()
