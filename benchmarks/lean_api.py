"""The comparison for benchmarks/bench_api.py: the two hot API routes, written lean.

Plain Flask and psycopg 3 with hand-written SQL and a small connection pool, doing what
`PUT /api/v1/rounds/{id}/preferences` and `GET /api/v1/me` do in the project: the same
bearer-token check (SHA-256 of the token, revoked, absolute and idle expiry, active and
verified account, the idle-expiry touch at most every five minutes, MFA enrolment for
the roles that need it), the same rules (trainee role, a round the trainee may see,
open, before its deadline, a complete profile, no repeats, at most `max_preferences`,
only slots of the round), the same rows (the list, the round's trainee row, the audit
event with the list before and after) and the same JSON, warnings included (the
engine's hard rules in plain Python: level, availability, DBS, distance).

Run under gunicorn like the project: `gunicorn 'benchmarks.lean_api:create_app()'` with
`LEAN_DATABASE_URL` set.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from flask import Flask, Response, request

TOUCH_INTERVAL = timedelta(minutes=5)
MAX_TOKEN_LENGTH = 200
MAX_ID = 2_147_483_647
EARTH_RADIUS_KM = 6371.0088


class Pool:
    """A fixed number of connections handed out last-in first-out."""

    def __init__(self, url: str, size: int) -> None:
        self.url = url
        self.free: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        for _ in range(size):
            self.free.put(psycopg.connect(url))

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self.free.get()
        try:
            yield conn
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
        except BaseException:
            conn.rollback()
            raise
        finally:
            self.free.put(conn)


def _json(body: Any, status: int = 200) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(status: int, message: str, errors: Any = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    return _json(body, status)


AUTH_SQL = """
SELECT u.id, u.email, u.name, u.role, u.mfa_secret IS NOT NULL, t.id, t.last_used_at,
       now()
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = %s AND t.revoked_at IS NULL
  AND t.created_at >= now() - %s AND coalesce(t.last_used_at, t.created_at) >= now() - %s
  AND u.is_active AND u.email_verified_at IS NOT NULL
"""


def _authenticate(conn: psycopg.Connection[Any], cfg: dict[str, Any]) -> tuple[Any, ...] | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = conn.execute(AUTH_SQL, (digest, cfg["absolute"], cfg["idle"])).fetchone()
    if row is None:
        return None
    last_used, now = row[6], row[7]
    if last_used is None or now - last_used > TOUCH_INTERVAL:
        conn.execute("UPDATE api_tokens SET last_used_at = %s WHERE id = %s", (now, row[5]))
    conn.commit()
    return row


def _km(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _uk(d: date) -> str:
    return f"{d.day} {d.strftime('%b %Y')}"


def _distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def _warning(trainee: dict[str, Any], slot: tuple[Any, ...]) -> str | None:
    """The first hard rule a ranked slot breaks, in the project's words (None: eligible)."""
    _, min_level, lat, lon, remote, requires_dbs, starts_on, ends_on = slot
    if trainee["level"] < min_level:
        return f"It needs level {min_level}; you are level {trainee['level']}."
    if trainee["from"] > starts_on:
        return f"You are available from {_uk(trainee['from'])}; it starts {_uk(starts_on)}."
    if trainee["to"] < ends_on:
        return f"You are available until {_uk(trainee['to'])}; it ends {_uk(ends_on)}."
    if requires_dbs and not trainee["dbs"]:
        return "This placement needs a DBS check, and you do not have one on record."
    if not remote:
        km = _distance(trainee["lat"], trainee["lon"], lat, lon)
        if not km <= trainee["travel"]:
            return (
                f"It is {_km(round(km, 1))} km away and you said "
                f"{_km(float(trainee['travel']))} km at most."
            )
    return None


LOCK_SQL = """
WITH me AS (
    SELECT id, level, latitude, longitude, max_travel_km, available_from, available_to,
           dbs_cleared
    FROM trainees WHERE user_id = %(user)s FOR UPDATE
)
SELECT me.*, r.id, r.status, r.preference_deadline, r.max_preferences,
       (SELECT coalesce(json_agg(json_build_array(s.id, s.min_level, s.latitude,
                s.longitude, s.remote, s.requires_dbs, s.starts_on, s.ends_on)), '[]')
        FROM slots s WHERE s.round_id = r.id AND s.id = ANY(%(slots)s))
FROM me LEFT JOIN rounds r ON r.id = %(round)s AND r.status <> 'draft'
"""

