"""Match runs: start one, run it in a worker, read its proposals and explanations.

reading        start a run; read runs, proposals and unplaced trainees
stored         the instance file a run solved, stored on the run
explanations   why a trainee got what they got in a run
claims         claims, heartbeats, failing and re-enqueuing runs (recovery)
execution      the task bodies: execute a run, fan its components out, merge them

The names below are re-exported for callers that want one import.
"""

from placement.services.runs.claims import MAX_ATTEMPTS, Claim, LostClaim, reconcile
from placement.services.runs.execution import (
    FANOUT_ENV,
    SLOW_WRITE_ENV,
    FanOut,
    SolverFailure,
    execute_run,
    finish_components,
    plan_fanout,
    solve_components,
)
from placement.services.runs.explanations import (
    explain_proposal,
    explain_trainee,
    my_outcome,
    run_explanation,
)
from placement.services.runs.reading import (
    get_run,
    list_proposals,
    list_runs,
    list_seat_values,
    list_unplaced,
    start_run,
    start_runs,
)
from placement.services.runs.stored import (
    InstanceFile,
    canonical_instance,
    pack_instance,
    run_instance,
    run_instance_file,
    stored_instance,
)

__all__ = [
    "FANOUT_ENV",
    "MAX_ATTEMPTS",
    "SLOW_WRITE_ENV",
    "Claim",
    "FanOut",
    "InstanceFile",
    "LostClaim",
    "SolverFailure",
    "canonical_instance",
    "execute_run",
    "explain_proposal",
    "explain_trainee",
    "finish_components",
    "get_run",
    "list_proposals",
    "list_runs",
    "list_seat_values",
    "list_unplaced",
    "my_outcome",
    "pack_instance",
    "plan_fanout",
    "reconcile",
    "run_explanation",
    "run_instance",
    "run_instance_file",
    "solve_components",
    "start_run",
    "start_runs",
    "stored_instance",
]
