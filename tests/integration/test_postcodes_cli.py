"""`placement load-postcodes` as a real subprocess on each database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from placement.db import make_engine
from placement.models import Postcode, Trainee
from tests.conftest import Backend, service_env
from tests.integration.test_cli import placement
from tests.postcodes_support import ONSPD_HEADER, onspd_row, onspd_text


@pytest.fixture
def env(committed_backend: Backend, tmp_path: Path) -> dict[str, str]:
    return service_env(committed_backend.url, tmp_path / "instance")


def _postcodes(backend: Backend) -> dict[str, tuple[float, float]]:
    engine = make_engine(backend.url)
    try:
        with Session(engine) as session:
            rows = session.exec(select(Postcode)).all()
            assert session.exec(select(func.count()).select_from(Postcode)).one() == len(rows)
            return {r.postcode: (r.latitude, r.longitude) for r in rows}
    finally:
        engine.dispose()


def test_load_postcodes_twice_and_refuse_a_bad_header(
    env: dict[str, str],
    committed_backend: Backend,
    tmp_path: Path,
) -> None:
    onspd = tmp_path / "ONSPD_NOV_2025_UK.csv"
    onspd.write_text(
        onspd_text(
            onspd_row("B15 2TT", 52.450714, -1.930513),
            onspd_row("B29 6BD", 52.4401, -1.9368, doterm="202003"),
            onspd_row("B99 9ZZ", "99.999999", "0.000000"),
        ),
        newline="",
    )
    engine = make_engine(committed_backend.url)
    with Session(engine) as session:
        session.add(Trainee(name="Saved Before", postcode="B29 6BD"))
        session.commit()
    for attempt in range(2):
        result = placement(env, "load-postcodes", str(onspd), "--batch-size", "1")
        assert result.returncode == 0, result.stderr
        assert "loaded 2 postcodes; skipped 1 without a grid reference" in result.stdout
        filled = "filled in coordinates for 1 trainee(s) or host(s)" in result.stdout
        assert filled == (attempt == 0)
    with Session(engine) as session:
        saved = session.exec(select(Trainee)).one()
        assert (saved.latitude, saved.longitude) == (52.4401, -1.9368)
    engine.dispose()
    assert _postcodes(committed_backend) == {
        "B15 2TT": (52.450714, -1.930513),
        "B29 6BD": (52.4401, -1.9368),
    }

    bad = tmp_path / "not_onspd.csv"
    bad.write_text(ONSPD_HEADER.replace('"lat","long"', '"x","y"') + "\r\n", newline="")
    result = placement(env, "load-postcodes", str(bad))
    assert result.returncode == 2
    assert "ONS Postcode Directory" in result.stderr and "lat, long" in result.stderr
    assert "columns: missing: lat; missing: long" in result.stderr
    result = placement(env, "load-postcodes", str(tmp_path / "missing.csv"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_seed_demo_loads_the_demo_postcodes(
    env: dict[str, str],
    committed_backend: Backend,
) -> None:
    result = placement(env, "migrate")
    assert result.returncode == 0, result.stderr
    result = placement(env, "seed-demo")
    assert result.returncode == 0, result.stderr
    known = _postcodes(committed_backend)
    assert known["B23 6QT"] == (52.5241, -1.8362)  # the demo trainee's home
    assert known["B7 4BB"] == (52.4895, -1.8855)  # Tame Valley Test Laboratories
