"""A round's instance file written by Postgres in parts, on several connections at once.

`instance_json` writes the file in one statement: one Postgres backend, one core, for
seconds at national scale. Here the same file is written in parts: the trainees in runs
of consecutive ids, and the rest (slots, locked and excluded pairs), each part by a
statement made of the same pieces of SQL as the single statement, on two connections
that share one snapshot (the first exports it, `pg_export_snapshot`, the others import it,
`SET TRANSACTION SNAPSHOT`, all in REPEATABLE READ): together they read the round exactly
as one statement would, whatever commits meanwhile. The parts joined in order are the
bytes of the single statement. While the database writes the next parts, the caller may
decode the ones that arrived (`PartsDecoder`).

Only the common case is done in parts: a file written the json module's way (text beyond
ASCII, or "null" in it) or holding a number only the Python builder writes exactly gives
None, and the caller falls back to `instance_json.instance_file`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sqlalchemy.engine import Engine

from placement.errors import NotFound
from placement.matching.decoding import PartsDecoder
from placement.models import PlacementStatus, utcnow
from placement.services.instance_json import (
    CHOICES_CTE,
    EXCLUDED_ARRAY,
    INCOMPLETE,
    LISTS_CTE,
    LOCKED_ARRAY,
    PEOPLE_CTE,
    RANKED_CTE,
    ROUND_SLOTS_CTE,
    SEATS_CTE,
    SETTINGS_SQL,
    SLOTS_ARRAY,
    TRAINEES_ARRAY,
    TRAINEES_EXACT,
    InstanceDocument,
    instance_header,
    orjson_text,
    write_document,
)
from placement.services.vetting import dbs_cutoff

_LIVE = PlacementStatus.LIVE.value
# Connections writing parts at once (the machine's cores are shared with the caller, who
# decodes the parts as they come).
CONNECTIONS = 2
# Trainees per run: a run repeats the round's slots and seats, so not too many runs.
TRAINEES_PER_RUN = 40_000
MAX_RUNS = 4

# Whether a live placement's holder is in the file: a participant (every holder is one)
# neither erased nor incomplete, read from the trainee's own row, so that a part holding
# some trainees knows the seats of all.
_LIVE_CTE = f"""live AS MATERIALIZED (
    SELECT p.id, p.trainee_id, p.slot_id,
        (SELECT t.erased_at IS NULL AND NOT {INCOMPLETE} FROM trainees t
         WHERE t.id = p.trainee_id) AS mine
    FROM placements p
    JOIN round_slots s ON s.id = p.slot_id
    WHERE p.round_id = %(round)s AND p.status = '{_LIVE}'
)"""

_IN_RUN = "trainee_id >= %(lo)s AND trainee_id < %(hi)s"

# A run's preferences, the slots with seats given as an array (read once, `_KEPT_SQL`): no
# join, so the rows come in the order of the index on (trainee, round, rank), unsorted.
_RUN_CHOICES = CHOICES_CTE.replace("{choices_filter}", " AND p." + _IN_RUN).replace(
    "p.slot_id IN (SELECT id FROM kept)", "p.slot_id = ANY(%(kept)s::integer[])"
)
assert "ANY(%(kept)s" in _RUN_CHOICES

TRAINEES_SQL = f"""
WITH participants AS (
    SELECT trainee_id AS tid FROM round_trainees WHERE round_id = %(round)s AND {_IN_RUN}
    UNION
    SELECT trainee_id FROM placements
    WHERE round_id = %(round)s AND status = '{_LIVE}' AND {_IN_RUN}
),
{PEOPLE_CTE.replace("{people_filter}", " WHERE t.id >= %(lo)s AND t.id < %(hi)s")},
{_RUN_CHOICES},
{LISTS_CTE.replace("{raws}", "SELECT DISTINCT skills AS raw FROM included")}
SELECT
    {TRAINEES_ARRAY} AS trainees,
    (SELECT count(*) FILTER (WHERE erased) FROM people) AS erased,
    (SELECT count(*) FILTER (WHERE incomplete AND NOT erased) FROM people) AS incomplete,
    (SELECT count(*) FROM choices c JOIN included i ON i.id = c.trainee_id
     WHERE cardinality(c.ids) > %(max_prefs)s) AS truncated,
    {TRAINEES_EXACT}
    AND NOT (SELECT coalesce(bool_or(odd), false) FROM lists) AS exact,
    (SELECT json FROM path) AS json_path
