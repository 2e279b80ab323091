"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response, current_app, request

CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


def _personal(response: Response) -> bool:
    """Responses that may carry personal data must not be stored by any cache: everything
    under /api and anything answered to an authenticated caller."""
    return (
        request.path.startswith("/api/")
        or "Authorization" in request.headers
        or current_app.config["SESSION_COOKIE_NAME"] in request.cookies
        or "cookie" in response.headers.get("Vary", "").lower()
    )


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def add_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if _personal(response):
            response.headers["Cache-Control"] = "no-store"
            response.headers.setdefault("Pragma", "no-cache")
        return response
