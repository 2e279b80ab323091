"""Importing slots into a round."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from placement.config import Settings
from placement.models import (
    Organisation,
    Slot,
    User,
)
from placement.services.common import audit
from placement.services.imports.common import (
    SLOT_COLUMNS,
    SLOT_HOST_COLUMNS,
    SLOT_REQUIRED,
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
from placement.services.postcodes import normalise
from placement.services.slots import NO_PLACE_MESSAGE, at_host
from placement.services.validation import SlotFields

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
    progress: Progress | None = None,
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
    _step(progress, 0.5)

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
    _step(progress, 0.9)
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
