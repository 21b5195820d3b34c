"""Structured logs: one JSON object a line, every field escaped, nothing secret in them.

- ``JsonFormatter`` writes each record as one line of JSON. A newline, a carriage return, an ANSI
  escape or a Unicode line separator that came from a request is written as an escape sequence,
  so nothing a visitor sends can start a log line of its own (SECURITY.md check 60).
- ``leave_logged_path`` leaves the request's path as logs may show it: ids and fixed words stay, every other
  part of the path (a confirmation or reset token, a certificate's code, any text) is replaced
  by the route's name for it, and the query string (search terms, filters) is left out.
- ``GunicornLogger`` is gunicorn's logger for ``make run`` (``portal/gunicorn_conf.py``): its
  error log is JSON too and its access log has the logged path only.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from werkzeug.routing import AnyConverter, IntegerConverter, Map
from werkzeug.wsgi import get_path_info

# Where the WSGI middleware leaves the logged path for gunicorn's access log.
ENVIRON_KEY = "portal.logged_path"
# Control, format, surrogate, private-use and unassigned characters and the Unicode line and
# paragraph separators: escaped even where JSON itself would let them through.
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?(\w+)>")


def _escape(text: str) -> str:
    if text.isascii():
        return text  # json.dumps has already escaped the ASCII control characters
    return "".join(
        json.dumps(c)[1:-1] if ord(c) > 126 and unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text
    )


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, the record's ``fields`` (pass
    ``extra={"fields": {...}}``), the request's correlation id, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", None) or {})
        request_id = _request_id()
        if request_id and "request_id" not in entry:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _escape(json.dumps(entry, ensure_ascii=False, default=str))


def _request_id() -> str | None:
    from flask import has_request_context

    from portal.security import request_id

    return request_id() if has_request_context() else None


def _first_part(path: str) -> str:
    first, _sep, rest = path.lstrip("/").partition("/")
    return "/" + first[:40] + ("/…" if rest else "")


class _NoLimitKeys(logging.Filter):
    """Flask-Limiter names the key of a limit that is exceeded, and a key can be what someone
    typed as their login (an e-mail or a SNILS). Keep the limit and the endpoint, not the key."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "exceeded" in str(record.msg):
            from flask import has_request_context, request
            from limits import RateLimitItem

            limits = [str(arg) for arg in record.args or () if isinstance(arg, RateLimitItem)]
            record.msg = "rate limit exceeded"
            record.args = ()
            endpoint = request.endpoint if has_request_context() else None
            record.fields = {"limit": ", ".join(limits), "endpoint": endpoint}
        return True


def configure(level: str) -> None:
    """Write the application's logs to stderr as JSON, unless logging is configured already
    (as ``logging.basicConfig`` would), and keep rate-limit keys out of every handler."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(level)
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, _NoLimitKeys) for f in limiter_log.filters):
        limiter_log.addFilter(_NoLimitKeys())


def masked_path(url_map: Map, path: str, method: str = "GET") -> str:
    """``path`` with only its ids and fixed words: ``/auth/reset/<token>``, ``/card/5/results``.
    A path no route matches keeps its first part only (``/wp-admin/…``)."""
    try:
        rule, args = url_map.bind("localhost").match(path, method=method, return_rule=True)
    except Exception:  # noqa: BLE001 (not found, wrong method, redirect: all are logged the same way)
        return _first_part(path)
    return _masked(rule, args)


def _masked(rule, args: dict) -> str:
    def shown(match: re.Match) -> str:
        name = match.group(1)
        if isinstance(rule._converters.get(name), IntegerConverter | AnyConverter):
            return str(args[name])
        return f"<{name}>"

    return _ARGUMENT.sub(shown, rule.rule)


def leave_logged_path(_error: BaseException | None = None) -> None:
    """Teardown: leave the masked path in the request's environ, which is gunicorn's own, for the
    access log. From the rule Flask matched: the path is not matched a second time."""
    from flask import request

    rule = request.url_rule
    environ = request.environ
    environ[ENVIRON_KEY] = (
        _masked(rule, request.view_args or {}) if rule is not None else _first_part(get_path_info(environ))
    )


try:
    from gunicorn.glogging import Logger as _GunicornBase
except ImportError:  # gunicorn is only needed to serve; tests and the CLI run without it
    _GunicornBase = None

if _GunicornBase is not None:

    class GunicornLogger(_GunicornBase):
        """gunicorn's logs as JSON lines; the access log has the masked path and no query string,
        no Referer (it carries other pages' addresses) and no user agent."""

        def setup(self, cfg) -> None:
            super().setup(cfg)
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())

        def access(self, resp, req, environ, request_time) -> None:
            if not self.access_log_enabled:
                return
            status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
            headers = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
            request_id = next((value for name, value in headers if name.lower() == "x-request-id"), None)
            # Not set when the application was not reached: keep the first part of the path only.
            path = environ.get(ENVIRON_KEY) or _first_part(environ.get("PATH_INFO") or "")
            fields = {
                "method": environ.get("REQUEST_METHOD"),
                "path": path,
                "status": int(status),
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                "remote": environ.get("REMOTE_ADDR"),
                "request_id": request_id,
            }
            try:
                self.access_log.info("request", extra={"fields": fields})
            except Exception:  # noqa: BLE001 (as gunicorn's own access(): a log line never breaks a response)
                self.exception("access log failed")
