"""Loading the ONS Postcode Directory (ONSPD) into the `postcodes` table that
`services.postcodes` looks postcodes up in: CSV or the zip as downloaded, streamed in
batches, loading twice changes nothing (`placement load-postcodes`, the demo's postcodes)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from placement.errors import InvalidInput
from placement.models import Postcode
from placement.services.postcodes import normalise, outward_of

# ONSPD: the postcode columns in order of preference (releases have used each of these
# names), and the coordinate columns. Rows without a grid reference carry 99.999999.
POSTCODE_COLUMNS = ("pcds", "pcd", "pcd7", "pcd2", "pcd8")
LATITUDE_COLUMN, LONGITUDE_COLUMN = "lat", "long"
NO_GRID_LATITUDE = 99.9
DEMO_POSTCODES = Path(__file__).resolve().parent.parent / "data" / "postcodes_demo.csv"
BATCH_SIZE = 5000


@dataclass(frozen=True)
class LoadResult:
    loaded: int
    skipped_no_grid: int
    skipped_unreadable: int
    unreadable_rows: tuple[int, ...]  # the first few, as row numbers (the header is row 1)


def _columns(header: list[str]) -> tuple[int, int, int]:
    names = [name.strip().lower() for name in header]
    missing = []
    postcode_at = next((names.index(c) for c in POSTCODE_COLUMNS if c in names), None)
    if postcode_at is None:
        missing.append(" or ".join(POSTCODE_COLUMNS))
    for name in (LATITUDE_COLUMN, LONGITUDE_COLUMN):
        if name not in names:
            missing.append(name)
    if missing or postcode_at is None:
        raise InvalidInput(
            "The file is not in the ONS Postcode Directory (ONSPD) CSV format: "
            f"the header lacks {', '.join(missing)}.",
            errors={"columns": [f"missing: {name}" for name in missing]},
        )
    return postcode_at, names.index(LATITUDE_COLUMN), names.index(LONGITUDE_COLUMN)


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    table = Postcode.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        statement: Any = pg.on_conflict_do_update(
            index_elements=["postcode"],
            set_={k: pg.excluded[k] for k in ("outward", "latitude", "longitude")},
        )
    elif dialect == "sqlite":
        lite = sqlite.insert(table)
        statement = lite.on_conflict_do_update(
            index_elements=["postcode"],
            set_={k: lite.excluded[k] for k in ("outward", "latitude", "longitude")},
        )
    else:  # pragma: no cover - the two supported databases are above
        raise NotImplementedError(f"no postcode upsert for {dialect}")
    session.execute(statement, rows)


def _batches(
    records: Iterator[list[str]], columns: tuple[int, int, int], batch_size: int
) -> Iterator[tuple[list[dict[str, Any]], int, list[int]]]:
    """(rows to write, no-grid rows skipped, unreadable row numbers) per batch."""
    postcode_at, lat_at, lon_at = columns
    width = max(columns)
    batch: dict[str, dict[str, Any]] = {}
    no_grid = 0
    unreadable: list[int] = []
    for number, record in enumerate(records, start=2):
        if not any(cell.strip() for cell in record):
            continue
        postcode = normalise(record[postcode_at]) if len(record) > width else None
        try:
            lat = float(record[lat_at]) if postcode else None
            lon = float(record[lon_at]) if postcode else None
        except ValueError:
            lat = lon = None
        if postcode is None or lat is None or lon is None:
            unreadable.append(number)
        elif lat >= NO_GRID_LATITUDE or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            no_grid += 1
        else:
            # A repeated postcode in one batch would update one row twice in one statement.
            batch[postcode] = {
                "postcode": postcode,
                "outward": outward_of(postcode),
                "latitude": lat,
                "longitude": lon,
            }
        if len(batch) >= batch_size:
            yield list(batch.values()), no_grid, unreadable
            batch, no_grid, unreadable = {}, 0, []
    yield list(batch.values()), no_grid, unreadable


def load_postcodes(
    *,
    session: Session,
    lines: Iterable[str],
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Load ONSPD CSV text (an open file, read as it goes) into the postcodes table.

    Rows are written in batches of `batch_size`, so memory stays bounded however long the
    file; a postcode already there is replaced (loading twice changes nothing). Rows without
    a grid reference are skipped; terminated postcodes are kept (people still live at
    them). The caller commits."""
    if batch_size < 1:
        raise InvalidInput(errors={"batch_size": ["must be at least 1"]})
    records = csv.reader(iter(lines))
    try:
        header = next(records)
    except StopIteration:
        raise InvalidInput("The file is empty.", errors={"file": ["the file is empty"]}) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(f"The file is not readable as CSV text: {exc}.") from exc
    columns = _columns(header)
    loaded = no_grid = 0
    unreadable: list[int] = []
    unreadable_count = 0
    try:
        for rows, skipped, bad in _batches(records, columns, batch_size):
            if rows:
                _upsert(session, rows)
                loaded += len(rows)
                if progress is not None:
                    progress(loaded)
            no_grid += skipped
            unreadable_count += len(bad)
            unreadable.extend(bad[: max(0, 10 - len(unreadable))])
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"The file stopped being readable as CSV text after {loaded} postcodes: {exc}."
        ) from exc
    session.flush()
    return LoadResult(
        loaded=loaded,
        skipped_no_grid=no_grid,
        skipped_unreadable=unreadable_count,
        unreadable_rows=tuple(unreadable),
    )


def _csv_in_zip(archive: zipfile.ZipFile) -> str:
    """The directory's main CSV in an ONSPD download (Data/ONSPD_..._UK.csv), else the only
    or largest CSV in the archive."""
    names = [i for i in archive.infolist() if i.filename.lower().endswith(".csv")]
    if not names:
        raise InvalidInput("The zip file holds no CSV file.", errors={"file": ["no CSV inside"]})
    main = [i for i in names if Path(i.filename).name.upper().startswith("ONSPD")]
    return max(main or names, key=lambda i: i.file_size).filename


def load_postcode_file(
    *,
    session: Session,
    path: Path,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Load an ONSPD CSV file, or the ONSPD zip as downloaded, streaming it."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive, archive.open(_csv_in_zip(archive)) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                return load_postcodes(
                    session=session, lines=text, batch_size=batch_size, progress=progress
                )
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return load_postcodes(
                session=session, lines=fh, batch_size=batch_size, progress=progress
            )
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror or exc}.") from exc