WRITE_SQL = """
WITH prefs AS (
    INSERT INTO preferences (round_id, trainee_id, slot_id, rank, updated_at)
    SELECT %(round)s, %(trainee)s, s.slot_id, s.rank, %(now)s
    FROM unnest(%(slots)s::int[]) WITH ORDINALITY AS s(slot_id, rank)
), joined AS (
    INSERT INTO round_trainees (round_id, trainee_id, joined_at)
    VALUES (%(round)s, %(trainee)s, %(now)s) ON CONFLICT DO NOTHING
)
INSERT INTO audit_events (at, actor_id, action, object_type, object_id, detail, ip,
                          round_id, trainee_id)
VALUES (%(now)s, %(user)s, 'preference.set', 'trainee', %(trainee)s::text, %(detail)s,
        %(ip)s, %(round)s, %(trainee)s)
"""


def _parse_slot_ids() -> tuple[list[int] | None, Response | None]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, _error(
            422, "Unprocessable Entity", {"json": {"_schema": ["Invalid input type."]}}
        )
    unknown = [k for k in body if k != "slot_ids"]
    if unknown:
        return None, _error(
            422, "Unprocessable Entity", {"json": {k: ["Unknown field."] for k in unknown}}
        )
    ids = body.get("slot_ids")
    if ids is None:
        return None, _error(
            422,
            "Unprocessable Entity",
            {"json": {"slot_ids": ["Missing data for required field."]}},
        )
    if not isinstance(ids, list):
        return None, _error(
            422, "Unprocessable Entity", {"json": {"slot_ids": ["Not a valid list."]}}
        )
    bad = {
        str(i): ["Not a valid integer."]
        if not isinstance(v, int) or isinstance(v, bool)
        else [f"Must be greater than or equal to 1 and less than or equal to {MAX_ID}."]
        for i, v in enumerate(ids)
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_ID
    }
    if bad:
        return None, _error(422, "Unprocessable Entity", {"json": {"slot_ids": bad}})
    if len(ids) > 50:
        return None, _error(
            422, "Unprocessable Entity", {"json": {"slot_ids": ["Longer than maximum length 50."]}}
        )
    return ids, None


