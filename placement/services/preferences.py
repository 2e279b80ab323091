"""A trainee's ranked list of the slots they want in a round."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, insert
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from placement.errors import InvalidInput, NotFound, WrongState
from placement.models import (
    AuditEvent,
    Preference,
    Round,
    RoundStatus,
    RoundTrainee,
    Slot,
    Trainee,
    User,
    note_actors,
    utcnow,
)
from placement.services.common import (
    audit_values,
    changes,
    get_round,
    require_role,
    trainee_of,
)
from placement.services.driver_sql import mappings, pg_connection
from placement.services.rounds import require_status
from placement.services.trainees import (
    MATCHING_FIELDS,
    missing_for_matching,
    missing_in_words,
)


@dataclass(frozen=True)
class Preferences:
    round_id: int
    slot_ids: list[int]
    updated_at: datetime | None
    # Ranked slots a hard rule forbids, said at once: [{slot_id, message}].
    warnings: list[dict[str, Any]] = field(default_factory=list)


def get_preferences(*, session: Session, actor: User, round_id: int) -> Preferences:
    trainee = trainee_of(session, actor)
    rnd = get_round(session, round_id, actor=actor)
    rows = session.exec(
        select(Preference)
        .where(Preference.round_id == rnd.id, Preference.trainee_id == trainee.id)
        .order_by(col(Preference.rank))
    ).all()
    assert rnd.id is not None
    slot_ids = [p.slot_id for p in rows]
    return Preferences(
        round_id=rnd.id,
        slot_ids=slot_ids,
        updated_at=max((p.updated_at for p in rows), default=None),
        warnings=eligibility_warnings(session, trainee, slot_ids),
    )


def check_preferences(session: Session, rnd: Round, slot_ids: list[int]) -> list[str]:
    """What is wrong with a ranked list for `rnd` (empty when it is acceptable)."""
    known = set(
        session.exec(
            select(Slot.id).where(Slot.round_id == rnd.id, col(Slot.id).in_(set(slot_ids)))
        ).all()
    )
    return list_problems(rnd, slot_ids, known)


def list_problems(rnd: Round, slot_ids: list[int], known: set[int | None]) -> list[str]:
    """What is wrong with a ranked list for `rnd`, given which of its ids are slots of the
    round (empty when it is acceptable)."""
    problems: list[str] = []
    if len(set(slot_ids)) != len(slot_ids):
        problems.append("must not repeat a slot")
    if len(slot_ids) > rnd.max_preferences:
        problems.append(f"at most {rnd.max_preferences} slots may be ranked in this round")
    strangers = [s for s in slot_ids if s not in known]
    if strangers:
        problems.append(
            "not slots of this round: " + ", ".join(map(str, list(dict.fromkeys(strangers))[:20]))
        )
    return problems


def eligibility_warnings(
    session: Session,
    trainee: Trainee,
    slot_ids: list[int],
    slots: Sequence[Slot] | None = None,
) -> list[dict[str, Any]]:
    """`{slot_id, message}` for each listed slot the trainee cannot be matched to, with the
    rule in words and its numbers (the engine's rules: `matching.eligibility`, tested
    to agree with `ineligible_choices`). Empty when the
    profile is incomplete (that has its own message) or nothing is wrong. `slots`: the
    listed slots when the caller has them already (else they are read)."""
    from placement.matching import InstanceError
    from placement.matching.eligibility import (
        MAX_PREFERENCES,
        ranked_ineligible_parsed,
        slot_from_fields,
    )
    from placement.services.runs.explanations import choice_sentence

    if not slot_ids or len(slot_ids) > MAX_PREFERENCES or missing_for_matching(trainee):
        return []  # (a longer list is one the matcher would reject)
    if slots is None:
        slots = session.exec(select(Slot).where(col(Slot.id).in_(set(slot_ids)))).all()
    known = {s.id for s in slots}
    record = {
        "id": "me",
        "level": trainee.level,
        "skills": list(trainee.skills),
        "latitude": trainee.latitude,
        "longitude": trainee.longitude,
        "max_travel_km": trainee.max_travel_km,
        "available_from": trainee.available_from.isoformat() if trainee.available_from else None,
        "available_to": trainee.available_to.isoformat() if trainee.available_to else None,
        "dbs_cleared": bool(trainee.dbs_cleared),
        "preferences": [str(s) for s in dict.fromkeys(slot_ids) if s in known],
    }
    try:
        parsed = [
            slot_from_fields(
                i,
                str(s.id),
                s.min_level,
                s.required_skills,
                s.latitude,
                s.longitude,
                bool(s.remote),
                bool(s.requires_dbs),
                s.starts_on.isoformat(),
                s.ends_on.isoformat(),
            )
            for i, s in enumerate(slots)
        ]
        found = ranked_ineligible_parsed(record, parsed)
    except InstanceError:
        return []  # a record the matcher would reject is reported where it is edited
    return [
        {"slot_id": int(c["slot_id"]), "message": choice_sentence(c, audience="trainee")}
        for c in found
    ]


def replace_preferences(
    session: Session, rnd: Round, trainee: Trainee, slot_ids: list[int], *, actor: User
) -> datetime:
    """Write a checked list and its audit event (no commit); the trainee joins the round.
    When it was written.

    The caller holds the trainee's row lock (`_locked_with_round`), so two replaces of one list
    run one after the other and the last wins: they never interleave on the unique
    `(trainee, round, rank)` index. Set-wise: one DELETE that returns the old list, then
    one statement on Postgres for the new list, the round's trainee row and the event.
    """
    assert rnd.id is not None and trainee.id is not None
    conn = session.connection()
    pg = pg_connection(session)
    keys = {"round_id": rnd.id, "trainee_id": trainee.id}
    if pg is not None:
        old = pg.execute(_PG_DELETE, keys).fetchall()
    else:
        old = conn.execute(_DELETE, keys).all()
    before = [slot_id for slot_id, _ in sorted(old, key=lambda row: row[1])]
    event = audit_values(
        actor=actor,
        action="preference.set",
        object_type="trainee",
        object_id=trainee.id,
        round_id=rnd.id,
        trainee_id=trainee.id,
        changes=changes({"slot_ids": before}, {"slot_ids": list(slot_ids)}),
    )
    note_actors(session, (event["actor_id"],))
    now: datetime = event["at"]
    if pg is not None:
        event["detail"] = json.dumps(event["detail"])
        pg.execute(
            _PG_REPLACE, {**keys, "now": now, **_prefixed(event), "slot_ids": list(slot_ids)}
        )
        return now
    if slot_ids:
        conn.execute(
            insert(Preference.__table__),  # type: ignore[attr-defined]
            [
                {
                    "round_id": rnd.id,
                    "trainee_id": trainee.id,
                    "slot_id": slot_id,
                    "rank": rank,
                    "updated_at": now,
                }
                for rank, slot_id in enumerate(slot_ids, start=1)
            ],
        )
    conn.execute(
        sqlite_insert(RoundTrainee.__table__)  # type: ignore[attr-defined]
        .values(round_id=rnd.id, trainee_id=trainee.id, joined_at=now)
        .on_conflict_do_nothing()
    )
    conn.execute(insert(AuditEvent.__table__), event)  # type: ignore[attr-defined]
    return now


def _prefixed(event: dict[str, Any]) -> dict[str, Any]:
    return {f"event_{key}": value for key, value in event.items()}


_DELETE = (
    delete(Preference.__table__)  # type: ignore[attr-defined]
    .where(
        col(Preference.round_id) == bindparam("round_id"),
        col(Preference.trainee_id) == bindparam("trainee_id"),
    )
    .returning(col(Preference.slot_id), col(Preference.rank))
)
_PG_DELETE = (
    "DELETE FROM preferences WHERE round_id = %(round_id)s AND trainee_id = %(trainee_id)s "
    "RETURNING slot_id, rank"
)
_EVENT_COLUMNS = (
    "at",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "detail",
    "ip",
    "round_id",
    "trainee_id",
)
# For the driver: the new list, the round's trainee row and the audit event, one statement.
_PG_REPLACE = f"""
WITH joined AS (
    INSERT INTO round_trainees (round_id, trainee_id, joined_at)
    VALUES (%(round_id)s, %(trainee_id)s, %(now)s) ON CONFLICT DO NOTHING
), ranked AS (
    INSERT INTO preferences (round_id, trainee_id, slot_id, rank, updated_at)
    SELECT %(round_id)s, %(trainee_id)s, ranked.slot_id, ranked.rank, %(now)s
    FROM unnest(CAST(%(slot_ids)s AS integer[])) WITH ORDINALITY AS ranked(slot_id, rank)
)
INSERT INTO audit_events ({", ".join(_EVENT_COLUMNS)})
VALUES ({", ".join(f"%(event_{name})s" for name in _EVENT_COLUMNS)})
""".replace("%(event_detail)s", "CAST(%(event_detail)s AS json)")


# What a replace reads (the rules, the warnings); other columns load on first use.
_TRAINEE_COLUMNS = ("id", "user_id", "dbs_cleared", "skills", *MATCHING_FIELDS)
_ROUND_COLUMNS = ("id", "status", "preference_deadline", "max_preferences")
_SLOT_COLUMNS = (
    "id",
    "round_id",
    "min_level",
    "required_skills",
    "latitude",
    "longitude",
    "remote",
    "requires_dbs",
    "starts_on",
    "ends_on",
)


class _Columns:
    """The columns a query read, as attributes named like the model's (a plain record:
    the hot replace path reads a few columns and needs no ORM object)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


