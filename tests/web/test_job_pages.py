"""A large import from the coordinator's page runs as a background job: the page shows a
progress bar (polled by a small script; a meta refresh without it), then the result: the
counts, or a failed import's row-numbered problems. "Large" is lowered to 3 rows here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from placement import create_app, migrate
from placement.config import Settings
from placement.db import session_scope
from tests import factories as f
from tests.conftest import service_env
from tests.web.conftest import DESKTOP, LiveServer
from tests.web.helpers import account, sign_in, unique_email

pytestmark = [pytest.mark.browser]

HEADER = "name,email,level,provider"


@pytest.fixture
def small_jobs_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The app served with a background threshold of 3 rows, on its own database."""
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    migrate.upgrade(url)
    env = service_env(url, tmp_path / "instance")
    env["PLACEMENT_LOGIN_RATE_LIMIT"] = "1000 per minute"
    env["PLACEMENT_BACKGROUND_ROWS"] = "3"
    settings = Settings.from_env(env)
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="jobs-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", settings, env)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _file(tmp_path: Path, name: str, levels: list[str]) -> Path:
    rows = [HEADER]
    rows += [
        f"Trainee {i},{unique_email('t')},{level},College {i}" for i, level in enumerate(levels)
    ]
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_large_import_shows_progress_then_the_result(
    browser: Any,
    small_jobs_server: LiveServer,
    worker_factory: Any,
    check_a11y: Any,
    tmp_path: Path,
) -> None:
    server = small_jobs_server
    with session_scope(server.settings) as session:
        rnd = f.round_(session, name="Autumn round")
        round_id = f.pk(rnd)
    coordinator = account(server.settings, "coordinator", name="Helen Okafor")
    context = browser.new_context(base_url=server.url, viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in(page, coordinator)
        page.goto(f"/coordinator/rounds/{round_id}/import/trainees")
        page.get_by_label("CSV file of trainees").set_input_files(
            str(_file(tmp_path, "good.csv", ["4", "5", "4", "4", "5"]))
        )
        page.get_by_role("button", name="Preview").click()
        expect(page.get_by_text("This is a large file")).to_be_visible()
        page.get_by_role("button", name="Import 5 trainees").click()

        # No worker yet: the job waits, and the page shows how far it has got.
        expect(page).to_have_url(f"{server.url}/coordinator/jobs/1")
        expect(page.get_by_role("heading", name="Importing trainees")).to_be_visible()
        bar = page.get_by_role("progressbar", name="Importing trainees: progress")
        expect(bar).to_be_visible()
        expect(page.locator("[data-progress-text]")).to_contain_text("waiting for a worker")
        assert 'http-equiv="refresh"' in page.content()  # without JavaScript: reloads
        check_a11y(page, "a background job's progress page")

        # The worker takes the job; the page's script notices and shows the result.
        worker_factory(server.env)
        expect(
            page.get_by_role("heading", name="Imported trainees: 5 created, 0 updated.")
        ).to_be_visible(timeout=90_000)
        expect(page.get_by_role("progressbar")).to_have_count(0)
        expect(page.locator("#job-result")).to_contain_text("Created")
        assert 'http-equiv="refresh"' not in page.content()
        check_a11y(page, "a background job's result page")

        # A large file with bad rows: nothing stored, the rows' problems as a table.
        page.goto(f"/coordinator/rounds/{round_id}/import/trainees")
        page.get_by_label("CSV file of trainees").set_input_files(
            str(_file(tmp_path, "bad.csv", ["4", "eleven", "4", "4", "99"]))
        )
        page.get_by_role("button", name="Preview").click()
        page.get_by_role("button", name="Import 5 trainees").click()
        errors = page.locator("#import-errors")
        expect(errors).to_be_visible(timeout=90_000)
        expect(page.get_by_role("alert")).to_contain_text("nothing was imported")
        rows = [r.split("\t")[:2] for r in errors.locator("tbody tr").all_inner_texts()]
        assert rows == [["3", "level"], ["6", "level"]], rows
        expect(page.get_by_role("link", name="Upload a corrected file")).to_be_visible()
        check_a11y(page, "a failed import's result page")
        # Another coordinator cannot see the job.
        other = account(server.settings, "coordinator")
        context.clear_cookies()
        sign_in(page, other)
        assert page.goto("/coordinator/jobs/1").status == 404
    finally:
        context.close()
