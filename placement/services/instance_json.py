"""A round's instance file as canonical JSON bytes, written by Postgres itself.

`instance_file` gives the bytes `canonical_instance(instances.build(...).data)` would give,
without ever making the document as Python objects: on Postgres one statement renders the
trainees, slots, locked and excluded pairs as JSON text (keys in sorted order, numbers as
the canonical JSON writes them) and this module adds the header around them. The export
sends those bytes, and a run stores them (gzip, SHA-256) and decodes them with the typed
fast path of `matching.decoding`. Both have the statement written in parts on two
connections sharing one snapshot (`instance_parts`, made of the pieces of SQL below).
SQLite, the embedded default, goes through the Python builder; so does a Postgres round
holding a number the statement does not format exactly as the canonical JSON would (a
coordinate nearer zero than 0.0001, a distance of 10^15 or more, a non-finite one, a
skill list that is not all strings): correct first, fast for
every real round.

Canonical JSON (see `canonical_instance`) is orjson's output with sorted keys when that is
ASCII with no `null` in it, and `json.dumps(..., sort_keys=True, separators=(",", ":"))`
otherwise. Over what the statement renders the two differ only in text: raw non-ASCII
(orjson) against `\\uXXXX` escapes (json, which also escapes DEL), so a document with such
text gets those escapes here. Postgres writes a float's shortest round-trip digits, as
both encoders do; it leaves out the `.0` of a whole number, which the statement adds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
import sqlalchemy as sa
from sqlmodel import Session

from placement.errors import NotFound
from placement.models import PlacementStatus, Round, User, utcnow
from placement.services.common import get_round, require_role
from placement.services.instances import FORMAT, build, resolve_weights
from placement.services.vetting import dbs_cutoff


@dataclass(frozen=True)
class InstanceDocument:
    """A round's instance file (canonical JSON) and what had to be left out to build it."""

    content: bytes
    left_out: dict[str, int]


def canonical_instance(data: Mapping[str, Any]) -> bytes:
    """The canonical JSON of an instance: sorted keys, no whitespace, ASCII only.

    The same document always gives the same bytes, so its SHA-256 identifies it. orjson
    writes them (a national instance in a tenth of the time); a document it would write
    differently (non-ASCII text, a null that may be a non-finite number, keys that are not
    strings) goes through `json`, which refuses non-finite numbers with ValueError.
    """
    try:
        content = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        content = b"null"
    if content.isascii() and b"null" not in content:
        return content
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii")


def _num(column: str) -> str:
    """A float column as the canonical JSON writes it, within the range `_exact` admits:
    Postgres's shortest round-trip digits, with `.0` on whole numbers; below 10^-4 the
    exponent form of Python (`1e-05`, the json module's) or orjson (`0.00001`, `1e-7`),
    as `path.json` says which writes the file."""
    text = f"{column}::text"
    mantissa = f"split_part({text}, 'e', 1)"
    orjson_small = (
        f"CASE WHEN {text} LIKE '%%e-05' THEN CASE WHEN {column} < 0 THEN '-' ELSE '' END"
        f" || '0.0000' || replace(ltrim({mantissa}, '-'), '.', '')"
        f" ELSE {mantissa} || 'e-' || ltrim(split_part({text}, 'e-', 2), '0') END"
    )
    return (
        f"CASE WHEN {column} = trunc({column}) THEN {text} || '.0'"
        f" WHEN path.json OR abs({column}) >= 1e-4 THEN {text}"
        f" ELSE {orjson_small} END"
    )


def _exact(column: str) -> str:
    """Whether `_num` writes the float as Python does: finite (NaN and the infinities fail
    the comparison) and below 10^15, where Postgres turns to exponents and Python not yet."""
    return f"abs({column}) < 1e15"


def _flag(value: str) -> str:
    return f"CASE WHEN {value} THEN 'true' ELSE 'false' END"


def _ids(array: str) -> str:
    """An int array as the items of a JSON array of strings (empty text for none)."""
    return f"""coalesce('"' || array_to_string({array}, '","') || '"', '')"""