@cache
def _locked_with_round_statement() -> Any:
    """Built once (Core, columns only: an ORM load of three entities per row cost more
    than the query)."""
    trainees, rounds, slots = (
        model.__table__  # type: ignore[union-attr]
        for model in (Trainee, Round, Slot)
    )
    return (
        sa_select(
            *(trainees.c[name].label(f"t_{name}") for name in _TRAINEE_COLUMNS),
            *(rounds.c[name].label(f"r_{name}") for name in _ROUND_COLUMNS),
            *(slots.c[name].label(f"s_{name}") for name in _SLOT_COLUMNS),
        )
        .select_from(
            trainees.outerjoin(rounds, rounds.c.id == bindparam("round_id")).outerjoin(
                slots,
                (slots.c.round_id == rounds.c.id)
                & slots.c.id.in_(bindparam("slot_ids", expanding=True)),
            )
        )
        .where(trainees.c.user_id == bindparam("user_id"))
        .with_for_update(of=trainees)
    )


def _columns(aliased: str, prefix: str, names: Sequence[str]) -> list[str]:
    return [f"{aliased}.{name} AS {prefix}_{name}" for name in names]


# `_locked_with_round_statement` for Postgres, through the driver: one row, the listed
# slots of the round gathered into a JSON array of `_SLOT_COLUMNS` (cheaper to read
# than a row per slot repeating the trainee and the round).
_PG_LOCKED_WITH_ROUND = (
    "SELECT "
    + ", ".join(_columns("t", "t", _TRAINEE_COLUMNS) + _columns("r", "r", _ROUND_COLUMNS))
    + ", (SELECT coalesce(json_agg(json_build_array("
    + ", ".join(f"s.{name}" for name in _SLOT_COLUMNS)
    + ")), '[]') FROM slots s WHERE s.round_id = r.id"
    " AND s.id = ANY(CAST(%(slot_ids)s AS integer[]))) AS slots"
    " FROM trainees t LEFT JOIN rounds r ON r.id = %(round_id)s"
    " WHERE t.user_id = %(user_id)s FOR UPDATE OF t"
)


