"""The matching engine: exact, explained, national-scale assignment of trainees to slots.

A pure library (numpy, scipy, OR-Tools, msgspec, orjson and the standard library; no Flask,
no database).
It implements "The matching problem" of DESIGN.md and the instance and result files of
API.md.

Public interface
----------------
``load_instance(data: Mapping) -> Instance``
    Validate a decoded `placement-instance/1` document; :class:`InstanceError` (a
    ``ValueError``) names the record and field, e.g. ``trainees[12].level: must be 4 or 5``.
``parse_instance_json(text: str | bytes) -> Instance``
    The same from JSON text (``not valid JSON: ...`` when it is not JSON).
``solve(instance: Instance, *, method: str = "auto") -> Result``
    Most trainees placed, then least total cost, exactly, ties broken by the seeded
    lottery; ``method`` is ``"mcf"`` (OR-Tools min-cost flow), ``"scipy"`` (SciPy
    assignment) or ``"auto"``. With ``instance.mode == "stable"``: the trainee-optimal
    stable matching and its ``lottery``; with ``instance.seat_values``: the exact value of
    one more seat at every slot.
``result_to_dict(result: Result) -> dict`` and ``result_from_dict(data: Mapping) -> Result``
    The `placement-result/1` document, and back.
``explain(instance: Instance, result: Result, trainee_id) -> list[dict]``
    Why each choice ranked above the trainee's outcome was not given.
``components(instance: Instance) -> list[Instance]`` and
``merge_results(instance: Instance, results: list[Result]) -> Result``
    Split into independent parts (for Celery workers) and merge their results; the merge
    equals ``solve(instance)`` apart from ``solve_seconds``.
``run_solve_cli(path: str, stdout: TextIO, stderr: TextIO) -> int``
    ``placement solve INSTANCE.json|-``: 0 on success, 2 on an invalid instance.

``DEFAULT_WEIGHTS`` = preference 1, employer 0.25, skills 2, distance 1. Preference leads;
an employer ranking is worth a few of the trainee's places (its unranked cost is large, so
a quarter of it already spans about four ranks); lacking every required skill costs about
one rank step; travelling the whole allowed distance costs 1, enough to prefer the nearer
of two equal choices, never to override a rank. See :data:`DEFAULT_WEIGHTS`.
"""

from .command import run_solve_cli
from .decoding import parse_instance_json
from .diagnostics import explain
from .instance import (
    DEFAULT_WEIGHTS,
    Instance,
    InstanceError,
    Pair,
    Slot,
    Trainee,
    load_instance,
)
from .partition import components, merge_results
from .result import (
    Assignment,
    Result,
    SeatValue,
    Stats,
    Unplaced,
    result_from_dict,
    result_to_dict,
)
from .solver import solve

__all__ = [
    "DEFAULT_WEIGHTS",
    "Assignment",
    "Instance",
    "InstanceError",
    "Pair",
    "Result",
    "SeatValue",
    "Slot",
    "Stats",
    "Trainee",
    "Unplaced",
    "components",
    "explain",
    "load_instance",
    "merge_results",
    "parse_instance_json",
    "result_from_dict",
    "result_to_dict",
    "run_solve_cli",
    "solve",
]