_LIVE = PlacementStatus.LIVE.value
_FLOATS = ("latitude", "longitude", "max_travel_km")

# The pieces of the statement, shared with the statements of `instance_parts` (a round
# rendered in parts on several connections): the same text gives the same bytes.
INCOMPLETE = """(t.level IS NULL OR t.latitude IS NULL OR t.longitude IS NULL
         OR t.max_travel_km IS NULL OR t.available_from IS NULL OR t.available_to IS NULL)"""
PEOPLE_CTE = f"""people AS MATERIALIZED (
    SELECT t.id, t.level, t.skills::text AS skills, t.latitude, t.longitude,
        t.max_travel_km, t.available_from, t.available_to, t.dbs_checked_on,
        t.erased_at IS NOT NULL AS erased,
        {INCOMPLETE}
        AS incomplete
    FROM trainees t JOIN participants p ON p.tid = t.id{{people_filter}}
),
included AS MATERIALIZED (SELECT * FROM people WHERE NOT erased AND NOT incomplete)"""
ROUND_SLOTS_CTE = """round_slots AS (
    SELECT s.id, s.capacity, s.min_level, s.required_skills::text AS required_skills,
        s.latitude, s.longitude, s.remote, s.requires_dbs, s.starts_on, s.ends_on, o.verified
    FROM slots s JOIN organisations o ON o.id = s.organisation_id
    WHERE s.round_id = %(round)s
)"""
SEATS_CTE = """seats AS MATERIALIZED (
    SELECT s.*,
        CASE WHEN s.verified THEN s.capacity - coalesce(l.others, 0)
             ELSE least(s.capacity - coalesce(l.others, 0), coalesce(l.held, 0)) END AS cap
    FROM round_slots s LEFT JOIN (
        SELECT slot_id, count(*) FILTER (WHERE mine) AS held,
            count(*) FILTER (WHERE NOT mine) AS others
        FROM live GROUP BY slot_id
    ) l ON l.slot_id = s.id
),
kept AS MATERIALIZED (SELECT * FROM seats WHERE cap > 0)"""
# Lists in rank order: the rows sorted first (OFFSET 0 keeps that subquery as it is) and
# aggregated in that order, rather than one small sort per trainee.
CHOICES_CTE = """choices AS MATERIALIZED (
    SELECT trainee_id, array_agg(slot_id) AS ids
    FROM (
        SELECT p.trainee_id, p.slot_id
        FROM preferences p
        WHERE p.round_id = %(round)s AND p.slot_id IN (SELECT id FROM kept){choices_filter}
        ORDER BY p.trainee_id, p.rank
        OFFSET 0
    ) o
    GROUP BY trainee_id
)"""
RANKED_CTE = """ranked AS MATERIALIZED (
    SELECT slot_id, array_agg(trainee_id) AS ids
    FROM (
        SELECT r.slot_id, r.trainee_id
        FROM employer_rankings r
        JOIN kept k ON k.id = r.slot_id
        JOIN {included} i ON i.id = r.trainee_id
        ORDER BY r.slot_id, r.rank
        OFFSET 0
    ) o
    GROUP BY slot_id
)"""
# The skill lists as JSON array items (`body`), and whether any item is not a string; then
# whether the file is written the json module's way (text beyond ASCII, or "null" in it):
# what `_num` needs to know, and `_render` checks.
LISTS_CTE = """lists AS MATERIALIZED (
    SELECT d.raw, x.body, x.odd
    FROM ({raws}) d,
    LATERAL (
        SELECT coalesce(string_agg(to_json(e.value #>> '{}')::text, ',' ORDER BY e.n), '')
                AS body,
            coalesce(bool_or(json_typeof(e.value) <> 'string'), false) AS odd
        FROM json_array_elements(d.raw::json) WITH ORDINALITY AS e(value, n)
    ) x
    WHERE d.raw IS NOT NULL
),
path AS MATERIALIZED (
    SELECT coalesce(bool_or(body ~ '[^\\x01-\\x7f]' OR body LIKE '%%null%%'), false) AS json
    FROM lists
)"""
TRAINEES_ARRAY = f"""(SELECT convert_to(coalesce(string_agg(concat(
        '{{"available_from":"', t.available_from,
        '","available_to":"', t.available_to,
        '","dbs_cleared":', {_flag("t.dbs_checked_on >= %(dbs_since)s")},
        ',"id":"', t.id,
        '","latitude":', {_num("t.latitude")},
        ',"level":', t.level,
        ',"longitude":', {_num("t.longitude")},
        ',"max_travel_km":', {_num("t.max_travel_km")},
        ',"preferences":[', {_ids("c.ids[1:%(max_prefs)s]")},
        '],"skills":[', l.body, ']}}'),
        ',' ORDER BY t.id), ''), 'UTF8')
     FROM included t CROSS JOIN path
     LEFT JOIN choices c ON c.trainee_id = t.id
     LEFT JOIN lists l ON l.raw = t.skills)"""
