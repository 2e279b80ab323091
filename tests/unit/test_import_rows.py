"""The trainee import's two row checkers agree (placement/services/imports/trainee_rows.py).

The fast path checks whole columns and only accepts; any row it does not accept goes
through the exact per-row validator (marshmallow). Both are run on the same generated files:
the same accepted values for every row, the same messages in the same order for bad ones.
No database: the checkers are pure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placement.models import Slot, utcnow
from placement.services.imports.common import _Errors
from placement.services.imports.trainee_rows import (
    CheckedRow,
    SlotIndex,
    _fast_rows,
    check_rows,
)

TODAY = utcnow().date()
SLOTS = [
    Slot(id=1, round_id=1, organisation_id=1, title="Assay lab"),
    Slot(id=2, round_id=1, organisation_id=1, title="Twin"),
    Slot(id=3, round_id=1, organisation_id=1, title="twin "),
    Slot(id=40, round_id=1, organisation_id=1, title="7"),
    Slot(id=7, round_id=1, organisation_id=1, title="Field service"),
]
INDEX = SlotIndex.of(SLOTS, max_preferences=3)

TEXTS = ["", "a\x00b", "Zoë", "x" * 10, "x" * 11, "x" * 200, "x" * 201, "x" * 2001, "\u0130"]
NUMBERS = ["", "52.1", "-90", "90", "90.0001", "-180", "180.5", "0", "0.0", "20000", "20000.5"]
NUMBERS += ["nan", "inf", "-inf", "1e309", "1_0", "abc", "-1", "١٢", "1e2", "+4", "-0", "0x1"]
DATES = ["", "2027-01-04", "2027-07-02", "2027-1-4", "20270104", "2027-02-30", "x"]
DATES += ["2027-W01-1", "2026-12-02T00:00", "0001-01-01", "9999-12-31", "2027-01-04Z"]
BOOLEANS = ["", "true", "True", "TRUE", "tRuE", "yes", "1", "0", "no", "false", "F", "off"]
BOOLEANS += ["On", "maybe", "2", "Y", "\uff11"]
# Awkward cells for each column, good and bad.
TRICKY = {
    "id": ["", "1", "0", "x", "2147483647", "2147483648", "007", "-3", "٣", "+1", "1.0"],
    "name": TEXTS,
    "email": [
        *("", "ada@learners.test", "ADA@Learners.Test", "bad", "a@b", "a@localhost"),
        *("ü@ü.de", "a..b@x.test", '"q uoted"@x.test', "a@[127.0.0.1]", "x" * 250 + "@x.test"),
        *("İ@x.test", "a@b.c-", "a\x00@x.test", "a@x.test", "a@b@x.test", "@x.test", "a@"),
    ],
    "level": ["", "4", "5", "3", "04", "4.0", "x", "٤", "+5", "5 ", "4_"],
    "provider": TEXTS,
    "skills": ["", "a;b", ";", "a;;b", " a ; b ", "x" * 101, ";".join("s" * 101), "a\x00"],
    "postcode": TEXTS,
    "latitude": NUMBERS,
    "longitude": NUMBERS,
    "max_travel_km": NUMBERS,
    "available_from": DATES,
    "available_to": DATES,
    "dbs_cleared": BOOLEANS,
    "needs": TEXTS,
    "share_needs": BOOLEANS,
    "dbs_certificate_number": [
        *("", "123456789012", "12345", "1234567890123", "12345678901x"),
        "".join(chr(0xFF10 + int(d)) for d in "123456789012"),  # full-width digits
        "".join(chr(0x0660 + int(d)) for d in "012345678901"),  # Arabic-Indic digits
    ],
    "dbs_level": ["", "basic", "standard", "enhanced", "Enhanced", "nope"],
    "dbs_issued_on": [
        *("", "2020-01-01", str(TODAY), str(TODAY + timedelta(days=1))),
        *("2099-01-01", "bad", "2020-1-1"),
    ],
    "preferences": [
        *("", "1;2", "1;1", "Assay lab", "assay LAB;7", "Twin", "999", "1;2;7;40", ";", "7"),
        *("1;Assay lab", "Field service; 40", "40;7", "0", "\u0667", "12345678901", "1;;2"),
    ],
}
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
COLUMNS = {name: st.sampled_from(cells) for name, cells in TRICKY.items()}
for _name in ("name", "provider", "postcode", "needs"):
    COLUMNS[_name] |= TEXT
for _name in ("latitude", "longitude", "max_travel_km"):
    COLUMNS[_name] |= st.floats(allow_nan=True, allow_infinity=True).map(repr)
for _name in ("available_from", "available_to"):
    COLUMNS[_name] |= st.dates().map(str)
COLUMNS["email"] |= st.emails().map(str)
COLUMNS["skills"] |= st.lists(TEXT, max_size=4).map(";".join)


# Values the fast path accepts (some rows still fail across columns: a repeated slot,
# dates out of order, a certificate with `dbs_cleared` false).
FINE = {
    "id": ["", "1", "12", "2147483647"],
    "name": ["Ada", "Zoë Brown", "x" * 200],
    "email": ["", "ada@learners.test", "GRACE@Learners.Test", "a@localhost", "ü@ü.de"],
    "level": ["", "4", "5"],
    "provider": ["", "College", "x" * 200],
    "skills": ["", "a;b", ";", " PCR ; pipetting"],
    "postcode": ["", "B15 2TT", "x" * 10],
    "latitude": ["", "52.1", "-90", "90", "1e1"],
    "longitude": ["", "-1.9", "180", "-180"],
    "max_travel_km": ["", "25", "20000", "0.5"],
    "available_from": ["", "2027-01-04", "2027-07-02"],
    "available_to": ["", "2027-01-04", "2027-07-02"],
    "dbs_cleared": ["", "true", "false", "yes", "0"],
    "needs": ["", "wheelchair access"],
    "share_needs": ["", "true", "no"],
    "dbs_certificate_number": ["", "123456789012"],
    "dbs_level": ["", "basic", "enhanced"],
    "dbs_issued_on": ["", "2020-01-01", str(TODAY)],
    "preferences": ["", "1;2", "Assay lab;7", "40", "7;40;1", "1;1"],
}


@st.composite
def files(draw: st.DrawFn) -> list[tuple[int, dict[str, str]]]:
    """Rows as `read_csv` gives them: a header's columns, cells stripped, a short row
    missing its last cells. Most rows are good or nearly (a bad cell or two), so both
    paths and their mixture are exercised."""
    others = st.lists(st.sampled_from(sorted(set(COLUMNS) - {"name", "email"})), unique=True)
    header = ["name", "email", *draw(others)]
    header = draw(st.permutations(header))
    rows = []
    for number in range(2, 2 + draw(st.integers(1, 6))):
        width = draw(st.integers(1, len(header))) if draw(st.booleans()) else len(header)
        wild = set(draw(st.lists(st.sampled_from(header), max_size=2)))
        cells = {
            name: draw(COLUMNS[name] if name in wild else st.sampled_from(FINE[name])).strip()
            for name in header[:width]
        }
        rows.append((number, cells))
    return rows


def _checked(
    rows: list[tuple[int, dict[str, str]]], exact_only: bool = False
) -> tuple[list[CheckedRow], list[dict[str, Any]]]:
    errors = _Errors()
    return list(check_rows(rows, INDEX, errors, exact_only=exact_only)), errors.items


def _agree(rows: list[tuple[int, dict[str, str]]]) -> None:
    assert _checked(rows) == _checked(rows, exact_only=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files())
def test_fast_and_exact_checks_agree_on_any_file(rows: list[tuple[int, dict[str, str]]]) -> None:
    _agree(rows)


GOOD = {
    "id": "",
    "name": "Ada Lovelace",
    "email": "ADA@Learners.Test",
    "level": "4",
    "provider": "College",
    "skills": "pipetting; PCR",
    "postcode": "B15 2TT",
    "latitude": "52.45",
    "longitude": "-1.93",
    "max_travel_km": "25",
    "available_from": "2027-01-04",
    "available_to": "2027-07-02",
    "dbs_cleared": "true",
    "needs": "",
    "share_needs": "no",
    "dbs_certificate_number": "123456789012",
    "dbs_level": "enhanced",
    "dbs_issued_on": "2024-05-01",
    "preferences": "Assay lab;7;40",
}


@pytest.mark.parametrize("column", sorted(TRICKY))
def test_every_awkward_cell_alone_in_a_good_row(column: str) -> None:
    rows = [(n, {**GOOD, column: cell}) for n, cell in enumerate(TRICKY[column], start=2)]
    # Each row names its own trainee: the email column's check is not the repeat rule.
    _agree(rows)
    _agree([(n, {k: v for k, v in cells.items() if k != "id"}) for n, cells in rows])


def test_the_fast_path_takes_good_rows_and_leaves_bad_ones() -> None:
    bare = {**GOOD, "email": "grace@learners.test", "dbs_certificate_number": ""}
    bare.update(dbs_level="", dbs_issued_on="", preferences="")
    rows = [
        (2, dict(GOOD)),
        (3, bare),
        (4, {**GOOD, "email": "bad@learners.test", "level": "3"}),
        (5, {**GOOD, "email": "late@learners.test", "dbs_issued_on": "2099-01-01"}),
    ]

    fast = _fast_rows(rows, INDEX, TODAY)

    assert fast[0] is not None and fast[1] is not None
    assert fast[2] is None and fast[3] is None
    assert fast[0].values == {
        "name": "Ada Lovelace",
        "email": "ada@learners.test",
        "level": 4,
        "provider": "College",
        "skills": ["pipetting", "PCR"],
        "postcode": "B15 2TT",
        "latitude": 52.45,
        "longitude": -1.93,
        "max_travel_km": 25.0,
        "available_from": TODAY.replace(2027, 1, 4),
        "available_to": TODAY.replace(2027, 7, 2),
        "dbs_cleared": True,
        "share_needs": False,
    }
    assert fast[0].prefs == [1, 7, 40]
    assert fast[0].dbs == {
        "certificate_number": "123456789012",
        "level": "enhanced",
        "issued_on": TODAY.replace(2024, 5, 1),
    }
    assert fast[1].dbs == {} and fast[1].prefs is None
    _agree(rows)
    _, errors = _checked(rows)
    assert [(e["row"], e["field"], e["message"]) for e in errors] == [
        (4, "level", "Must be one of: 4, 5."),
        (5, "dbs_issued_on", "must not be in the future"),
    ]
