"""Bulk CSV import of trainees and of slots into a round: all or nothing.

The whole file is read and checked before anything is written. Any bad row means an
InvalidInput listing every bad row and field, rows numbered as a spreadsheet shows them
(the header is row 1), and nothing stored.
"""

from __future__ import annotations

from collections.abc import Callable

from placement.services.imports.common import (
    DBS_COLUMNS,
    MAX_ERRORS,
    SLOT_COLUMNS,
    SLOT_REQUIRED,
    TRAINEE_COLUMNS,
    TRAINEE_REQUIRED,
    ImportResult,
    read_csv,
)
from placement.services.imports.slots import import_slots
from placement.services.imports.trainees import import_trainees

IMPORTERS: dict[str, Callable[..., ImportResult]] = {
    "trainees": import_trainees,
    "slots": import_slots,
}

__all__ = [
    "DBS_COLUMNS",
    "IMPORTERS",
    "MAX_ERRORS",
    "SLOT_COLUMNS",
    "SLOT_REQUIRED",
    "TRAINEE_COLUMNS",
    "TRAINEE_REQUIRED",
    "ImportResult",
    "import_slots",
    "import_trainees",
    "read_csv",
]
