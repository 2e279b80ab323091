"""Property-based fuzzing of every operation in the OpenAPI document (schemathesis), as each
kind of caller, with valid and invalid inputs: no input may cause a server error.

Fixed seed (derandomized Hypothesis) and a bounded number of examples per operation, role and
mode keep it repeatable and around a minute per database. Anonymous callers are left to
the authorisation matrix: they never get past authentication.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.api.conftest import ROLES, World, build_world

MAX_EXAMPLES = 5
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _known_ids(world: World) -> dict[str, list[int]]:
    ids = world.ids
    return {
        "round_id": [ids["round"], ids["draft"], ids["closed"], ids["published"]],
        "slot_id": [ids["slot_x"], ids["slot_y"], ids["closed_slot_x"]],
        "organisation_id": [ids["org_x"], ids["org_y"], ids["org_u"]],
        "trainee_id": [ids["trainee_a"], ids["trainee_b"]],
        "run_id": [ids["run"]],
        "proposal_id": [ids["proposal_a"], ids["proposal_b"]],
        "placement_id": [ids["placement"], ids["published_placement"]],
    }


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    known: dict[str, list[int]],
    connection: Any,
    statuses: Counter[int],
) -> list[str]:
    """Run one operation for one caller and mode; the server errors it met."""
    failures: list[str] = []
    path_names = [p.name for p in operation.path_parameters]
    positive = mode is GenerationMode.POSITIVE

    @SETTINGS
    @hypothesis.given(
        case=operation.as_strategy(generation_mode=mode),
        pick=st.integers(min_value=0, max_value=3),
    )
    def check(case: Any, pick: int) -> None:
        # Valid inputs aim at objects that exist; invalid ones keep their random ids.
        if positive:
            for name in path_names:
                choices = known.get(name)
                if choices:
                    case.path_parameters[name] = choices[pick % len(choices)]
        # Each call runs in a savepoint rolled back after it: a logout or an erasure must
        # not disarm the calls that follow.
        savepoint = connection.begin_nested()
        try:
            response = case.call(headers=headers)
        finally:
            savepoint.rollback()
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: {case.body!r:.200}"
            )

    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        check()
    return failures


def test_no_input_causes_a_server_error(app: Any, session: Any, connection: Any) -> None:
    world = build_world(session)
    known = _known_ids(world)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    for operation, role, mode in itertools.product(
        operations, ROLES[1:], (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ):
        found = _fuzz(operation, mode, world.headers(role), known, connection, statuses)
        failures.extend(f"as {role}: {failure}" for failure in found)
    assert failures == []
    # The fuzzing got past authentication and validation into the services.
    assert sum(n for code, n in statuses.items() if code < 300) > 50
    assert statuses[422] > 50 and statuses[404] > 0


@pytest.mark.parametrize("role", ROLES)
def test_openapi_document_is_valid_for_schemathesis(app: Any, role: str) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 45
