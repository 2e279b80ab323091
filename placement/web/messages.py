"""Error messages on pages, written the GOV.UK way, in one place.

The services and the domain's marshmallow schemas speak to API clients ("Length must be
between 1 and 200.", "must not be before available_from"); the API keeps those words. A page
shows the same refusal as a sentence naming the field by its label ("Enter a title",
"Title must be 200 characters or fewer", "Available to must be on or after available
from"): `human_errors` turns one into the other, field by field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# field -> (label as a page shows it, what to "Enter" when it is missing).
FIELDS: dict[str, tuple[str, str]] = {
    "name": ("Name", "a name"),
    "full_name": ("Full name", "your full name"),
    "email": ("Email address", "an email address"),
    "password": ("Password", "a password"),
    "title": ("Title", "a title"),
    "region": ("Region", "a region"),
    "discipline": ("Discipline", "a discipline"),
    "description": ("Description", "a description"),
    "required_skills": ("Skills wanted", "the skills wanted"),
    "skills": ("Skills", "your skills"),
    "min_level": ("Minimum level", "a minimum level"),
    "level": ("Qualification level", "a qualification level"),
    "provider": ("College or training provider", "a college or training provider"),
    "capacity": ("Seats", "the number of seats"),
    "postcode": ("Postcode", "a postcode"),
    "latitude": ("Latitude", "a latitude"),
    "longitude": ("Longitude", "a longitude"),
    "max_travel_km": ("Furthest you can travel", "how far you can travel"),
    "available_from": ("Available from", "the date you are available from"),
    "available_to": ("Available to", "the date you are available to"),
    "starts_on": ("Start date", "a start date"),
    "ends_on": ("End date", "an end date"),
    "preference_deadline": ("Deadline for choices", "a deadline for choices"),
    "max_preferences": ("Choices per trainee", "how many slots each trainee may rank"),
    "round_id": ("Round", "a round"),
    "organisation_id": ("Organisation", "an organisation"),
    "kind": ("Kind of host", "the kind of host"),
    "accreditations": ("Accreditations", "the accreditations"),
    "website": ("Website", "a website"),
    "needs": ("Needs", "your needs"),
    "reason": ("Reason", "a reason"),
    "preference": ("Trainee preference weight", "a trainee preference weight"),
    "employer": ("Employer ranking weight", "an employer ranking weight"),
    "distance": ("Distance weight", "a distance weight"),
    "within_km": ("Within", "a distance"),
    "run": ("Run", "a run"),
    "file": ("File", "a file"),
    "slot_ids": ("Your choices", "your choices"),
    "trainee_ids": ("Your ranking", "your ranking"),
}

# Fields a page offers as a choice (a select), where "Select ..." reads better than "Enter".
CHOICES = {"level", "min_level", "kind", "round_id", "organisation_id", "run"}

_BETWEEN = (
    r"must be greater than (or equal to )?(-?[\d.]+) and less than (or equal to )?(-?[\d.]+)\.?"
)
_MISSING = {
    "missing data for required field.",
    "field may not be null.",
    "is required",
    "shorter than minimum length 1.",
    "length must be between 1 and",
    "must not be empty",
}


def label(field: str) -> str:
    known = FIELDS.get(field)
    return known[0] if known else field.replace("_", " ").capitalize()


def _noun(field: str) -> str:
    known = FIELDS.get(field)
    return known[1] if known else field.replace("_", " ")


def _number(text: str) -> str:
    value = float(text)
    return f"{value:g}" if value != int(value) else f"{int(value):,}"


def human(field: str, message: str, value: Any = None) -> str:
    """One API message about `field` as a GOV.UK sentence; `value` is what was sent
    (blank or absent is read as "not given")."""
    name = label(field)
    text = message.strip()
    low = text.lower()
    blank = value is None or (isinstance(value, str) and not value.strip())
    missing = low in _MISSING or low.startswith("length must be between 1 and")
    if missing and blank:
        verb = "Select" if field in CHOICES else "Enter"
        return f"{verb} {_noun(field)}"
    if m := re.fullmatch(r"length must be between (\d+) and (\d+)\.?", low):
        return f"{name} must be {m.group(2)} characters or fewer"
    if m := re.fullmatch(
        r"(?:longer than maximum length|must be at most) (\d+)(?: characters)?\.?", low
    ):
        return f"{name} must be {m.group(1)} characters or fewer"
    if m := re.fullmatch(r"shorter than minimum length (\d+)\.?", low):
        return f"{name} must be {m.group(1)} characters or more"
    if low in {"not a valid integer.", "must be a whole number"}:
        return f"{name} must be a whole number"
    if low in {"not a valid number.", "must be a number"}:
        return f"{name} must be a number"
    if low.startswith("not a valid date") or low.startswith("must be a date"):
        return f"{name} must be a real date"
    if low.startswith("not a valid email"):
        return "Enter an email address in the correct format, like name@example.com"
    if low in {"not a valid boolean.", "not a valid string."}:
        return f"{name} is not valid"
    if m := re.fullmatch(r"must not be before (\w+)", low):
        return f"{name} must be on or after {label(m.group(1)).lower()}"
    if m := re.fullmatch(_BETWEEN, low):
        low_n, high_n = _number(m.group(2)), _number(m.group(4))
        if m.group(1) and m.group(3):
            return f"{name} must be between {low_n} and {high_n}"
        if m.group(3):
            return f"{name} must be more than {low_n} and no more than {high_n}"
        return f"{name} must be more than {low_n} and less than {high_n}"
    if m := re.fullmatch(r"must be (?:greater than or equal to|at least) (-?[\d.]+)\.?", low):
        return f"{name} must be {_number(m.group(1))} or more"
    if m := re.fullmatch(r"must be between (-?[\d.]+) and (-?[\d.]+)\.?", low):
        return f"{name} must be between {_number(m.group(1))} and {_number(m.group(2))}"
    if low.startswith("must be one of") or low == "choose one of the listed choices":
        verb = "Select" if field in CHOICES else "Choose"
        return f"{verb} {_noun(field)} from the list"
    if field == "profile" and low.startswith("missing "):
        wanted = [label(w.strip()).lower() for w in text[len("missing ") :].split(",")]
        return "Complete your profile first: add your " + ", ".join(w for w in wanted if w)
    if low == "no such organisation.":
        return "Select an organisation from the list"
    if low.startswith("must not contain nul"):
        return f"{name} must not contain NUL characters"
    if missing:
        return f"Enter {_noun(field)}"
    if low.startswith("at most "):
        return text[0].upper() + text[1:].rstrip(".")
    # A service's own sentence: keep it, naming the field if it does not start a sentence.
    if text[:1].islower():
        return f"{name} {text.rstrip('.')}"
    return text.rstrip(".") if text.endswith(".") and text.count(".") == 1 else text


def human_errors(
    errors: Mapping[str, list[str]], values: Mapping[str, Any] | None = None
) -> dict[str, list[str]]:
    """field -> API messages as field -> page messages; `values` is the submitted form."""
    values = values or {}
    out: dict[str, list[str]] = {}
    for field, messages in errors.items():
        seen: list[str] = []
        for message in messages:
            sentence = human(field, message, values.get(field))
            if sentence not in seen:
                seen.append(sentence)
        out[field] = seen
    return out
