"""Input hardening: bounded JSON on every route (signed in or not), websites only http(s),
HSTS with secure cookies, no Server banner."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from placement.config import Settings
from placement.json_limits import MAX_DEPTH, BoundedJSONProvider
from placement.models import Organisation
from tests.api.conftest import World

API = "/api/v1"
DEEP = "[" * 50_000
HUGE = "9" * 5_000


def _post(
    client: FlaskClient, path: str, body: str, headers: dict[str, str] | None = None
) -> object:
    return client.post(path, data=body, content_type="application/json", headers=headers or {})


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (DEEP, "nested too deeply"),
        ('{"a":' * 40 + "1" + "}" * 40, "nested too deeply"),
        ('{"email": "a@b.test", "password": "x", "n": ' + HUGE + "}", "number"),
        ('{"email": "a@b.test", "password": 0.' + HUGE + "}", "number"),
        ("[" + HUGE + "e5]", "number"),
    ],
    ids=["brackets", "objects", "integer", "fraction", "exponent"],
)
def test_unauthenticated_routes_refuse_unbounded_json(
    client: FlaskClient, body: str, words: str
) -> None:
    for path in (f"{API}/auth/login", f"{API}/auth/register", f"{API}/no-such-route"):
        r = _post(client, path, body)
        assert r.status_code == 400, (path, r.status_code)  # type: ignore[attr-defined]
        assert words in r.get_json()["message"]  # type: ignore[attr-defined]


def test_signed_in_routes_and_pages_refuse_unbounded_json(
    client: FlaskClient, world: World
) -> None:
    coordinator = world.headers("coordinator")
    r = _post(client, f"{API}/rounds", DEEP, coordinator)
    assert r.status_code == 400 and "nested too deeply" in r.get_json()["message"]  # type: ignore[attr-defined]
    r = _post(
        client, f"{API}/rounds", '{"name": "R", "max_preferences": ' + HUGE + "}", coordinator
    )
    assert r.status_code == 400 and "number" in r.get_json()["message"]  # type: ignore[attr-defined]
    # A page that takes a form gets an HTML 400, not a 500.
    r = _post(client, "/sign-in", DEEP)
    assert r.status_code == 400  # type: ignore[attr-defined]


def test_bounded_json_still_parses_ordinary_documents(client: FlaskClient, world: World) -> None:
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    provider = BoundedJSONProvider(client.application)
    assert provider.loads(nested) is not None
    with pytest.raises(ValueError, match="nested too deeply"):
        provider.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(ValueError, match="too long"):
        provider.loads("1" * 101)
    # Brackets and digits inside strings are text, not structure.
    assert provider.loads(f'{{"a": "{DEEP[:5000]}{HUGE}"}}')["a"].startswith("[[[")
    r = client.post(
        f"{API}/rounds",
        json={"name": "Spring [round] {1}", "starts_on": "2027-01-04", "ends_on": "2027-07-02"},
        headers=world.headers("coordinator"),
    )
    assert r.status_code == 201, r.get_json()
    r = client.post(f"{API}/auth/login", json={"email": "who@x.test", "password": "1" * 200})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "website",
    [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example.org",
        "x-labs.example",
        "//x-labs.example",
    ],
)
def test_website_must_be_an_http_url(
    client: FlaskClient, world: World, session: Session, website: str
) -> None:
    r = client.patch(
        f"{API}/organisations/{world.ids['org_x']}",
        json={"website": website},
        headers=world.headers("employer_x"),
    )
    assert r.status_code == 422, r.get_json()
    assert "https:// or http://" in r.get_json()["errors"]["website"][0]
    org = session.exec(select(Organisation).where(Organisation.id == world.ids["org_x"])).one()
    assert org.website != website


def test_http_and_https_websites_are_accepted(client: FlaskClient, world: World) -> None:
    for website in ("https://x-labs.example/careers?x=1", "http://x-labs.example"):
        r = client.patch(
            f"{API}/organisations/{world.ids['org_x']}",
            json={"website": website},
            headers=world.headers("employer_x"),
        )
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["website"] == website


def test_hsts_only_with_secure_cookies(
    client: FlaskClient, connection: object, tmp_path: Path
) -> None:
    from placement import create_app

    r = client.get("/healthz")
    assert "Strict-Transport-Security" not in r.headers
    assert "Server" not in r.headers
    settings = Settings.from_env(
        {
            "DATABASE_URL": "sqlite:///" + str(tmp_path / "unused.sqlite"),
            "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
            "SESSION_COOKIE_SECURE": "1",
        }
    )
    secure = create_app(settings, bind=connection).test_client()  # type: ignore[arg-type]
    for path in ("/healthz", f"{API}/auth/login", "/sign-in"):
        r = secure.get(path)
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")
        assert "Server" not in r.headers