SLOTS_ARRAY = f"""(SELECT convert_to(coalesce(string_agg(concat(
        '{{"capacity":', s.cap,
        ',"ends_on":"', s.ends_on,
        '","id":"', s.id,
        '","latitude":', {_num("s.latitude")},
        ',"longitude":', {_num("s.longitude")},
        ',"min_level":', s.min_level,
        ',"rankings":[', {_ids("r.ids")},
        '],"remote":', {_flag("s.remote")},
        ',"required_skills":[', l.body,
        '],"requires_dbs":', {_flag("s.requires_dbs")},
        ',"starts_on":"', s.starts_on, '"}}'),
        ',' ORDER BY s.id), ''), 'UTF8')
     FROM kept s CROSS JOIN path
     LEFT JOIN ranked r ON r.slot_id = s.id
     LEFT JOIN lists l ON l.raw = s.required_skills)"""
LOCKED_ARRAY = """(SELECT convert_to(coalesce(string_agg(
        concat('{"slot_id":"', l.slot_id, '","trainee_id":"', l.trainee_id, '"}'),
        ',' ORDER BY l.id), ''), 'UTF8')
     FROM live l WHERE l.mine AND l.slot_id IN (SELECT id FROM kept))"""
EXCLUDED_ARRAY = """(SELECT convert_to(coalesce(string_agg(
        concat('{"slot_id":"', x.slot_id, '","trainee_id":"', x.trainee_id, '"}'),
        ',' ORDER BY x.trainee_id, x.slot_id), ''), 'UTF8')
     FROM exclusions x
     WHERE x.round_id = %(round)s
        AND x.trainee_id IN (SELECT id FROM {included}) AND x.slot_id IN (SELECT id FROM kept))"""
TRAINEES_EXACT = (
    f"(SELECT coalesce(bool_and({' AND '.join(_exact(c) for c in _FLOATS)}), true) FROM included)"
)

_ALL_SKILLS = "SELECT required_skills AS raw FROM kept UNION SELECT skills FROM included"

# Each CTE is materialised once; the row estimates of CTE scans are rough, which is why
# `_render` turns merge and nested-loop joins off for this statement: every join here is
# a bulk one, best hashed.
_DOCUMENT_SQL = f"""
WITH participants AS (
    SELECT trainee_id AS tid FROM round_trainees WHERE round_id = %(round)s
    UNION
    SELECT trainee_id FROM placements WHERE round_id = %(round)s AND status = '{_LIVE}'
),
{PEOPLE_CTE.replace("{people_filter}", "")},
{ROUND_SLOTS_CTE},
live AS MATERIALIZED (
    SELECT p.id, p.trainee_id, p.slot_id, i.id IS NOT NULL AS mine
    FROM placements p
    JOIN round_slots s ON s.id = p.slot_id
    LEFT JOIN included i ON i.id = p.trainee_id
    WHERE p.round_id = %(round)s AND p.status = '{_LIVE}'
),
{SEATS_CTE},
{CHOICES_CTE.replace("{choices_filter}", "")},
{RANKED_CTE.replace("{included}", "included")},
{LISTS_CTE.replace("{raws}", _ALL_SKILLS)}
SELECT
    {TRAINEES_ARRAY} AS trainees,
    {SLOTS_ARRAY} AS slots,
    {LOCKED_ARRAY} AS locked,
    {EXCLUDED_ARRAY.replace("{included}", "included")} AS excluded,
    (SELECT count(*) FILTER (WHERE erased) FROM people) AS erased,
    (SELECT count(*) FILTER (WHERE incomplete AND NOT erased) FROM people) AS incomplete,
    (SELECT count(*) FILTER (WHERE NOT verified) FROM seats) AS unverified,
    (SELECT count(*) FILTER (WHERE verified AND cap <= 0) FROM seats) AS full_slots,
    (SELECT count(*) FROM choices c JOIN included i ON i.id = c.trainee_id
     WHERE cardinality(c.ids) > %(max_prefs)s) AS truncated,
    {TRAINEES_EXACT}
    AND NOT (SELECT coalesce(bool_or(odd), false) FROM lists) AS exact,
    (SELECT json FROM path) AS json_path
"""

