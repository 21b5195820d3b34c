"""The security baseline applied to every response (SECURITY.md section 4, checks 36-44)."""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'; manifest-src 'self'; report-uri /csp-report; report-to csp-endpoint"
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "Reporting-Endpoints": 'csp-endpoint="/csp-report"',
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: Flask-WTF's strict HTTPS check needs a same-origin Referer.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    "X-Frame-Options": "DENY",
}

HSTS = "max-age=63072000; includeSubDomains"


def request_id() -> str:
    """A correlation id for this request: shown on the 500 page and written to the log."""
    if "request_id" not in g:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else secrets.token_hex(8)
    return g.request_id


def apply_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    response.headers["X-Request-ID"] = request_id()
    if request.endpoint != "assets.serve" or response.status_code != 200:
        # Only fingerprinted static files may be cached; every dynamic page is no-store.
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    response.headers.pop("Server", None)
    return response


def htmx_redirects(response: Response) -> Response:
    """htmx would follow a redirect and swap the next page into a fragment; tell it to load the
    page instead. (Requests that need sign-in already answer 401 with HX-Redirect.)"""
    if getattr(request, "htmx", False) and 300 <= response.status_code < 400 and response.location:
        location = response.location
        response = Response("", 200)
        response.headers["HX-Redirect"] = location
    return response


def init_app(app: Flask) -> None:
    app.after_request(apply_headers)
    app.after_request(htmx_redirects)
