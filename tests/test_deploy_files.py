"""No Docker engine runs here: parse the compose file and the Dockerfile and check them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_has_the_six_services() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"


def test_redis_keeps_its_queue() -> None:
    command = _compose()["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_app_services_run_the_placement_commands() -> None:
    services = _compose()["services"]
    assert services["migrate"]["command"] == ["placement", "migrate"]
    assert services["web"]["command"][:2] == ["placement", "serve"]
    assert services["worker"]["command"][:2] == ["placement", "worker"]
    assert services["beat"]["command"] == ["placement", "beat"]
    assert services["migrate"]["restart"] == "no"
    for name in ("migrate", "web", "worker", "beat"):
        service = services[name]
        assert service["build"] == "."
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_dependencies_and_healthchecks() -> None:
    services = _compose()["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["redis"] == {"condition": "service_healthy"}
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert services[name]["healthcheck"]["test"], name
    assert "5000:5000" in services["web"]["ports"]


def test_named_volumes_are_declared_and_used() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    used = {
        volume.split(":", 1)[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
    }
    assert used == declared == {"pgdata", "redisdata"}


def test_every_dependency_names_a_service() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_dockerfile_builds_the_package_and_runs_unprivileged() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", text, re.M)
    for needed in ("pyproject.toml", "placement", "workers", "migrations", "alembic.ini"):
        assert needed in text
    assert re.search(r"^USER placement$", text, re.M)
    assert '"placement", "serve"' in text
