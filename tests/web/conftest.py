"""Browser fixtures: the real app served over HTTP on a migrated database, headless
Chromium driven by Playwright, axe-core for accessibility, screenshots per page.

Chromium comes from Debian (`/usr/bin/chromium`); Playwright's own browser download does not
work here. Without it the browser tests are skipped, except with CI=true, where they fail.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from placement import create_app, migrate
from placement.config import Settings
from placement.db import session_scope
from tests.conftest import CI, ROOT, create_postgres_database, require, truncate_all
from tests.postcodes_support import load_demo_postcodes

CHROMIUM = os.environ.get("PLACEMENT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NODE_DIR = Path(__file__).resolve().parent / ".node"
AXE_JS = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}


def _unavailable(reason: str) -> None:
    if CI:
        pytest.fail(f"CI=true and the browser tests are mandatory: {reason}")
    pytest.skip(reason)


# --- the server ----------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    settings: Settings
    env: dict[str, str]

    def __call__(self, path: str = "/") -> str:
        return self.url + path


def _database_url(tmp: Path) -> str:
    if os.environ.get("TEST_BROWSER_BACKEND", "sqlite") == "postgres":
        require("postgres")
        return create_postgres_database("browser")
    return f"sqlite:///{tmp / 'browser.sqlite'}"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`placement serve` equivalent: the real app in a threaded WSGI server."""
    from tests.conftest import service_env

    tmp = tmp_path_factory.mktemp("browser")
    url = _database_url(tmp)
    migrate.upgrade(url)
    env = service_env(url, tmp / "instance")
    # Every test signs in from 127.0.0.1; the real limit is exercised by the API tests.
    env["PLACEMENT_LOGIN_RATE_LIMIT"] = "1000 per minute"
    settings = Settings.from_env(env)
    with session_scope(settings) as session:
        load_demo_postcodes(session)  # people on these pages type the demo's postcodes
    app = create_app(settings)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", settings, env)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        if not url.startswith("sqlite"):
            truncate_all(url)


# --- the browser ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the dev extra installs it
        _unavailable("the playwright package is not installed")
    from playwright.sync_api import expect

    # Web-first assertions wait as long as actions do: a loaded CI machine is slow.
    expect.set_options(timeout=15_000)
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    ctx = browser.new_context(base_url=live_server.url, viewport=DESKTOP, locale="en-GB")
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    assert not errors, f"JavaScript errors on the page: {errors}"


# --- axe-core ------------------------------------------------------------------------


def ensure_axe() -> Path:
    """axe-core from the npm registry, installed once into tests/web/.node (gitignored)."""
    if AXE_JS.exists():
        return AXE_JS
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed, so axe-core cannot be fetched")
        raise AssertionError("unreachable")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    # Two xdist workers may get here together: one installs, the other waits.
    with (NODE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not AXE_JS.exists():
            result = subprocess.run(
                [
                    npm,
                    "install",
                    "--no-save",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                    str(NODE_DIR),
                    "axe-core@4",
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if result.returncode != 0 or not AXE_JS.exists():
                _unavailable(f"npm install axe-core failed: {result.stderr[-500:]}")
    return AXE_JS


@pytest.fixture(scope="session")
def axe_source() -> str:
    return ensure_axe().read_text()


SERIOUS = {"serious", "critical"}


@pytest.fixture
def check_a11y(axe_source: str) -> Any:
    """Run axe on the page as it is; fail on any serious or critical violation."""

    def run(page: Any, label: str) -> None:
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            # Evaluated through the DevTools protocol, so the page's strict CSP stays on
            # (and would still catch an inline script or style of our own).
            page.evaluate(axe_source + "\n;undefined")
        results = page.evaluate(
            """async () => await window.axe.run(document, {
                   runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                                    'wcag22aa', 'best-practice']}})"""
        )
        bad = [v for v in results["violations"] if v.get("impact") in SERIOUS]
        summary = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(n.get("target")) for n in v["nodes"][:5])
            for v in bad
        ]
        assert not bad, f"axe found serious problems on {label}:\n" + "\n".join(summary)

    return run


@pytest.fixture
def shoot() -> Any:
    """Screenshots of the page at desktop and phone width, kept under test-artifacts/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def run(page: Any, name: str) -> None:
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
            if label == "phone":
                # Usable at 360 px: nothing pushes the page wider than the screen.
                overflow = page.evaluate(
                    "() => document.documentElement.scrollWidth - window.innerWidth"
                )
                wide = page.evaluate(
                    """() => Array.from(document.querySelectorAll('body *'))
                        .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
                        .slice(0, 5)
                        .map(el => el.tagName + '.' + el.className + '#' + el.id)"""
                )
                assert overflow <= 1, f"{name} is {overflow}px wider than a 360px screen: {wide}"
        page.set_viewport_size(DESKTOP)

    return run