"""

OTHERS_SQL = f"""
WITH participants AS (
    SELECT trainee_id AS tid FROM round_trainees WHERE round_id = %(round)s
    UNION
    SELECT trainee_id FROM placements WHERE round_id = %(round)s AND status = '{_LIVE}'
),
included AS MATERIALIZED (
    SELECT t.id FROM trainees t JOIN participants p ON p.tid = t.id
    WHERE t.erased_at IS NULL AND NOT {INCOMPLETE}
),
{ROUND_SLOTS_CTE},
{_LIVE_CTE},
{SEATS_CTE},
{RANKED_CTE.replace("{included}", "included")},
{LISTS_CTE.replace("{raws}", "SELECT DISTINCT required_skills AS raw FROM kept")}
SELECT
    {SLOTS_ARRAY} AS slots,
    {LOCKED_ARRAY} AS locked,
    {EXCLUDED_ARRAY.replace("{included}", "included")} AS excluded,
    (SELECT count(*) FILTER (WHERE NOT verified) FROM seats) AS unverified,
    (SELECT count(*) FILTER (WHERE verified AND cap <= 0) FROM seats) AS full_slots,
    NOT (SELECT coalesce(bool_or(odd), false) FROM lists) AS exact,
    (SELECT json FROM path) AS json_path
"""

# The round's settings and the trainee ids that cut its participants into runs of equal
# size, read in the shared snapshot.
_PLAN_SQL = """
SELECT r.max_preferences, r.dbs_max_age_years,
    (SELECT count(*) FROM round_trainees WHERE round_id = r.id) AS participants