# Settings of the statement's transaction only (see `_render`).
SETTINGS_SQL = (
    "SELECT set_config('extra_float_digits', '1', true),"
    " set_config('DateStyle', 'ISO, YMD', true),"
    " set_config('work_mem', '256MB', true),"
    " set_config('jit', 'off', true),"
    " set_config('enable_mergejoin', 'off', true),"
    " set_config('enable_nestloop', 'off', true)"
)

# Text the json module escapes and orjson writes raw: DEL and everything beyond ASCII.
_NOT_PRINTABLE_ASCII = re.compile("[\x7f-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    return json.dumps(match.group())[1:-1]


def instance_file(
    *,
    session: Session,
    round_id: int,
    weights: Mapping[str, Any] | None = None,
    allow_unranked: bool = False,
    mode: str | None = None,
    seed: int | None = None,
    parallel: bool = True,
) -> InstanceDocument:
    """The round's instance file as canonical JSON, exactly the bytes of
    `canonical_instance(instances.build(...).data)` with the same arguments, and the same
    left-out counts. NotFound for an unknown round, InvalidInput for bad weights; a
    non-finite number raises ValueError, as `canonical_instance` does.

    On Postgres, a session on an engine whose transaction has written nothing (what other
    connections could not see) has the file written in parts on several connections
    (`instance_parts`), unless `parallel` is false; otherwise, or when the parts cannot
    write it exactly, by one statement on the session's connection, or by the builder."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        bind = session.get_bind()
        if parallel and isinstance(bind, sa.Engine) and not _has_written(conn):
            from placement.services.instance_parts import instance_file_in_parts

            parts = instance_file_in_parts(
                bind, round_id, weights=weights, allow_unranked=allow_unranked, mode=mode,
                seed=seed,
            )  # fmt: skip
            if parts is not None:
                return parts.document
        rnd = session.get(Round, round_id)
        if rnd is None:
            raise NotFound("No such round.")
        header = instance_header(rnd.max_preferences, weights, allow_unranked, mode, seed)
        since = dbs_cutoff(utcnow().date(), rnd.dbs_max_age_years)
        found = _render(conn, round_id, rnd.max_preferences, since, header)
        if found is not None:
            return found
    built = build(
        session=session,
        round_id=round_id,
        weights=weights,
        allow_unranked=allow_unranked,
        mode=mode,
        seed=seed,
    )
    return InstanceDocument(canonical_instance(built.data), built.left_out)


def instance_header(
    max_preferences: int,
    weights: Mapping[str, Any] | None,
    allow_unranked: bool,
    mode: str | None,
    seed: int | None,
) -> dict[str, Any]:
    """The file's settings (InvalidInput for bad weights)."""
    header: dict[str, Any] = {
        "format": FORMAT,
        "max_preferences": max_preferences,
        "weights": resolve_weights(weights),
        "allow_unranked": bool(allow_unranked),
    }
    if seed is not None:
        header["seed"] = int(seed)
    if mode is not None:
        header["mode"] = mode
        header["seat_values"] = mode == "optimal"
    return header


def _has_written(conn: sa.Connection) -> bool:
    """Whether the connection's transaction has written anything (an xid is assigned)."""
    return conn.exec_driver_sql("SELECT txid_current_if_assigned()").scalar() is not None


def write_document(header: dict[str, Any], arrays: Mapping[str, list[bytes]]) -> bytes:
    """The file of an ASCII document without "null" (orjson's canonical form), given its
    settings and the items of each array in runs (comma-separated items each; empty runs
    are left out): `_assemble`'s bytes, copied once."""
    values = {key: [_orjson(value)] for key, value in header.items()}
    for key, runs in arrays.items():
        items = [run for run in runs if run]
        joined = [piece for run in items for piece in (b",", run)][1:]
        values[key] = [b"[", *joined, b"]"]
    pieces = [b"{"]
    for key in sorted(values):
        pieces += [b'"', key.encode(), b'":', *values[key], b","]
    pieces[-1] = b"}"
    return b"".join(pieces)


def orjson_text(value: Any) -> bytes:
    """A setting as `write_document` writes it."""
    return _orjson(value)


def _render(
    conn: sa.Connection, round_id: int, max_prefs: int, since: date, header: dict[str, Any]
) -> InstanceDocument | None:
    """The document from one statement; None when it holds something only the Python
    builder writes exactly (see the module docstring)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    params = {"round": round_id, "max_prefs": max_prefs, "dbs_since": since}
    with raw.cursor(binary=True) as cursor:
        # Settings of this transaction only: shortest round-trip digits for floats (the
        # default, which a session may have lowered), dates as YYYY-MM-DD; the sorts of the
        # whole round's rows (a national round's 1.45M preferences, its 57 MB of trainees)
        # in memory; no JIT compilation, which costs a statement like this more than it
        # saves; hashed joins (see `_DOCUMENT_SQL`).
        cursor.execute(SETTINGS_SQL)
        cursor.execute(_DOCUMENT_SQL, params)
        row = cursor.fetchone()
    assert row is not None
    (trainees, slots, locked, excluded, erased, incomplete, unverified, full, truncated,
     exact, json_path) = row  # fmt: skip
    if not exact:
        return None
    left_out = {
        "erased": erased,
        "incomplete_profile": incomplete,
        "unverified_host_slots": unverified,
        "full_slots": full,
        "preferences_truncated": truncated,
    }
    arrays = {"trainees": trainees, "slots": slots, "locked": locked, "excluded": excluded}
    content = _assemble(header, arrays, _orjson)
    if (not content.isascii() or b"null" in content) != json_path:
        return None  # the statement wrote small numbers for the other form
    if json_path:
        # The json module's canonical form: the same but for its escapes.
        escaped = {
            key: _NOT_PRINTABLE_ASCII.sub(_escape, bytes(value).decode()).encode("ascii")
            for key, value in arrays.items()
        }
        content = _assemble(header, escaped, _json)
    return InstanceDocument(content, {k: int(v) for k, v in left_out.items() if v})


def _orjson(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _json(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii")


def _assemble(
    header: dict[str, Any], arrays: dict[str, bytes], dumps: Callable[[Any], bytes]
) -> bytes:
    """`{"key":value,...}` in sorted key order: the header's values encoded by `dumps`,
    the arrays' items as rendered."""
    parts = {key: dumps(value) for key, value in header.items()}
    parts.update({key: b"[" + bytes(value) + b"]" for key, value in arrays.items()})
    body = b",".join(b'"' + key.encode() + b'":' + parts[key] for key in sorted(parts))
    return b"{" + body + b"}"


def export_instance_file(*, session: Session, actor: User | None, round_id: int) -> bytes:
    """`instances.export_instance` as the bytes of its canonical JSON (what the API sends):
    the round's instance file with the default weights; coordinators only."""
    require_role(actor, "coordinator")
    get_round(session, round_id, actor=actor)
    return instance_file(session=session, round_id=round_id).content
