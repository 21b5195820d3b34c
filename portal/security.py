"""The security baseline applied to every response (SECURITY.md section 4, checks 36-44)."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, request
from werkzeug.routing import Map

from portal.logs import masked_path

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

# A violation report is well under 2 KiB; a larger body is refused unread (413).
CSP_REPORT_MAX_BYTES = 8 * 1024
# What a report may put in the log, by its name in the report-uri and the Reporting API formats.
_CSP_FIELDS = {
    "directive": ("effective-directive", "effectiveDirective", "violated-directive"),
    "blocked": ("blocked-uri", "blockedURL"),
    "document": ("document-uri", "documentURL"),
    "source": ("source-file", "sourceFile"),
    "line": ("line-number", "lineNumber"),
    "column": ("column-number", "columnNumber"),
    "disposition": ("disposition",),
}
_URL_FIELDS = {"blocked", "document", "source"}


def _loggable_url(value: str, url_map: Map) -> str:
    """A URL from a report without its query and fragment; our own paths masked as in the access log."""
    parts = urlsplit(value)
    if not parts.scheme and not parts.netloc:
        return value[:40]  # "inline", "eval", "self"
    path = masked_path(url_map, parts.path) if parts.netloc == request.host else parts.path[:120]
    return f"{parts.scheme}://{parts.netloc[:80]}{path}"


def csp_report_fields(body: bytes, url_map: Map) -> dict[str, Any]:
    """The log fields of a CSP violation report (``report-uri`` or Reporting API JSON): the
    directive, the blocked and document addresses without query strings, the place in the
    source. Nothing else from the body is kept, and every value is cut short."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        return {"unreadable_report_bytes": len(body)}
    items = data if isinstance(data, list) else [data]
    reports = []
    for item in items[:5]:
        report = item.get("csp-report") or item.get("body") if isinstance(item, dict) else None
        if not isinstance(report, dict):
            continue
        fields: dict[str, Any] = {}
        for name, keys in _CSP_FIELDS.items():
            value = next((report[k] for k in keys if k in report), None)
            if isinstance(value, int) and not isinstance(value, bool):
                fields[name] = value
            elif isinstance(value, str):
                fields[name] = _loggable_url(value, url_map) if name in _URL_FIELDS else value[:80]
        reports.append(fields)
    return {"reports": reports} if reports else {"unreadable_report_bytes": len(body)}


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
    if request.endpoint != "assets.serve" or response.status_code not in (200, 304):
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
