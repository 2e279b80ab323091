"""Errors on pages come back as HTML pages, in the layout, with the right status."""

from __future__ import annotations

from typing import Any

from flask import render_template
from werkzeug.exceptions import HTTPException

from placement.errors import DomainError

_TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "That cannot be done now",
    413: "File too large",
    422: "Some values are invalid",
    429: "Too many attempts",
}


def render_error(status: int, message: str, errors: Any = None) -> tuple[str, int]:
    title = _TITLES.get(status, "Something went wrong")
    return render_template(
        "error.html", title=title, status=status, message=message, errors=errors
    ), status


def domain_error_page(exc: DomainError) -> tuple[str, int]:
    return render_error(exc.status, exc.message, exc.errors)


def http_error_page(exc: HTTPException) -> Any:
    if exc.code is None or exc.code < 400:
        return exc
    messages = {
        403: "Your account cannot open this page.",
        404: "There is nothing at this address, or it is not yours to see.",
        413: "The file is larger than this service accepts.",
        429: "Too many attempts in a short time. Wait a minute, then try again.",
    }
    return render_error(exc.code, messages.get(exc.code, exc.description or ""))
