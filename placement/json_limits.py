"""Bounded JSON: request bodies are checked for nesting depth and number length before any
parser sees them.

Python's `json` recurses once per nested array or object (`[` x 50,000 raises
RecursionError) and refuses integers over 4,300 digits with a ValueError that is not a
JSONDecodeError; either would be a 500. The check runs before every request with a JSON
body, authenticated or not, so flask-smorest's parser (webargs calls `json.loads` itself)
and `request.get_json` only ever see bounded documents. The app's JSON provider also
parses numbers with a size limit, for any other caller of `app.json.loads`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 100

# A JSON string: quotes around anything but quotes and backslashes, or escapes.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_LONG_NUMBER = re.compile(rb"[-+0-9.eE]{%d,}" % (MAX_NUMBER_CHARS + 1))


class JSONTooComplex(BadRequest):
    """A JSON body nested too deeply or with a number too long to be a real value."""


def problem(body: bytes | str) -> str | None:
    """What is wrong with a JSON document's shape, or None: depth and number length only
    (anything else is left to the parser)."""
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if b"[" not in data and b"{" not in data and len(data) <= MAX_NUMBER_CHARS:
        return None
    bare = _STRING.sub(b'""', data)
    if _LONG_NUMBER.search(bare):
        return f"A number in the JSON body is too long: at most {MAX_NUMBER_CHARS} characters."
    depth = deepest = 0
    for bracket in _BRACKETS.findall(bare):
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return (
                        f"The JSON body is nested too deeply: at most {MAX_DEPTH} levels of "
                        "arrays and objects."
                    )
        else:
            depth -= 1
    return None


def _number(kind: type[Any]) -> Any:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            raise ValueError(f"number too long: at most {MAX_NUMBER_CHARS} characters")
        return kind(text)

    return parse


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, refusing over-deep documents and over-long numbers."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        found = problem(s)
        if found is not None:
            raise ValueError(found)
        kwargs.setdefault("parse_int", _number(int))
        kwargs.setdefault("parse_float", _number(float))
        return json.loads(s, **kwargs)


def register_json_limits(app: Flask) -> None:
    app.json = BoundedJSONProvider(app)

    @app.before_request
    def check_json_body() -> None:
        if not request.is_json:
            return
        found = problem(request.get_data(cache=True))
        if found is not None:
            raise JSONTooComplex(found)