FROM rounds r WHERE r.id = %(round)s
"""
# The slots with a seat to offer (see `instance_json`), for the trainee runs.
_KEPT_SQL = f"""
WITH {ROUND_SLOTS_CTE},
{_LIVE_CTE},
{SEATS_CTE}
SELECT coalesce(array_agg(id), '{{}}') FROM kept
"""
_BOUNDS_SQL = """
SELECT percentile_disc(%(cuts)s::float8[]) WITHIN GROUP (ORDER BY trainee_id)
FROM round_trainees WHERE round_id = %(round)s
"""

# Beyond every id (ids are 32-bit integers).
_LOWEST, _HIGHEST = -(2**40), 2**40


@dataclass(frozen=True)
class Parts:
    """A file written in parts: the document, and the JSON text of each header setting
    (for `PartsDecoder.finish`)."""

    document: InstanceDocument
    header: dict[str, bytes]


def instance_file_in_parts(
    engine: Engine,
    round_id: int,
    *,
    weights: Mapping[str, Any] | None = None,
    allow_unranked: bool = False,
    mode: str | None = None,
    seed: int | None = None,
    runs: int | None = None,
    decoder: PartsDecoder | None = None,
    after_snapshot: Callable[[], None] | None = None,
) -> Parts | None:
    """`instance_json.instance_file` on Postgres, written in parts on `CONNECTIONS`
    connections sharing one snapshot (see the module docstring); None when the file must
    be written by the single statement or the builder. `runs` is the number of trainee
    runs (by default one per `TRAINEES_PER_RUN` participants, at most `MAX_RUNS`);
    `decoder` receives every part as it arrives; `after_snapshot` is called once the
    snapshot is taken, before any part is written (the tests commit a change there)."""
    with _Snapshot(engine) as first:
        row = first.one(_PLAN_SQL, {"round": round_id})
        if row is None:
            raise NotFound("No such round.")
        max_prefs, dbs_years, participants = row
        header = instance_header(max_prefs, weights, allow_unranked, mode, seed)
        if runs is None:
            runs = max(1, min(MAX_RUNS, participants // TRAINEES_PER_RUN))
        params = {
            "round": round_id,
            "max_prefs": max_prefs,
            "dbs_since": dbs_cutoff(utcnow().date(), dbs_years),
        }
        if after_snapshot is not None:
            after_snapshot()
        with _Writers(engine, first, decoder) as writers:
            # The rest of the file first, on another connection, while this one finds the
            # slots with seats and the runs' bounds; then the runs on both.
            writers.put(("others", 0, params))
            kept = first.one(_KEPT_SQL, params)[0]
            bounds: list[int] = []
            if runs > 1:
                cuts = {"round": round_id, "cuts": [i / runs for i in range(1, runs)]}
                bounds = sorted(set(first.one(_BOUNDS_SQL, cuts)[0] or []))
            edges = [_LOWEST, *bounds, _HIGHEST]
            for i, (lo, hi) in enumerate(pairwise(edges)):
                writers.put(("trainees", i, {**params, "lo": lo, "hi": hi, "kept": kept}))
            results = writers.results()
    return _assemble_parts(header, results)


def _assemble_parts(header: dict[str, Any], results: dict[tuple[str, int], Any]) -> Parts | None:
    others = results["others", 0]
    runs = [results[key] for key in sorted(k for k in results if k[0] == "trainees")]
    if not (others[5] and all(run[4] for run in runs)):
        return None
    if others[6] or any(run[5] for run in runs):
        return None  # the json module's way: see `instance_json`
    left_out = {
        "erased": sum(run[1] for run in runs),
        "incomplete_profile": sum(run[2] for run in runs),
        "unverified_host_slots": others[3],
        "full_slots": others[4],
        "preferences_truncated": sum(run[3] for run in runs),
    }
    arrays = {
        "trainees": [bytes(run[0]) for run in runs],
        "slots": [bytes(others[0])],
        "locked": [bytes(others[1])],
        "excluded": [bytes(others[2])],
    }
    content = write_document(header, arrays)
    if not content.isascii() or b"null" in content:
        return None
    document = InstanceDocument(content, {k: int(v) for k, v in left_out.items() if v})
    return Parts(document, {key: orjson_text(value) for key, value in header.items()})


_Part = tuple[str, int, dict[str, Any]]


class _Writers:
    """`CONNECTIONS` threads writing parts (`put`), each on its own connection in the
    snapshot of `first` (which is one of them once the first part is put); `results`
    hands each row to the decoder as it arrives and returns them all by part."""

    def __init__(self, engine: Engine, first: _Snapshot, decoder: PartsDecoder | None) -> None:
        self._engine = engine
        self._first = first
        self._decoder = decoder
        self._todo: queue.SimpleQueue[_Part | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[tuple[str, int], Any, BaseException | None]] = (
            queue.SimpleQueue()
        )
        self._helpers: list[_Snapshot] = []
        self._threads: list[threading.Thread] = []
        self._put = 0

    def __enter__(self) -> _Writers:
        try:
            for _ in range(CONNECTIONS - 1):
                helper = _Snapshot(self._engine, self._first.snapshot_id)
                self._helpers.append(helper)
                helper.__enter__()
        except BaseException:
            self.__exit__()
            raise
        for helper in self._helpers:
            self._start(helper)
        return self

    def _start(self, snapshot: _Snapshot) -> None:
        thread = threading.Thread(target=self._work, args=(snapshot,), daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self, snapshot: _Snapshot) -> None:
        while (part := self._todo.get()) is not None:
            kind, index, params = part
            try:
                sql = TRAINEES_SQL if kind == "trainees" else OTHERS_SQL
                self._done.put(((kind, index), snapshot.one(sql, params), None))
            except BaseException as exc:  # handed to the caller's thread
                self._done.put(((kind, index), None, exc))
                return

    def put(self, part: _Part) -> None:
        self._todo.put(part)
        self._put += 1

    def results(self) -> dict[tuple[str, int], Any]:
        self._start(self._first)
        for _ in self._threads:
            self._todo.put(None)
        results: dict[tuple[str, int], Any] = {}
        while len(results) < self._put:
            key, row, error = self._done.get()
            if error is not None:
                raise error
            results[key] = row
            if self._decoder is not None and key[0] == "trainees":
                self._decoder.trainees(key[1], bytes(row[0]))
            elif self._decoder is not None:
                self._decoder.others(bytes(row[0]), bytes(row[1]), bytes(row[2]))
        return results

    def __exit__(self, *_exc: object) -> None:
        # On error: no more parts, and every thread told to stop.
        while True:
            try:
                self._todo.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._todo.put(None)
        for thread in self._threads:
            thread.join()
        for helper in self._helpers:
            helper.__exit__(None, None, None)


class _Snapshot:
    """A pooled connection in a read-only REPEATABLE READ transaction: the one exporting
    its snapshot (no `snapshot_id`) or one importing it."""

    def __init__(self, engine: Engine, snapshot_id: str | None = None) -> None:
        self._engine = engine
        self.snapshot_id = snapshot_id
        self._pooled: Any = None

    def __enter__(self) -> _Snapshot:
        import psycopg.sql

        self._pooled = self._engine.raw_connection()
        conn = self._pooled.driver_connection
        try:
            conn.rollback()
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.cursor() as cursor:
                if self.snapshot_id is None:
                    cursor.execute("SELECT pg_export_snapshot()")
                    row = cursor.fetchone()
                    assert row is not None
                    self.snapshot_id = str(row[0])
                else:
                    literal = psycopg.sql.Literal(self.snapshot_id)
                    cursor.execute(psycopg.sql.SQL("SET TRANSACTION SNAPSHOT {}").format(literal))
                cursor.execute(SETTINGS_SQL)
        except BaseException:
            self.__exit__()
            raise
        return self

    def one(self, sql: str, params: Mapping[str, Any]) -> Any:
        with self._pooled.driver_connection.cursor(binary=True) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()

    def __exit__(self, *_exc: object) -> None:
        if self._pooled is None:
            return
        conn = self._pooled.driver_connection
        try:
            conn.rollback()
            conn.isolation_level = None
            conn.read_only = None
        finally:
            self._pooled.close()
            self._pooled = None
