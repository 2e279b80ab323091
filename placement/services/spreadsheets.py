"""Spreadsheets as coordinators keep them: an XLSX workbook's first sheet read as the same
rows a CSV file gives (so imports keep one set of rules: all or nothing, row-numbered
errors), and a table written as an XLSX workbook (templates)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from openpyxl import Workbook, load_workbook

from placement.errors import InvalidInput

XLSX_MAGIC = b"PK\x03\x04"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def is_xlsx(data: bytes, filename: str = "") -> bool:
    return filename.lower().endswith(".xlsx") or data[:4] == XLSX_MAGIC


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_to_csv(data: bytes) -> bytes:
    """The first sheet of an XLSX workbook as UTF-8 CSV: row N of the sheet is row N of the
    CSV, so the import's row numbers are the spreadsheet's. Dates become YYYY-MM-DD."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidInput(
            "The file is not a readable XLSX workbook.",
            errors=[{"row": None, "field": "file", "message": f"not a readable XLSX file ({exc})"}],
        ) from exc
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if sheet is not None:
            for row in sheet.iter_rows(values_only=True):
                writer.writerow([_cell(v) for v in row])
    finally:
        book.close()
    return out.getvalue().encode("utf-8")


def csv_to_xlsx(text: str, *, title: str = "Sheet1") -> bytes:
    """A CSV table (header first) as an XLSX workbook with one sheet."""
    return rows_to_xlsx(list(csv.reader(io.StringIO(text))), title=title)


def rows_to_xlsx(rows: Sequence[Sequence[object]], *, title: str = "Sheet1") -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def rows_to_xlsx_stream(rows: Iterable[Sequence[object]], *, title: str = "Sheet1") -> bytes:
    """Rows (header first) as an XLSX workbook, written row by row (openpyxl's write-only
    mode keeps one row in memory, not the whole sheet)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
