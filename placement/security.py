"""Security headers on every response, bounded JSON bodies, and the caller's address for
the audit log."""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from placement.json_limits import register_json_limits
from placement.services.common import request_ip

CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
# Two years, subdomains included: sent only when the cookies are marked Secure, that is
# when the site is served over HTTPS (a browser ignores HSTS over plain HTTP anyway).
HSTS = "max-age=63072000; includeSubDomains"
_DEFAULTS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)
_SECURE_DEFAULTS = (*_DEFAULTS, ("Strict-Transport-Security", HSTS))


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
    register_json_limits(app)

    @app.before_request
    def remember_caller_address() -> None:
        # Behind a proxy, werkzeug's ProxyFix (configured in the server) sets remote_addr.
        request_ip.set(request.remote_addr)

    @app.teardown_request
    def forget_caller_address(exc: BaseException | None) -> None:
        request_ip.set(None)

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        # What a view set itself stays (one pass over the headers rather than one per name).
        present = {name.lower() for name, _ in headers}
        defaults = (
            _SECURE_DEFAULTS if current_app.config.get("SESSION_COOKIE_SECURE") else _DEFAULTS
        )
        for name, value in defaults:
            if name.lower() not in present:
                headers.add(name, value)
        # The server's name and version help no one but an attacker (gunicorn's own banner
        # is dropped in `placement serve`).
        if "server" in present:
            headers.pop("Server", None)
        if _personal(response):
            headers["Cache-Control"] = "no-store"
            if "pragma" not in present:
                headers.add("Pragma", "no-cache")
        return response