def create_app() -> Flask:
    url = os.environ["LEAN_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    pool = Pool(url, int(os.environ.get("LEAN_POOL_SIZE", "8")))
    cfg = {
        "idle": timedelta(hours=float(os.environ.get("SESSION_IDLE_HOURS", "8"))),
        "absolute": timedelta(days=float(os.environ.get("SESSION_MAX_DAYS", "30"))),
        "require_mfa": {r for r in os.environ.get("REQUIRE_MFA", "").split(",") if r},
    }
    app = Flask(__name__)

    def unauthorized() -> Response:
        return _error(401, "Authentication required: send a valid bearer token.")

    def mfa_refused(role: str, mfa_on: bool) -> Response | None:
        if role in cfg["require_mfa"] and not mfa_on:
            return _error(403, "Your role must use two-step sign-in: turn it on at /me/mfa.")
        return None

    @app.get("/api/v1/me")
    def me() -> Response:
        with pool.connection() as conn:
            user = _authenticate(conn, cfg)
            if user is None:
                return unauthorized()
            uid, email, name, role, mfa_on = user[:5]
            if (refused := mfa_refused(role, mfa_on)) is not None:
                return refused
            trainee_id = org_id = None
            if role == "trainee":
                row = conn.execute("SELECT id FROM trainees WHERE user_id = %s", (uid,)).fetchone()
                trainee_id = row[0] if row else None
            elif role == "employer":
                row = conn.execute(
                    "SELECT id FROM organisations WHERE owner_id = %s", (uid,)
                ).fetchone()
                org_id = row[0] if row else None
            conn.rollback()
        return _json(
            {
                "id": uid,
                "email": email,
                "name": name,
                "role": role,
                "trainee_id": trainee_id,
                "organisation_id": org_id,
                "mfa_enabled": mfa_on,
            }
        )

    @app.put("/api/v1/rounds/<int:round_id>/preferences")
    def put_preferences(round_id: int) -> Response:
        if not 1 <= round_id <= MAX_ID:
            return _error(404, "Not Found")
        with pool.connection() as conn:
            user = _authenticate(conn, cfg)
            if user is None:
                return unauthorized()
            uid, role, mfa_on = user[0], user[3], user[4]
            if (refused := mfa_refused(role, mfa_on)) is not None:
                return refused
            if role != "trainee":
                return _error(403, "Only trainees can do this.")
            slot_ids, invalid = _parse_slot_ids()
            if invalid is not None:
                return invalid
            assert slot_ids is not None
            row = conn.execute(
                LOCK_SQL, {"user": uid, "round": round_id, "slots": slot_ids}
            ).fetchone()
            if row is None:
                return _error(404, "You have no trainee profile.")
            tid, level, lat, lon, travel, a_from, a_to, dbs = row[:8]
            rid, status, deadline, max_prefs, slots = row[8:]
            if rid is None:
                return _error(404, "No such round.")
            if status != "open":
                return _error(
                    409,
                    f"Cannot change preferences while the round is {status}; it must be open.",
                )
            if deadline is not None and datetime.now(UTC).date() > deadline:
                return _error(409, "The deadline for preferences in this round has passed.")
            to_do = []
            if level is None:
                to_do.append("Choose your level (4 or 5)")
            if lat is None or lon is None:
                to_do.append("Add your home postcode")
            if travel is None:
                to_do.append("Say how far you can travel")
            if a_from is None or a_to is None:
                to_do.append("Add the dates you are available")
            if slot_ids and to_do:
                steps = "; ".join(s[0].lower() + s[1:] for s in to_do)
                return _error(
                    422,
                    f"Complete your profile before ranking slots: {steps}.",
                    {"profile": to_do},
                )
            problems = []
            if len(set(slot_ids)) != len(slot_ids):
                problems.append("must not repeat a slot")
            if len(slot_ids) > max_prefs:
                problems.append(f"at most {max_prefs} slots may be ranked in this round")
            known = {s[0]: s for s in slots}
            strangers = list(dict.fromkeys(s for s in slot_ids if s not in known))
            if strangers:
                problems.append("not slots of this round: " + ", ".join(map(str, strangers[:20])))
            if problems:
                return _error(422, "Some values are invalid.", {"slot_ids": problems})
            before = [
                r[0]
                for r in sorted(
                    conn.execute(
                        "DELETE FROM preferences WHERE round_id = %s AND trainee_id = %s "
                        "RETURNING slot_id, rank",
                        (round_id, tid),
                    ).fetchall(),
                    key=lambda r: r[1],  # RETURNING comes back in no particular order
                )
            ]
            now = datetime.now(UTC)
            detail = {}
            if before != slot_ids:
                detail = {"changes": {"slot_ids": {"before": before, "after": slot_ids}}}
            conn.execute(
                WRITE_SQL,
                {
                    "round": round_id,
                    "trainee": tid,
                    "slots": slot_ids,
                    "now": now,
                    "user": uid,
                    "detail": json.dumps(detail),
                    "ip": request.remote_addr,
                },
            )
            conn.commit()
        warnings = []
        if not to_do:
            me = {
                "level": level,
                "lat": lat,
                "lon": lon,
                "travel": travel,
                "from": a_from,
                "to": a_to,
                "dbs": bool(dbs),
            }
            for slot_id in slot_ids:
                s = known[slot_id]
                message = _warning(
                    me,
                    (
                        s[0],
                        s[1],
                        s[2],
                        s[3],
                        s[4],
                        s[5],
                        date.fromisoformat(s[6]),
                        date.fromisoformat(s[7]),
                    ),
                )
                if message is not None:
                    warnings.append({"slot_id": slot_id, "message": message})
        return _json(
            {
                "round_id": round_id,
                "slot_ids": slot_ids,
                "updated_at": now.isoformat(),
                "warnings": warnings,
            }
        )

    return app
