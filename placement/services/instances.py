"""A round as a `placement-instance/1` document: the one builder behind runs, the API's
`GET /rounds/{id}/instance` and `placement export-instance`.

Who is in the instance
    The round's participants (`round_trainees`) and anyone holding a live placement in the
    round, with a complete profile: level, home position, `max_travel_km` and both
    availability dates set. Erased trainees and incomplete profiles are left out and
    counted (`BuiltInstance.left_out`); the matcher cannot judge eligibility without those
    fields. A left-out trainee who holds a live placement still occupies the seat: the
    slot's capacity is lowered by one instead of listing a locked pair. A slot whose every
    seat is held that way is left out too, and removed from preference lists (the later
    choices of those lists move up one rank).
Preferences
    In rank order, truncated to the round's `max_preferences` (the instance format rejects
    longer lists), restricted to slots of the round.
Vetting
    A trainee is `dbs_cleared` when their newest recorded DBS check was issued at most the
    round's `dbs_max_age_years` before today. A slot of a host that is not verified gets
    no new trainees: it keeps only the seats its live placements hold (left out when it
    holds none), counted as `unverified_host_slots`.
Employer rankings, locked and excluded pairs
    Restricted to trainees and slots in the instance. Live placements are `locked`;
    coordinator exclusions are `excluded`.

Everything is loaded set-wise: one query per table, whatever the round's size.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select, union
from sqlmodel import Session, col

from placement.errors import InvalidInput, NotFound
from placement.matching.memory import gc_paused
from placement.models import (
    EmployerRanking,
    Exclusion,
    Organisation,
    Placement,
    PlacementStatus,
    Preference,
    Round,
    RoundTrainee,
    Slot,
    Trainee,
    User,
    utcnow,
)
from placement.services.common import get_round, require_role
from placement.services.vetting import dbs_cutoff

FORMAT = "placement-instance/1"
WEIGHT_KEYS = ("preference", "employer", "skills", "distance")


@dataclass
class BuiltInstance:
    """The instance document and what had to be left out to build it."""

    data: dict[str, Any]
    left_out: dict[str, int] = field(default_factory=dict)


def default_weights() -> dict[str, float]:
    from placement.matching import DEFAULT_WEIGHTS

    return {key: float(DEFAULT_WEIGHTS[key]) for key in WEIGHT_KEYS}


def resolve_weights(weights: Mapping[str, Any] | None) -> dict[str, float]:
    """The four weights, the engine's defaults for missing keys; InvalidInput otherwise."""
    if weights is None:
        return default_weights()
    if not isinstance(weights, Mapping):
        raise InvalidInput("Weights must be an object.", errors={"weights": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    resolved = default_weights()
    for key, value in weights.items():
        name = f"weights.{key}"
        if key not in WEIGHT_KEYS:
            errors[name] = [f"unknown weight; expected one of {', '.join(WEIGHT_KEYS)}"]
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            errors[name] = ["must be a non-negative finite number"]
        else:
            resolved[key] = float(value)
    if errors:
        raise InvalidInput("Some weights are invalid.", errors=errors)
    return resolved


def _raw_rows(conn: sa.Connection, statement: Any) -> list[tuple[Any, ...]]:
    """Plain tuples straight from the driver, for the one query with a row per preference.

    Only for statements whose bound values are integers (rendered inline).
    """
    sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _iso_date(column: Any, postgres: bool) -> Any:
    """A date column as its ISO text (`2027-01-04`), computed by the database."""
    if postgres:
        return sa.func.to_char(column, "YYYY-MM-DD")
    return sa.cast(column, sa.Text)  # SQLite keeps dates as ISO text


def _json_list_cache() -> Callable[[str | None], list[str]]:
    """Decode JSON lists of strings, each distinct text once (a national round's 145,000
    trainees have about 19,000 distinct skill lists); every caller gets its own copy."""
    seen: dict[str | None, list[str]] = {}

    def decode(text: str | None) -> list[str]:
        found = seen.get(text)
        if found is None:
            found = seen[text] = list(json.loads(text)) if text else []
        return list(found)

    return decode


def _preferences_pg(
    conn: sa.Connection, round_id: int, included: Mapping[int, Any], kept: set[str]
) -> dict[int, list[str]]:
    """Each included trainee's choices among the `kept` slots (ids as text), in rank order.

    One text of `trainee,slot` pairs in order, split in one go: a national round has 1.5M
    preferences, and a row per preference costs more than the rest of the build.
    """
    pairs = (
        select(
            (
                sa.cast(col(Preference.trainee_id), sa.Text)
                + ","
                + sa.cast(col(Preference.slot_id), sa.Text)
            ).label("pair")
        )
        .where(col(Preference.round_id) == round_id)
        .order_by(col(Preference.trainee_id), col(Preference.rank))
        # OFFSET 0 keeps the sorted subquery as it is (never flattened or parallelised),
        # so the aggregate reads the pairs in this order.
        .offset(0)
        .subquery()
    )
    text = conn.execute(select(sa.func.string_agg(pairs.c.pair, ","))).scalar_one()
    parts = text.split(",") if text else []
    del text
    slot_of, trainee_of = parts[1::2], parts[0::2]
    del parts
    # Rows come grouped by trainee: the count of each (in first-seen order) delimits them.
    counts = Counter(trainee_of)
    del trainee_of
    filter_slots = not kept.issuperset(slot_of)
    prefs: dict[int, list[str]] = {}
    start = 0
    for key, n in counts.items():
        tid = int(key)
        if tid in included:
            choices = slot_of[start : start + n]
            if filter_slots:
                choices = [sid for sid in choices if sid in kept]
            if choices:
                prefs[tid] = choices
        start += n
    return prefs


def build(
    *,
    session: Session,
    round_id: int,
    weights: Mapping[str, Any] | None = None,
    allow_unranked: bool = False,
    mode: str | None = None,
    seed: int | None = None,
) -> BuiltInstance:
    """Build the instance of a round, saying what was left out (see the module docstring).

    A run passes its `mode` and `seed` (the file then carries them, and an optimal run
    asks for seat values); the export leaves them out (the engine's defaults).
    """
    # Millions of small lists and dicts, none of them cyclic: the cyclic collector would
    # walk them again and again while they are made.
    with gc_paused():
        return _build(
            session=session,
            round_id=round_id,
            weights=weights,
            allow_unranked=allow_unranked,
            mode=mode,
            seed=seed,
        )


def _build(
    *,
    session: Session,
    round_id: int,
    weights: Mapping[str, Any] | None,
    allow_unranked: bool,
    mode: str | None,
    seed: int | None,
) -> BuiltInstance:
    rnd = session.get(Round, round_id)
    if rnd is None:
        raise NotFound("No such round.")
    resolved = resolve_weights(weights)
    max_prefs = rnd.max_preferences

    participants = union(
        select(col(RoundTrainee.trainee_id).label("tid")).where(
            col(RoundTrainee.round_id) == round_id
        ),
        select(col(Placement.trainee_id).label("tid")).where(
            col(Placement.round_id) == round_id, col(Placement.status) == PlacementStatus.LIVE
        ),
    ).subquery()
    # Core statements on the session's connection (no ORM row processing): dates come as
    # ISO text, JSON lists as text decoded once per distinct text, and on Postgres the
    # 1.5M preferences of a national round as one aggregated text (`_preferences_pg`).
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    s_rows = conn.execute(
        select(
            col(Slot.id),
            col(Slot.capacity),
            col(Slot.min_level),
            sa.cast(col(Slot.required_skills), sa.Text).label("required_skills"),
            col(Slot.latitude),
            col(Slot.longitude),
            col(Slot.remote),
            col(Slot.requires_dbs),
            _iso_date(col(Slot.starts_on), postgres).label("starts_on"),
            _iso_date(col(Slot.ends_on), postgres).label("ends_on"),
            col(Organisation.verified),
        )
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .where(col(Slot.round_id) == round_id)
        .order_by(col(Slot.id))
    ).all()
    capacity = {row.id: row.capacity for row in s_rows}
    unverified = {row.id for row in s_rows if not row.verified}
    held: dict[int, int] = defaultdict(int)
    live = conn.execute(
        select(col(Placement.trainee_id), col(Placement.slot_id))
        .where(col(Placement.round_id) == round_id, col(Placement.status) == PlacementStatus.LIVE)
        .order_by(col(Placement.id))
    ).all()

    trainee_columns = [
        col(Trainee.id),
        col(Trainee.level),
        sa.cast(col(Trainee.skills), sa.Text).label("skills"),
        col(Trainee.latitude),
        col(Trainee.longitude),
        col(Trainee.max_travel_km),
        _iso_date(col(Trainee.available_from), postgres).label("available_from"),
        _iso_date(col(Trainee.available_to), postgres).label("available_to"),
        col(Trainee.dbs_checked_on),
        col(Trainee.erased_at),
    ]
    left_out = {"erased": 0, "incomplete_profile": 0}
    included: dict[int, Any] = {}
    for row in conn.execute(
        select(*trainee_columns)
        .join(participants, participants.c.tid == col(Trainee.id))
        .order_by(col(Trainee.id))
    ).all():
        if row[9] is not None:  # erased_at
            left_out["erased"] += 1
        elif None in row[3:8] or row[1] is None:  # level, position, travel, dates
            left_out["incomplete_profile"] += 1
        else:
            included[row[0]] = row

    locked: list[dict[str, str]] = []
    for tid, sid in live:
        if sid not in capacity:
            continue
        if tid in included:
            locked.append({"trainee_id": str(tid), "slot_id": str(sid)})
            held[sid] += 1
        else:
            capacity[sid] -= 1
    for sid in unverified:
        capacity[sid] = min(capacity[sid], held[sid])
    if unverified:
        left_out["unverified_host_slots"] = len(unverified)
    full = {sid for sid, cap in capacity.items() if cap <= 0 and sid not in unverified}
    if full:
        left_out["full_slots"] = len(full)
    full |= {sid for sid in unverified if capacity[sid] <= 0}
    slot_ids = {sid for sid in capacity if sid not in full}

    prefs: dict[int, list[str]]
    if postgres:
        prefs = _preferences_pg(conn, round_id, included, {str(sid) for sid in slot_ids})
    else:
        prefs = defaultdict(list)
        for tid, sid in _raw_rows(
            conn,
            select(col(Preference.trainee_id), col(Preference.slot_id))
            .where(col(Preference.round_id) == round_id)
            .order_by(col(Preference.trainee_id), col(Preference.rank)),
        ):
            if tid in included and sid in slot_ids:
                prefs[tid].append(str(sid))
    truncated = 0
    for tid, choices in prefs.items():
        if len(choices) > max_prefs:
            prefs[tid] = choices[:max_prefs]
            truncated += 1
    if truncated:
        left_out["preferences_truncated"] = truncated

    rankings: dict[int, list[str]] = defaultdict(list)
    for sid, tid in conn.execute(
        select(col(EmployerRanking.slot_id), col(EmployerRanking.trainee_id))
        .join(Slot, col(Slot.id) == col(EmployerRanking.slot_id))
        .where(col(Slot.round_id) == round_id)
        .order_by(col(EmployerRanking.slot_id), col(EmployerRanking.rank))
    ).all():
        if tid in included and sid in slot_ids:
            rankings[sid].append(str(tid))

    excluded = [
        {"trainee_id": str(tid), "slot_id": str(sid)}
        for tid, sid in conn.execute(
            select(col(Exclusion.trainee_id), col(Exclusion.slot_id))
            .where(col(Exclusion.round_id) == round_id)
            .order_by(col(Exclusion.trainee_id), col(Exclusion.slot_id))
        ).all()
        if tid in included and sid in slot_ids
    ]
    locked = [p for p in locked if int(p["slot_id"]) in slot_ids]

    dbs_since = dbs_cutoff(utcnow().date(), rnd.dbs_max_age_years)
    skills_of = _json_list_cache()
    trainees = [
        {
            "id": str(tid),
            "level": level,
            "skills": skills_of(skills),
            "latitude": float(latitude),
            "longitude": float(longitude),
            "max_travel_km": float(max_travel_km),
            "available_from": available_from,
            "available_to": available_to,
            "dbs_cleared": dbs_checked_on is not None and dbs_checked_on >= dbs_since,
            "preferences": prefs.get(tid, []),
        }
        for (
            tid,
            level,
            skills,
            latitude,
            longitude,
            max_travel_km,
            available_from,
            available_to,
            dbs_checked_on,
            _,
        ) in included.values()
    ]
    slots = [
        {
            "id": str(row.id),
            "capacity": capacity[row.id],
            "min_level": row.min_level,
            "required_skills": skills_of(row.required_skills),
            "latitude": float(row.latitude),
            "longitude": float(row.longitude),
            "remote": bool(row.remote),
            "requires_dbs": bool(row.requires_dbs),
            "starts_on": row.starts_on,
            "ends_on": row.ends_on,
            "rankings": rankings.get(row.id, []),
        }
        for row in s_rows
        if row.id in slot_ids
    ]
    data = {
        "format": FORMAT,
        "max_preferences": max_prefs,
        "weights": resolved,
        "allow_unranked": bool(allow_unranked),
        "trainees": trainees,
        "slots": slots,
        "locked": locked,
        "excluded": excluded,
    }
    if seed is not None:
        data["seed"] = int(seed)
    if mode is not None:
        data["mode"] = mode
        data["seat_values"] = mode == "optimal"
    return BuiltInstance(data=data, left_out={k: v for k, v in left_out.items() if v})


def build_instance(
    *,
    session: Session,
    round_id: int,
    weights: dict[str, Any] | None = None,
    allow_unranked: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The round as a `placement-instance/1` dict (ids are the database ids as strings).

    Raises NotFound for an unknown round and InvalidInput for bad weights. `progress(done,
    total)`, when given, is called once the document is built (`1, 1`).
    """
    data = build(
        session=session, round_id=round_id, weights=weights, allow_unranked=allow_unranked
    ).data
    if progress is not None:
        progress(1, 1)
    return data


def export_instance(
    *,
    session: Session,
    actor: User | None,
    round_id: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The round's instance file with the default weights; coordinators only."""
    require_role(actor, "coordinator")
    get_round(session, round_id, actor=actor)
    return build_instance(session=session, round_id=round_id, progress=progress)
