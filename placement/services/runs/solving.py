"""The engine calls of a run, each turning an engine error into `SolverFailure` (the run
fails at once: retrying would give the same answer)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from placement.matching import Instance, Result, components, solve
from placement.matching.prepared import prepare_mode, recall_solve
from placement.matching.seat_values import seat_values


class SolverFailure(Exception):
    """The instance is invalid or the engine failed: retrying would fail the same way."""


def solve_instance(instance: Instance) -> Result:
    """The engine's result for `instance`."""
    try:
        return solve(instance)
    except Exception as exc:
        raise SolverFailure(f"solver error: {exc.__class__.__name__}: {exc}") from exc


def with_seat_values(instance: Instance, result: Result) -> Result:
    """The result with the seat values its instance would have asked `solve` for: from the
    arrays and optimal potentials the solve kept (`matching.prepared.recall_solve`)."""
    try:
        kept = recall_solve(instance)
        prep, pot = kept if kept is not None else (prepare_mode(instance), None)
        t_index = {t.id: i for i, t in enumerate(instance.trainees)}
        s_index = {s.id: i for i, s in enumerate(instance.slots)}
        slot_of = np.full(len(instance.trainees), -1, dtype=np.int64)
        for a in result.assignments:
            slot_of[t_index[a.trainee_id]] = s_index[a.slot_id]
        return replace(result, seat_values=seat_values(prep, slot_of, pot))
    except Exception as exc:
        raise SolverFailure(f"solver error: {exc.__class__.__name__}: {exc}") from exc


def split_components(instance: Instance) -> list[Instance]:
    """The independent pieces of `instance` (trainees and slots no candidate pair joins)."""
    try:
        return list(components(instance))
    except Exception as exc:
        raise SolverFailure(f"solver error: {exc.__class__.__name__}: {exc}") from exc
