"""The tooling gate runs with the suite: ruff (check and format) and mypy stay clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PATHS = ["placement", "workers", "tests", "benchmarks", "migrations"]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("ruff", "check", *PATHS), id="ruff-check"),
        pytest.param(("ruff", "format", "--check", *PATHS), id="ruff-format"),
        pytest.param(("mypy", "placement", "workers"), id="mypy"),
    ],
)
def test_tool_is_clean(command: tuple[str, ...]) -> None:
    existing = [part for part in command if part not in PATHS or (ROOT / part).exists()]
    result = _run(str(BIN / existing[0]), *existing[1:])
    assert result.returncode == 0, result.stdout + result.stderr
