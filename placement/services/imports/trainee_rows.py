"""Checking a trainee file's rows: a fast path on whole columns, the exact validator per row.

The exact validator is the marshmallow schema (`TraineeFields`, `DbsCheckFields`) applied to
one row at a time, with the import's own rules for `id` and `preferences`; it writes every
message. The fast path checks each column in one loop with precompiled rules that accept
only values the schema certainly accepts, converted exactly as the schema converts them.
It only ever *accepts*: a row with any cell it does not accept goes through the exact
validator, which gives that row's values or its messages. So a good file gives the same
values either way and a bad one the same messages, in the same order (the tests hold both
paths equal); a file with a few bad rows costs the exact price for those rows only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from marshmallow import ValidationError, fields, validate

from placement.models import DBS_LEVELS, Slot, utcnow
from placement.services.imports.common import DBS_COLUMNS, _Errors, _is_id, _load, _typed
from placement.services.validation import MAX_LIST, DbsCheckFields, TraineeFields

# Cells the schema does not see: the row's id, its DBS certificate and its preferences.
NOT_IN_SCHEMA = ("id", "preferences", *DBS_COLUMNS)


@dataclass(frozen=True)
class SlotIndex:
    """The round's slots, as the `preferences` column may name them (by id or by title)."""

    ids: frozenset[int]
    by_title: dict[str, list[int]]
    max_preferences: int

    @classmethod
    def of(cls, slots: Sequence[Slot], max_preferences: int) -> SlotIndex:
        by_title: dict[str, list[int]] = {}
        for s in slots:
            assert s.id is not None
            by_title.setdefault(s.title.strip().lower(), []).append(s.id)
        return cls(frozenset(s.id for s in slots if s.id is not None), by_title, max_preferences)


@dataclass(frozen=True)
class CheckedRow:
    """One data row as checked: `values` None when the schema refused it; `trainee_id` the
    `id` cell (an int, None, or the text when it is not a number); `dbs` the check the row
    vouches for (`{}` for a bare `dbs_cleared`); `prefs` None when blank or refused."""

    number: int
    values: dict[str, Any] | None
    dbs: dict[str, Any] | None
    trainee_id: int | str | None
    prefs: list[int] | None


def check_rows(
    rows: Sequence[tuple[int, dict[str, str]]],
    slots: SlotIndex,
    errors: _Errors,
    *,
    exact_only: bool = False,
) -> Iterator[CheckedRow]:
    """Every row checked, in file order, its problems added to `errors` as it is yielded
    (so the caller's own checks of a row follow them, as in a per-row loop); see the
    module's text. `exact_only` runs the exact validator on every row (the tests')."""
    today = utcnow().date()
    fast = None if exact_only else _fast_rows(rows, slots, today)
    schema = TraineeFields()
    for i, (number, cells) in enumerate(rows):
        row = fast[i] if fast is not None else None
        yield row if row is not None else _exact_row(number, cells, schema, slots, today, errors)


# --- the exact validator, one row at a time -------------------------------------------


def _exact_row(
    number: int,
    cells: dict[str, str],
    schema: TraineeFields,
    slots: SlotIndex,
    today: date,
    errors: _Errors,
) -> CheckedRow:
    values = _load(schema, number, _typed(cells, skip=NOT_IN_SCHEMA), errors)
    dbs = _dbs_check(cells, number, values, today, errors)
    trainee_id = _typed({"id": cells.get("id", "")}).get("id")
    if trainee_id is not None and not isinstance(trainee_id, int):
        errors.add(number, "id", "Not a valid integer.")
    elif trainee_id is not None and not _is_id(trainee_id):
        errors.add(number, "id", "no such trainee")
        trainee_id = None
    prefs = _preferences(cells.get("preferences", ""), number, slots, errors)
    return CheckedRow(number, values, dbs, trainee_id, prefs)


