"""How pages write dates and times: UK style, one way everywhere ("13 Sep 2027", and
"13 Sep 2027, 14:05" for a moment). Templates use it as the `ukdate` filter; read models that word
facts use it directly."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def uk_date(value: Any, empty: str = "—") -> str:
    """A date as "13 Sep 2027", a datetime as "13 Sep 2027, 14:05"; ISO text is read
    first; anything else (None, blank) is `empty`."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return empty
        try:
            value = datetime.fromisoformat(text) if "T" in text or " " in text else None
        except ValueError:
            value = None
        if value is None:
            try:
                value = date.fromisoformat(text)
            except ValueError:
                return text
    if isinstance(value, datetime):
        return f"{value.day} {value:%b %Y, %H:%M}"
    if isinstance(value, date):
        return f"{value.day} {value:%b %Y}"
    return empty if value is None else str(value)


def uk_dates(start: Any, end: Any) -> str:
    """A period: "13 Sep 2027 to 17 Dec 2027"."""
    return f"{uk_date(start)} to {uk_date(end)}"


def run_label(run: Any) -> str:
    """A match run as pages name it: the coordinator's name for it, else "Run 12"."""
    name = (getattr(run, "name", "") or "").strip()
    return name or f"Run {run.id}"
