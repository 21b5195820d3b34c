"""Error pages in the portal layout. Never a traceback; a correlation id on 500."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.access.policy import AccessDenied, record_denial
from portal.rendering import render
from portal.security import request_id

log = logging.getLogger(__name__)

PAGES = (400, 403, 404, 405, 413, 429, 500)


def _forget_card() -> None:
    """An error page names no card: a 404 for an entry must not say whose card was opened."""
    from flask import g

    g.pop("card", None)


def handle_http_error(error: HTTPException):
    _forget_card()
    code = error.code if error.code in PAGES else 400 if (error.code or 500) < 500 else 500
    response = render(f"errors/{code}.html", error=error, request_id=request_id(), status=error.code or code)
    if error.code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_unexpected(error: Exception):
    log.exception("unhandled error, request id %s", request_id())
    _forget_card()
    return render("errors/500.html", error=InternalServerError(), request_id=request_id(), status=500)


def handle_access_denied(denied: AccessDenied):
    """A refused card answers exactly like a card that does not exist: 404, no data."""
    from portal.database import db

    db.session.rollback()
    _forget_card()
    record_denial(denied)
    return render("errors/404.html", error=None, request_id=request_id(), status=404)


def init_app(app: Flask) -> None:
    app.register_error_handler(AccessDenied, handle_access_denied)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
