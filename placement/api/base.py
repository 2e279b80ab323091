"""API pieces that must load before the app module (no import of placement.app)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from werkzeug.routing import IntegerConverter

from placement.services.validation import MAX_ID

BEARER = "bearerAuth"


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive id that fits the databases' integer columns; anything else
    matches no route (404) instead of reaching the database."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_ID)


class ErrorSchema(Schema):
    """Every error: a human `message`; 422s add `errors`, keyed by field (or a list of
    `{row, field, message}` for CSV imports)."""

    message = fields.String(required=True)
    errors = fields.Raw(metadata={"description": "field (or CSV row) -> messages"})
