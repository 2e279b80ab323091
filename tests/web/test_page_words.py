"""The words pages use: UK dates, and API messages rewritten as GOV.UK error messages."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from placement.services.pages.words import uk_date, uk_dates
from placement.web.messages import human, human_errors


def test_dates_are_written_the_uk_way() -> None:
    assert uk_date(date(2027, 9, 13)) == "13 Sep 2027"
    assert uk_date(date(2027, 1, 4)) == "4 Jan 2027"
    assert uk_date(datetime(2027, 9, 13, 14, 5, 59)) == "13 Sep 2027, 14:05"
    assert uk_date("2027-09-13") == "13 Sep 2027"
    assert uk_date("2027-09-13T14:05:00+00:00") == "13 Sep 2027, 14:05"
    assert uk_date(None) == "—" and uk_date("") == "—"
    assert uk_dates(date(2027, 9, 13), date(2027, 12, 17)) == "13 Sep 2027 to 17 Dec 2027"


@pytest.mark.parametrize(
    ("field", "message", "value", "expected"),
    [
        ("title", "Length must be between 1 and 200.", "", "Enter a title"),
        (
            "title",
            "Length must be between 1 and 200.",
            "x" * 201,
            "Title must be 200 characters or fewer",
        ),
        ("title", "is required", None, "Enter a title"),
        (
            "available_to",
            "must not be before available_from",
            "2027-01-01",
            "Available to must be on or after available from",
        ),
        (
            "ends_on",
            "must not be before starts_on",
            "2027-01-01",
            "End date must be on or after start date",
        ),
        ("capacity", "must be a whole number", "two", "Seats must be a whole number"),
        (
            "capacity",
            "Must be greater than or equal to 1 and less than or equal to 100.",
            "0",
            "Seats must be between 1 and 100",
        ),
        ("starts_on", "must be a date (YYYY-MM-DD)", "31/02", "Start date must be a real date"),
        ("level", "Must be one of: 4, 5.", "6", "Select a qualification level from the list"),
        ("min_level", "is required", "", "Select a minimum level"),
        (
            "email",
            "Not a valid email address.",
            "nope",
            "Enter an email address in the correct format, like name@example.com",
        ),
        (
            "max_travel_km",
            "Must be greater than 0 and less than or equal to 20000.",
            "-1",
            "Furthest you can travel must be more than 0 and no more than 20,000",
        ),
        (
            "reason",
            "must be at most 1000 characters",
            "x",
            "Reason must be 1000 characters or fewer",
        ),
    ],
)
def test_api_messages_become_gov_uk_sentences(
    field: str, message: str, value: str | None, expected: str
) -> None:
    assert human(field, message, value) == expected


def test_list_refusals_read_as_sentences() -> None:
    assert human("slot_ids", "must not repeat a slot") == "Your choices must not repeat a slot"
    assert (
        human("slot_ids", "at most 3 slots may be ranked in this round")
        == "At most 3 slots may be ranked in this round"
    )


def test_one_field_keeps_each_sentence_once() -> None:
    errors = {"title": ["is required", "Length must be between 1 and 200."]}
    assert human_errors(errors, {"title": ""}) == {"title": ["Enter a title"]}
