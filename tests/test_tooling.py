"""The tooling gate runs with the suite: ruff (check and format), mypy and the import
contracts (`lint-imports`, configured under [tool.importlinter] in pyproject.toml) stay
clean."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PATHS = ["placement", "workers", "tests", "benchmarks", "migrations"]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    # This checkout's packages first, whatever the virtualenv has installed.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("ruff", "check", *PATHS), id="ruff-check"),
        pytest.param(("ruff", "format", "--check", *PATHS), id="ruff-format"),
        pytest.param(("mypy", "placement", "workers"), id="mypy"),
        # No cache directory left behind in the checkout.
        pytest.param(("lint-imports", "--no-cache"), id="lint-imports"),
    ],
)
def test_tool_is_clean(command: tuple[str, ...]) -> None:
    existing = [part for part in command if part not in PATHS or (ROOT / part).exists()]
    result = _run(str(BIN / existing[0]), *existing[1:])
    assert result.returncode == 0, result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _reset_interrupt() -> None:
    # As a terminal starts it: Ctrl-C not ignored, whatever the test runner does with it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_run_demo_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """`make run`'s script: Ctrl-C to its process group stops the server and the worker,
    waits for them and exits 0 (it used to end in "Segmentation fault" from make)."""
    from placement import migrate

    instance = tmp_path / "instance"
    instance.mkdir()
    migrate.upgrade(f"sqlite:///{instance / 'placement.sqlite'}")
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(
        BIN=str(BIN),
        PORT=str(port),
        PLACEMENT_INSTANCE_DIR=str(instance),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    demo = subprocess.Popen(
        [str(ROOT / "scripts" / "run-demo.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_reset_interrupt,
    )
    try:
        deadline = time.monotonic() + 90
        while not _healthy(port):
            assert demo.poll() is None, "run-demo.sh ended before serving"
            assert time.monotonic() < deadline, "no /healthz after 90 s"
            time.sleep(0.5)
        os.killpg(demo.pid, signal.SIGINT)
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:  # the script's TERM trap stops its children too
            os.killpg(demo.pid, signal.SIGTERM)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    text = output.decode(errors="replace")
    assert demo.returncode == 0, text
    assert "Placement has stopped." in text
    assert "Segmentation fault" not in text
    assert not _healthy(port)


def test_every_module_has_a_layer() -> None:
    """A new top-level module of `placement` must be placed in the layers contract, or
    `lint-imports` would not check its imports at all."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    placed = {
        name.strip().strip("()") for layer in layers for name in layer.replace("|", ":").split(":")
    }
    package = ROOT / "placement"
    modules = {f"placement.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {f"placement.{p.parent.name}" for p in package.glob("*/__init__.py")}
    assert modules - placed == set()
