"""Personal data (export, erasure, audit), security headers, the OpenAPI document and docs."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from sqlmodel import Session, select

from placement.models import ApiToken, AuditEvent, Placement, Preference, Trainee, User
from tests.api.conftest import World

API = "/api/v1"


def test_export_holds_everything_about_the_trainee(client: FlaskClient, world: World) -> None:
    r = client.get(f"{API}/trainees/me/export", headers=world.headers("trainee_a"))
    assert r.status_code == 200
    data = r.get_json()
    assert data["account"]["email"] == world.users["trainee_a"].email
    assert "password_hash" not in data["account"]
    assert data["profile"]["id"] == world.ids["trainee_a"]
    assert data["profile"]["dbs_cleared"] is True
    assert {p["slot_id"] for p in data["preferences"]} == {
        world.ids["slot_x"],
        world.ids["closed_slot_x"],
    }
    assert data["proposals"] and data["placements"] and data["rounds"]
    assert all("token_hash" not in t for t in data["api_tokens"])
    assert r.headers["Cache-Control"] == "no-store"
    # Nothing of trainee B's.
    assert world.users["trainee_b"].email not in json.dumps(data)


def test_export_says_what_staff_did_about_the_trainee(client: FlaskClient, world: World) -> None:
    coordinator = world.headers("coordinator")
    proposal = world.ids["proposal_a"]
    r = client.post(f"{API}/proposals/{proposal}/approve", headers=coordinator)
    assert r.status_code == 200
    other = world.ids["proposal_b"]  # trainee B's: not A's business
    assert (
        client.post(
            f"{API}/proposals/{other}/reject", json={"reason": "No"}, headers=coordinator
        ).status_code
        == 200
    )
    data = client.get(f"{API}/trainees/me/export", headers=world.headers("trainee_a")).get_json()
    about = data["about_you"]
    assert [(e["action"], e["object_id"]) for e in about] == [("proposal.approve", str(proposal))]
    assert "actor_id" not in about[0] and "ip" not in about[0]


def test_erasure_removes_personal_fields_keeps_history(
    client: FlaskClient, world: World, session: Session
) -> None:
    tid = world.ids["trainee_b"]
    email = world.users["trainee_b"].email
    r = client.delete(f"{API}/trainees/{tid}", headers=world.headers("coordinator"))
    assert r.status_code == 204
    trainee = session.get(Trainee, tid)
    session.refresh(trainee)
    assert trainee is not None
    assert trainee.email is None and trainee.name == "Erased trainee"
    assert trainee.latitude is None and trainee.postcode is None and trainee.needs == ""
    assert trainee.user_id is None and trainee.erased_at is not None
    assert session.exec(select(User).where(User.email == email)).first() is None
    assert (
        session.exec(
            select(ApiToken).where(ApiToken.user_id == world.users["trainee_b"].id)
        ).first()
        is None
    )
    # The match history stays, attached to the anonymised record.
    assert session.exec(select(Placement).where(Placement.trainee_id == tid)).first()
    assert session.exec(select(Preference).where(Preference.trainee_id == tid)).first()
    # Their old token no longer works; the erasure is audited.
    assert client.get(f"{API}/me", headers=world.headers("trainee_b")).status_code == 401
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "trainee.erase")).first()
    r = client.get(f"{API}/trainees/{tid}", headers=world.headers("coordinator"))
    assert r.get_json()["erased_at"]
    assert email not in r.get_data(as_text=True)


def test_audit_log_records_decisions_and_denials(client: FlaskClient, world: World) -> None:
    client.post(f"{API}/rounds", json={"name": "x"}, headers=world.headers("trainee_a"))
    client.post(f"{API}/auth/login", json={"email": "who@x.test", "password": "wrong-password"})
    client.post(
        f"{API}/proposals/{world.ids['proposal_a']}/approve", headers=world.headers("coordinator")
    )
    r = client.get(f"{API}/audit?per_page=100", headers=world.headers("coordinator"))
    assert r.status_code == 200
    actions = [e["action"] for e in r.get_json()["items"]]
    assert {"request.deny", "login.fail", "proposal.approve"} <= set(actions)
    denied = next(e for e in r.get_json()["items"] if e["action"] == "request.deny")
    assert denied["actor_id"] == world.users["trainee_a"].id
    assert denied["detail"]["path"] == f"{API}/rounds"
    r = client.get(f"{API}/audit?action=login.fail", headers=world.headers("coordinator"))
    assert {e["action"] for e in r.get_json()["items"]} == {"login.fail"}


def test_security_headers_everywhere(client: FlaskClient, world: World) -> None:
    for path, headers in (
        (f"{API}/me", world.headers("trainee_a")),
        (f"{API}/me", {}),
        (f"{API}/openapi.json", {}),
        ("/healthz", {}),
        (f"{API}/nope", {}),
    ):
        r = client.get(path, headers=headers)
        assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"]
        if path.startswith("/api"):
            assert r.headers["Cache-Control"] == "no-store"


def test_openapi_document_describes_every_route(client: FlaskClient, app: object) -> None:
    spec = client.get(f"{API}/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    paths = spec["paths"]
    for rule in app.url_map.iter_rules():  # type: ignore[attr-defined]
        if not rule.rule.startswith(f"{API}/") or rule.rule.endswith("openapi.json"):
            continue
        path = rule.rule.replace("<id:", "{").replace(">", "}")
        assert path in paths, path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = paths[path][method.lower()]
            assert operation.get("summary"), (path, method)
            codes = set(operation["responses"])
            assert any(c.startswith("2") for c in codes), (path, method)
            if operation.get("security") != []:
                assert "401" in codes, (path, method)
    public = {
        path
        for path, ops in paths.items()
        for op in ops.values()
        if isinstance(op, dict) and op.get("security") == []
    }
    assert public == {
        f"{API}/auth/{name}"
        for name in ("register", "verify", "login", "password-reset", "password-reset/confirm")
    }
    register = paths[f"{API}/auth/register"]["post"]
    assert "202" in register["responses"] and "422" in register["responses"]
    assert "429" in register["responses"]


def test_docs_page_served_offline_without_inline_script(client: FlaskClient) -> None:
    r = client.get("/api/docs")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "<script>" not in html  # every script has a src: no inline code for the CSP
    assert "/static/swagger-ui/swagger-ui-bundle.js" in html
    csp = r.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "unsafe-inline" not in csp
    for asset in (
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-ui.css",
        "init.js",
    ):
        response = client.get(f"/static/swagger-ui/{asset}")
        assert response.status_code == 200, asset
        response.close()
