"""The `placement` command, run as a real subprocess on each database."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyotp
import pytest
from sqlmodel import Session, select

from placement import encryption
from placement.auth import verify_password
from placement.config import Settings
from placement.db import make_engine
from placement.models import User
from tests.conftest import ROOT, Backend, service_env


def placement(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "placement.cli", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(committed_backend: Backend, tmp_path: Path) -> dict[str, str]:
    return service_env(committed_backend.url, tmp_path / "instance")


def test_migrate_is_repeatable(env: dict[str, str]) -> None:
    for _ in range(2):
        result = placement(env, "migrate")
        assert result.returncode == 0, result.stderr
        assert "latest migration" in result.stdout


def test_create_user_with_prompted_password(
    env: dict[str, str], committed_backend: Backend
) -> None:
    result = placement(
        env,
        "create-user",
        "--role",
        "coordinator",
        "--email",
        "Chief@Example.test",
        "--name",
        "Chief Coordinator",
        stdin="a-long-secret-9\na-long-secret-9\n",
    )
    assert result.returncode == 0, result.stderr
    engine = make_engine(committed_backend.url)
    with Session(engine) as session:
        user = session.exec(select(User).where(User.email == "chief@example.test")).one()
    engine.dispose()
    assert user.role == "coordinator"
    assert verify_password(user.password_hash, "a-long-secret-9")


def test_create_user_with_mfa_prints_an_enrolment_uri(
    env: dict[str, str], committed_backend: Backend
) -> None:
    result = placement(
        env,
        "create-user",
        "--role",
        "coordinator",
        "--email",
        "second@example.test",
        "--name",
        "Second Coordinator",
        "--password",
        "a-long-secret-9",
        "--mfa",
    )
    assert result.returncode == 0, result.stderr
    uri = next(line for line in result.stdout.splitlines() if line.startswith("otpauth://"))
    assert "issuer=Placement" in uri and "second%40example.test" in uri
    codes = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(codes) == 10
    engine = make_engine(committed_backend.url)
    with Session(engine) as session:
        user = session.exec(select(User).where(User.email == "second@example.test")).one()
    engine.dispose()
    assert user.mfa_enabled and user.email_verified_at is not None
    secret = pyotp.parse_uri(uri).secret
    # Stored encrypted, under the key derived from SECRET_KEY (no PLACEMENT_ENCRYPTION_KEY).
    assert user.mfa_secret is not None and secret not in user.mfa_secret
    old_keys = Settings.from_env(env).encryption_keys
    assert encryption.decrypt(old_keys, user.mfa_secret) == secret

    # Rotation: a new key first, the old one (SECRET_KEY) after it, then re-encrypt.
    rotating = {**env, "PLACEMENT_ENCRYPTION_KEY": f"a-new-key-of-2026, {env['SECRET_KEY']}"}
    result = placement(rotating, "rotate-encryption-key")
    assert result.returncode == 0, result.stderr
    assert "1 account(s)" in result.stdout
    engine = make_engine(committed_backend.url)
    with Session(engine) as session:
        rotated = session.exec(select(User).where(User.email == "second@example.test")).one()
    engine.dispose()
    assert rotated.mfa_secret is not None and rotated.mfa_secret != user.mfa_secret
    assert encryption.decrypt(("a-new-key-of-2026",), rotated.mfa_secret) == secret
    with pytest.raises(encryption.SecretUnreadable):
        encryption.decrypt(old_keys, rotated.mfa_secret)

    # A list without the key the secrets were stored with: a clear refusal, nothing changed.
    wrong = placement({**env, "PLACEMENT_ENCRYPTION_KEY": "not-the-key"}, "rotate-encryption-key")
    assert wrong.returncode == 1
    assert "opens with none of the keys" in wrong.stderr and "Traceback" not in wrong.stderr


def test_create_user_rejects_bad_input_and_duplicates(env: dict[str, str]) -> None:
    weak = placement(
        env,
        "create-user",
        "--role",
        "employer",
        "--email",
        "e@example.test",
        "--name",
        "E",
        "--password",
        "password",
    )
    assert weak.returncode == 2
    assert "password" in weak.stderr and "Traceback" not in weak.stderr
    args = ("create-user", "--role", "employer", "--email", "e@example.test", "--name", "E")
    assert placement(env, *args, "--password", "correct-horse-7").returncode == 0
    again = placement(env, *args, "--password", "correct-horse-7")
    assert again.returncode == 2
    assert "already registered" in again.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_gunicorn_and_answers_healthz(env: dict[str, str], tmp_path: Path) -> None:
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "placement.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        body = None
        headers: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    body = json.load(r)
                    headers = {k.lower(): v for k, v in r.headers.items()}
            except OSError:
                time.sleep(0.3)
        assert body == {"status": "ok", "database": "ok", "broker": "ok"}
        # No banner naming the server and its version.
        assert "server" not in headers, headers
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    assert "gunicorn" in (tmp_path / "serve.log").read_text().lower()


INSTANCE = {
    "format": "placement-instance/1",
    "max_preferences": 10,
    "weights": {"preference": 1, "employer": 0, "skills": 0, "distance": 0},
    "allow_unranked": False,
    "trainees": [
        {
            "id": "t1",
            "level": 4,
            "skills": ["pipetting"],
            "latitude": 52.48,
            "longitude": -1.89,
            "max_travel_km": 40,
            "available_from": "2027-01-04",
            "available_to": "2027-07-02",
            "dbs_cleared": True,
            "preferences": ["s2", "s1"],
        },
        {
            "id": "t2",
            "level": 4,
            "skills": [],
            "latitude": 52.48,
            "longitude": -1.89,
            "max_travel_km": 40,
            "available_from": "2027-01-04",
            "available_to": "2027-07-02",
            "dbs_cleared": False,
            "preferences": ["s2"],
        },
    ],
    "slots": [
        {
            "id": sid,
            "capacity": 1,
            "min_level": 4,
            "required_skills": ["pipetting"],
            "latitude": 52.45,
            "longitude": -1.93,
            "remote": False,
            "requires_dbs": dbs,
            "starts_on": "2027-02-01",
            "ends_on": "2027-05-28",
            "rankings": [],
        }
        for sid, dbs in (("s1", False), ("s2", True))
    ],
    "locked": [],
    "excluded": [],
}


def test_solve_reads_stdin_and_prints_the_result(tmp_path: Path) -> None:
    env = service_env(f"sqlite:///{tmp_path / 'unused.sqlite'}", tmp_path / "instance")
    result = placement(env, "solve", "-", stdin=json.dumps(INSTANCE))
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["format"] == "placement-result/1"
    assert [(a["trainee_id"], a["slot_id"], a["rank"]) for a in body["assignments"]] == [
        ("t1", "s2", 1)
    ]
    assert body["unplaced"] == [{"trainee_id": "t2", "reason": "no_eligible_slot"}]
    assert not (tmp_path / "unused.sqlite").exists()  # no database was touched


def test_solve_rejects_an_invalid_instance_with_one_line(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(INSTANCE))
    bad["trainees"][1]["level"] = 3
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    env = service_env(f"sqlite:///{tmp_path / 'unused.sqlite'}", tmp_path / "instance")
    result = placement(env, "solve", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "trainees[1].level" in result.stderr
    assert "Traceback" not in result.stderr
