"""Runs take an optional name (API.md: POST /rounds/{round_id}/runs {name?, ...})."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import World, call

API = "/api/v1"


def test_a_run_carries_its_name_and_an_unnamed_run_an_empty_one(client: Any, world: World) -> None:
    url = f"{API}/rounds/{world.ids['closed']}/runs"
    named = call(client, world, "coordinator", "POST", url, json={"name": "  More travel  "})
    assert named.status_code == 202, named.json
    assert named.json["name"] == "More travel"
    fetched = call(client, world, "coordinator", "GET", f"{API}/runs/{named.json['id']}")
    assert fetched.json["name"] == "More travel"
    unnamed = call(client, world, "coordinator", "POST", url, json={})
    assert unnamed.status_code == 202 and unnamed.json["name"] == ""
    too_long = call(client, world, "coordinator", "POST", url, json={"name": "x" * 101})
    assert too_long.status_code == 422
    assert "name" in str(too_long.json)
