"""The hot routes build their JSON directly: it must be exactly what their documented
schemas dump (the OpenAPI document still names those schemas)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from placement.api import accounts as accounts_api
from placement.api import preferences as preferences_api
from placement.services.accounts import Me
from placement.services.preferences import Preferences

WHEN = datetime(2026, 12, 2, 14, 0, 5, 123456, tzinfo=UTC)


def _same(rendered: Any, schema_dump: dict[str, Any]) -> None:
    body = json.loads(rendered.get_data())
    assert body == schema_dump
    assert {k: type(v) for k, v in body.items()} == {k: type(v) for k, v in schema_dump.items()}


@pytest.mark.parametrize(
    "found",
    [
        Preferences(round_id=3, slot_ids=[], updated_at=None, warnings=[]),
        Preferences(
            round_id=3,
            slot_ids=[9, 4, 7],
            updated_at=WHEN,
            warnings=[{"slot_id": 4, "message": "It needs level 5; you are level 4."}],
        ),
    ],
)
def test_preferences_json_is_the_schema_dump(found: Preferences) -> None:
    with Flask(__name__).app_context():
        rendered = preferences_api._render(found)
    _same(rendered, preferences_api.PreferencesSchema().dump(found))


@pytest.mark.parametrize("trainee_id,org_id,mfa", [(12, None, False), (None, 5, True)])
def test_me_json_is_the_schema_dump(trainee_id: int | None, org_id: int | None, mfa: bool) -> None:
    me = Me(
        id=1,
        email="ann@example.org",
        name="Ann Ng",
        role="trainee",
        trainee_id=trainee_id,
        organisation_id=org_id,
        mfa_enabled=mfa,
    )
    with Flask(__name__).app_context():
        rendered = accounts_api.render_me(me)
    _same(rendered, accounts_api.MeSchema().dump(me))


@pytest.mark.parametrize(
    "slot_ids",
    [
        [],
        [1, 2, 3],
        [2**31 - 1],
        list(range(1, 51)),
        list(range(1, 52)),
        [0],
        [-3],
        [2**31],
        [True],
        [1.0],
        ["1"],
        [None],
        [[1]],
        "1,2",
        None,
        {"a": 1},
    ],
)
def test_fast_slot_ids_take_only_what_the_schema_loads_unchanged(slot_ids: Any) -> None:
    """The PUT's fast path skips PreferencesArgsSchema only for lists it would load as they
    are; everything else goes to the schema for its 422 messages."""
    schema = preferences_api.PreferencesArgsSchema()
    errors = schema.validate({"slot_ids": slot_ids})
    if preferences_api._valid_slot_ids(slot_ids):
        assert errors == {}
        assert schema.load({"slot_ids": slot_ids}) == {"slot_ids": slot_ids}
    else:
        assert errors