def _dbs_check(
    cells: dict[str, str],
    row: int,
    values: dict[str, Any] | None,
    today: date,
    errors: _Errors,
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
    if loaded["issued_on"] > today:
        errors.add(row, "dbs_issued_on", "must not be in the future")
        return None
    return loaded


def _preferences(cell: str, row: int, slots: SlotIndex, errors: _Errors) -> list[int] | None:
    """A `;`-separated list of slot ids or titles, in order; None when the cell is blank."""
    items = [item.strip() for item in cell.split(";") if item.strip()]
    if not items:
        return None
    resolved: list[int] = []
    ok = True
    for item in items:
        matches = slots.by_title.get(item.lower(), [])
        slot_id = int(item) if item.isascii() and item.isdigit() and len(item) <= 10 else None
        if slot_id is not None and slot_id in slots.ids:
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
    if len(items) > slots.max_preferences:
        errors.add(row, "preferences", f"at most {slots.max_preferences} slots may be ranked")
        ok = False
    return resolved if ok else None


# --- the fast path, one column at a time ----------------------------------------------

# A cell the column leaves out (blank), and one the fast path does not accept.
_BLANK: Any = object()
_BAD: Any = object()
_EMAIL = validate.Email()
_TRUTHY = {v for v in fields.Boolean.truthy if isinstance(v, str)}
_FALSY = {v for v in fields.Boolean.falsy if isinstance(v, str)}
_CERTIFICATE = re.compile(r"[0-9]{12}")


def _text_ok(value: str, longest: int) -> bool:
    """What `validation.Text` with a maximum length accepts (no NUL, valid Unicode)."""
    if len(value) > longest or "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(longest: int, shortest: int = 0) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        return value if len(value) >= shortest and _text_ok(value, longest) else _BAD

    return convert


def _email(value: str) -> Any:
    if not _text_ok(value, len(value)):
        return _BAD
    lowered = value.strip().lower()
    if len(lowered) > 254:
        return _BAD
    try:
        _EMAIL(lowered)
    except ValidationError:
        return _BAD
    return lowered


def _level(value: str) -> Any:
    return 4 if value == "4" else 5 if value == "5" else _BAD


def _number(low: float, high: float, low_inclusive: bool = True) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        try:
            number = float(value)
        except ValueError:
            return _BAD
        # NaN and the infinities fail these comparisons or the bounds: the exact path says why.
        if (low <= number if low_inclusive else low < number) and number <= high:
            return number
        return _BAD

    return convert


def _boolean(value: str) -> Any:
    return True if value in _TRUTHY else False if value in _FALSY else _BAD


def _skills(value: str) -> Any:
    items = [item.strip() for item in value.split(";") if item.strip()]
    if len(items) > MAX_LIST or not all(_text_ok(item, 100) for item in items):
        return _BAD
    return items


def _date(value: str) -> Any:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return _BAD


# The schema's columns the fast path knows, each with its rule; a file with any other
# schema column goes through the exact validator.
_RULES: dict[str, Callable[[str], Any]] = {
    "name": _text(200, shortest=1),
    "email": _email,
    "level": _level,
    "provider": _text(200),
    "skills": _skills,
    "postcode": _text(10),
    "latitude": _number(-90, 90),
    "longitude": _number(-180, 180),
    "max_travel_km": _number(0, 20000, low_inclusive=False),
    "available_from": _date,
    "available_to": _date,
    "dbs_cleared": _boolean,
    "needs": _text(2000),
    "share_needs": _boolean,
}
# Values that repeat down a column (dates, skills, yes/no): converted once per distinct cell.
_MEMO = frozenset(
    {"level", "provider", "skills", "available_from", "available_to", "dbs_cleared", "share_needs"}
)


def _column(rows: Sequence[tuple[int, dict[str, str]]], name: str) -> list[str]:
    return [cells.get(name, "") for _, cells in rows]


def _convert(cells: list[str], rule: Callable[[str], Any], memo: bool) -> list[Any]:
    if not memo:
        return [rule(v) if v else _BLANK for v in cells]
    seen: dict[str, Any] = {"": _BLANK}
    out = []
    for v in cells:
        got = seen.get(v, seen)
        if got is seen:
            got = seen[v] = rule(v)
        out.append(list(got) if type(got) is list else got)
    return out


def _fast_rows(
    rows: Sequence[tuple[int, dict[str, str]]], slots: SlotIndex, today: date
) -> list[CheckedRow | None]:
    """Each row's result where the fast path accepts every cell of it, else None."""
    present: set[str] = set().union(*(cells.keys() for _, cells in rows))
    # `name` is required: a row without one is the exact validator's to report.
    schema_columns = sorted({n for n in present if n not in NOT_IN_SCHEMA} | {"name"})
    if any(n not in _RULES for n in schema_columns):
        return [None] * len(rows)
    count = len(rows)
    bad = bytearray(count)
    converted: dict[str, list[Any]] = {}
    for name in schema_columns:
        out = _convert(_column(rows, name), _RULES[name], name in _MEMO)
        # `in` compares in C (by identity for these sentinels): most columns have neither.
        if _BAD in out or (name == "name" and _BLANK in out):
            for i, v in enumerate(out):
                if v is _BAD or (v is _BLANK and name == "name"):
                    bad[i] = 1
        converted[name] = out
    _dates_ordered(converted, bad)
    names = list(converted)
    columns = [converted[n] for n in names]
    ids = _ids(_column(rows, "id"), bad) if "id" in present else [None] * count
    prefs = (
        _fast_preferences(_column(rows, "preferences"), slots, bad)
        if "preferences" in present
        else [None] * count
    )
    cleared = converted.get("dbs_cleared")
    dbs = _fast_dbs(rows, present, cleared, today, bad)
    result: list[CheckedRow | None] = []
    for i, (number, _) in enumerate(rows):
        if bad[i]:
            result.append(None)
            continue
        values = {n: c[i] for n, c in zip(names, columns, strict=True) if c[i] is not _BLANK}
        result.append(CheckedRow(number, values, dbs[i], ids[i], prefs[i]))
    return result


def _dates_ordered(converted: dict[str, list[Any]], bad: bytearray) -> None:
    starts, ends = converted.get("available_from"), converted.get("available_to")
    if starts is None or ends is None:
        return
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        if type(start) is date and type(end) is date and start > end:
            bad[i] = 1


def _ids(cells: list[str], bad: bytearray) -> list[int | None]:
    out: list[int | None] = []
    for i, v in enumerate(cells):
        if not v:
            out.append(None)
        elif v.isascii() and v.isdigit() and _is_id(number := int(v)):
            out.append(number)
        else:
            bad[i] = 1
            out.append(None)
    return out


def _fast_preferences(cells: list[str], slots: SlotIndex, bad: bytearray) -> list[list[int] | None]:
    # An item (an id or a title) names the same slot on every row: resolved once.
    resolved: dict[str, int | None] = {}
    most = slots.max_preferences
    out: list[list[int] | None] = []
    for i, cell in enumerate(cells):
        if not cell:
            out.append(None)
            continue
        items = [item.strip() for item in cell.split(";") if item.strip()]
        if not items:
            out.append(None)
            continue
        ranked = []
        for item in items:
            slot_id = resolved.get(item, -1)
            if slot_id == -1:
                slot_id = resolved[item] = _resolve(item, slots)
            ranked.append(slot_id)
        if None in ranked or len(items) > most or len(set(ranked)) != len(ranked):
            bad[i] = 1
            out.append(None)
        else:
            out.append(ranked)  # type: ignore[arg-type]
    return out


def _resolve(item: str, slots: SlotIndex) -> int | None:
    """The one slot `item` names, as `_preferences` reads it; None if not exactly one."""
    if item.isascii() and item.isdigit() and len(item) <= 10 and int(item) in slots.ids:
        return int(item)
    matches = slots.by_title.get(item.lower(), [])
    return matches[0] if len(matches) == 1 else None


def _fast_dbs(
    rows: Sequence[tuple[int, dict[str, str]]],
    present: set[str],
    cleared: list[Any] | None,
    today: date,
    bad: bytearray,
) -> list[dict[str, Any] | None]:
    count = len(rows)
    flags = cleared if cleared is not None else [_BLANK] * count
    out: list[dict[str, Any] | None] = [{} if f is True else None for f in flags]
    if not present.intersection(DBS_COLUMNS):
        return out
    numbers, levels, issued = (_column(rows, name) for name in DBS_COLUMNS)
    for i in range(count):
        number, level, on = numbers[i], levels[i], issued[i]
        if not (number or level or on):
            continue
        when = _date(on) if on else _BAD
        if (
            flags[i] is False
            or not _CERTIFICATE.fullmatch(number)
            or level not in DBS_LEVELS
            or when is _BAD
            or when > today
        ):
            bad[i] = 1
            continue
        out[i] = {"certificate_number": number, "level": level, "issued_on": when}
    return out
