"""The placements export: the CSV streams from the first byte (header first, then a chunk
per batch of rows read), and the same table comes as an XLSX workbook."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlmodel import Session

from placement import create_app
from placement.config import Settings
from placement.db import make_engine
from placement.models import Placement
from placement.services import placements
from placement.services.accounts import issue_token
from tests import factories as f
from tests.conftest import Backend, service_env

API = "/api/v1"


def _round_with_placements(session: Session, n: int) -> dict[str, Any]:
    coordinator = f.user(session, role="coordinator")
    employer = f.user(session, role="employer")
    rnd = f.round_(session, status="closed")
    org = f.organisation(session, name="=Formula Labs")
    slot = f.slot(session, round=rnd, organisation=org, capacity=n, filled=n)
    ids = []
    for i in range(n):
        trainee = f.trainee(session, name=f"Trainee {i:03}")
        placement = Placement(round_id=f.pk(rnd), trainee_id=f.pk(trainee), slot_id=f.pk(slot))
        session.add(placement)
        session.flush()
        ids.append(f.pk(placement))
    return {
        "round": f.pk(rnd),
        "h": {"Authorization": f"Bearer {issue_token(session=session, user=coordinator)}"},
        "employer": {"Authorization": f"Bearer {issue_token(session=session, user=employer)}"},
        "ids": ids,
    }


def test_the_csv_streams_header_first_then_a_chunk_per_batch(
    client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _round_with_placements(session, 7)
    monkeypatch.setattr(placements, "EXPORT_BATCH", 3)
    response = client.get(
        f"{API}/rounds/{world['round']}/placements.csv", headers=world["h"], buffered=False
    )
    assert response.status_code == 200 and response.is_streamed
    assert "Content-Length" not in response.headers
    chunks = iter(response.response)
    first = next(chunks)
    text = first.decode() if isinstance(first, bytes) else first
    # The first chunk goes out before any row is read: just the header.
    assert text == ",".join(placements.CSV_COLUMNS) + "\r\n"
    rest = [c.decode() if isinstance(c, bytes) else c for c in chunks]
    response.close()
    assert len(rest) == 3  # 3 + 3 + 1 rows
    rows = list(csv.DictReader(io.StringIO(text + "".join(rest))))
    assert [int(r["placement_id"]) for r in rows] == world["ids"]
    assert rows[0]["trainee_name"] == "Trainee 000"
    assert rows[0]["organisation_name"] == "'=Formula Labs"  # never run as a formula
    # Who may see it is checked before the first byte.
    refused = client.get(f"{API}/rounds/{world['round']}/placements.csv", headers=world["employer"])
    assert refused.status_code == 403
    assert client.get(f"{API}/rounds/999999/placements.csv", headers=world["h"]).status_code == 404


def test_the_xlsx_export_has_the_csv_table(client: FlaskClient, session: Session) -> None:
    world = _round_with_placements(session, 4)
    url = f"{API}/rounds/{world['round']}/placements"
    as_csv = list(csv.reader(io.StringIO(client.get(f"{url}.csv", headers=world["h"]).text)))
    response = client.get(f"{url}.xlsx", headers=world["h"])
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "placements.xlsx" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    sheet = book.worksheets[0]
    assert sheet.title == "Placements"
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    assert rows == as_csv
    assert len(rows) == 5 and rows[0] == list(placements.CSV_COLUMNS)
    assert client.get(f"{url}.xlsx", headers=world["employer"]).status_code == 403


def test_a_streamed_export_ends_its_transaction(committed_backend: Backend, tmp_path: Any) -> None:
    """The rows are read after the request has ended; the transaction they were read in
    ends with the stream (on SQLite it would hold the write lock, and every later request
    would wait for it)."""
    engine = make_engine(committed_backend.url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            world = _round_with_placements(session, 3)
            session.commit()
    finally:
        engine.dispose()
    settings = Settings.from_env(service_env(committed_backend.url, tmp_path / "instance"))
    client = create_app(settings).test_client()
    for _ in range(2):
        csv_text = client.get(f"{API}/rounds/{world['round']}/placements.csv", headers=world["h"])
        assert csv_text.status_code == 200 and csv_text.text.count("\r\n") == 4
        # The next request (each takes SQLite's write lock up front) is not kept waiting.
        after = client.get(f"{API}/rounds/{world['round']}", headers=world["h"])
        assert after.status_code == 200, after.get_json()