def _pg_slot(values: list[Any]) -> Any:
    """A slot of `_PG_LOCKED_WITH_ROUND`'s JSON array (dates arrive as ISO text)."""
    slot = dict(zip(_SLOT_COLUMNS, values, strict=True))
    slot["starts_on"] = date.fromisoformat(slot["starts_on"])
    slot["ends_on"] = date.fromisoformat(slot["ends_on"])
    return _Columns(slot)


def _part(mapping: Any, prefix: str, names: Sequence[str]) -> Any:
    return _Columns({name: mapping[f"{prefix}_{name}"] for name in names})


def _locked_with_round(
    session: Session, actor: User, round_id: int, slot_ids: list[int]
) -> tuple[Trainee, Round, list[Slot]]:
    """The caller's trainee profile, locked FOR UPDATE (see `replace_preferences`; SQLite
    already serialises writers), the round, and those of `slot_ids` that are slots of
    the round: one query. Column records (`_Columns`) with the models' attribute names,
    typed as the models for the rules that read them."""
    require_role(actor, "trainee")
    params = {"user_id": actor.id, "round_id": round_id, "slot_ids": sorted(set(slot_ids))}
    pg = pg_connection(session)
    rows: Sequence[Any]
    if pg is not None:
        rows = mappings(pg, _PG_LOCKED_WITH_ROUND, params)
    else:
        result = session.connection().execute(_locked_with_round_statement(), params)
        rows = [row._mapping for row in result]
    if not rows:
        raise NotFound("You have no trainee profile.")
    first = rows[0]
    if first["r_id"] is None or (first["r_status"] == "draft" and actor.role != "coordinator"):
        raise NotFound("No such round.")  # as get_round says it
    trainee = _part(first, "t", _TRAINEE_COLUMNS)
    rnd = _part(first, "r", _ROUND_COLUMNS)
    if pg is not None:
        slots = [_pg_slot(values) for values in first["slots"]]
    else:
        slots = [_part(row, "s", _SLOT_COLUMNS) for row in rows if row["s_id"] is not None]
    return trainee, rnd, slots


def set_preferences(
    *, session: Session, actor: User, round_id: int, slot_ids: list[int]
) -> Preferences:
    """Replace the trainee's ranked list (first = most wanted) while the round is open."""
    trainee, rnd, slots = _locked_with_round(session, actor, round_id, slot_ids)
    require_status(rnd, RoundStatus.OPEN, doing="change preferences")
    if rnd.preference_deadline is not None and utcnow().date() > rnd.preference_deadline:
        raise WrongState("The deadline for preferences in this round has passed.")
    to_do = missing_in_words(trainee)
    if slot_ids and to_do:
        steps = "; ".join(step[0].lower() + step[1:] for step in to_do)
        raise InvalidInput(
            f"Complete your profile before ranking slots: {steps}.", errors={"profile": to_do}
        )
    problems = list_problems(rnd, slot_ids, {slot.id for slot in slots})
    if problems:
        raise InvalidInput(errors={"slot_ids": problems})
    updated_at = replace_preferences(session, rnd, trainee, slot_ids, actor=actor)
    session.commit()
    assert rnd.id is not None
    return Preferences(
        round_id=rnd.id,
        slot_ids=list(slot_ids),
        updated_at=updated_at,
        warnings=eligibility_warnings(session, trainee, slot_ids, slots),
    )
