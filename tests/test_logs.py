"""Logs (SECURITY.md check 60): one JSON object a line, so a visitor cannot forge a line; no
token, typed login or search text in them; the CSP report endpoint is size- and rate-limited.

The end-to-end test serves the portal the way ``make run`` does (gunicorn, two workers, the
Makefile's config) and reads what it writes to stdout and stderr."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from portal.access import public
from portal.database import db
from portal.logs import JsonFormatter
from tests.conftest import (
    ON_POSTGRES,
    TEST_SECRET,
    csrf_token,
    database_template_url,
    empty_all_tables,
    make_app,
)

ROOT = Path(__file__).resolve().parent.parent
FORGED = "2026-12-07 03:00:00 INFO portal.auth: administrator signed in"
CSP_BODY = json.dumps(
    {
        "csp-report": {
            "violated-directive": "script-src\n" + FORGED,
            "document-uri": "http://127.0.0.1/clinics?q=SEARCHTERM\r\n" + FORGED,
            "blocked-uri": "inline\u2028" + FORGED + "\x1b[2J",
        }
    }
).encode()


@pytest.fixture
def json_log():
    """What the portal's log handler would write, captured: the root logger through JsonFormatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.INFO
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines_of(output: str) -> list[dict]:
    entries = []
    for line in output.splitlines():
        if line.strip():
            entry = json.loads(line)  # every line is one whole JSON object
            assert isinstance(entry, dict), line
            entries.append(entry)
    return entries


def test_a_csp_report_cannot_start_a_log_line_of_its_own(client, json_log):
    assert client.post("/csp-report", data=CSP_BODY, content_type="application/csp-report").status_code == 204
    entries = lines_of(json_log.getvalue())
    report = next(e for e in entries if e["message"] == "CSP violation report")["reports"][0]
    assert report["directive"].startswith("script-src\n")  # kept, as a value inside the line
    assert "SEARCHTERM" not in json_log.getvalue()  # the document's query is left out
    assert report["document"] == "http://127.0.0.1/clinics"
    for raw in ("\n", "\r", "\u2028", "\x1b"):
        assert raw not in json_log.getvalue().rstrip("\n")


def test_a_report_that_is_not_json_is_logged_by_its_size_only(client, json_log):
    body = b"not json\n" + FORGED.encode()
    assert client.post("/csp-report", data=body, content_type="application/csp-report").status_code == 204
    assert FORGED not in json_log.getvalue()
    assert any(e.get("unreadable_report_bytes") == len(body) for e in lines_of(json_log.getvalue()))


def test_a_deeply_nested_report_is_only_unreadable(client, json_log):
    body = b"[" * 8000
    assert client.post("/csp-report", data=body, content_type="application/csp-report").status_code == 204
    assert any(e.get("unreadable_report_bytes") == len(body) for e in lines_of(json_log.getvalue()))


def test_a_large_report_is_refused_unread(client, json_log):
    body = b'{"csp-report": {"violated-directive": "' + b"x" * 64 * 1024 + b'"}}'
    assert client.post("/csp-report", data=body, content_type="application/csp-report").status_code == 413
    assert "xxxxxxxx" not in json_log.getvalue()


def test_reports_are_rate_limited(app_factory):
    client = app_factory(RATELIMIT_ENABLED=True).test_client()
    answers = [
        client.post("/csp-report", data=CSP_BODY, content_type="application/csp-report").status_code for _ in range(61)
    ]
    assert answers == [204] * 60 + [429]


def test_the_typed_login_is_not_in_the_rate_limiters_messages(app_factory, caplog):
    app = app_factory(RATELIMIT_ENABLED=True)
    client = app.test_client()
    login = f"{uuid.uuid4().hex}@example.ru"
    token = csrf_token(client, "/auth/sign-in")
    caplog.set_level(logging.INFO)
    limited = "слишком много попыток за короткое время"  # the limiter's own page, not the sign-in pause
    for _ in range(25):
        answer = client.post("/auth/sign-in", data={"csrf_token": token, "login": login, "password": "x"})
        if limited in answer.get_data(as_text=True):
            break
    assert answer.status_code == 429 and limited in answer.get_data(as_text=True)
    assert any("exceeded" in record.getMessage() for record in caplog.records)
    assert login not in caplog.text
    assert login.split("@")[0] not in caplog.text


def test_a_failed_statement_does_not_log_its_values(app, caplog):
    typed = "SEARCH" + "TERM"  # (the traceback shows the lines it passes through)

    @app.get("/test-only/search")
    @public
    def failing_search():
        db.session.execute(text("SELECT no_such_column FROM account WHERE email = :q"), {"q": typed})

    answer = app.test_client().get("/test-only/search")
    assert answer.status_code == 500
    assert "no_such_column" in caplog.text  # the error is logged...
    assert "SEARCHTERM" not in caplog.text  # ...without the values it was given


# -- the way `make run` serves it ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_target_options() -> list[str]:
    """The gunicorn options of the Makefile's ``run`` target, but bind and workers."""
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    line = next(part for part in recipe.splitlines() if "gunicorn" in part)
    options = line.split("gunicorn", 1)[1].split()
    assert options[-1] == "wsgi:app"
    kept, skip = [], False
    for option in options[:-1]:
        if skip:
            skip = False
        elif option in ("--bind", "--workers"):
            skip = True
        else:
            kept.append(option)
    return kept


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    return answer.status


def test_make_run_logs_json_lines_without_tokens_or_search_text(database_url, tmp_path):
    port = free_port()
    instance = tmp_path / "instance"
    factory = (
        "portal:create_app("
        + repr({"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET, "INSTANCE_PATH": str(instance)})
        + ")"
    )
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    command = [sys.executable, "-m", "gunicorn", *run_target_options(), "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "2", factory]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        env = os.environ | {"PYTHONUNBUFFERED": "1"}
        server = subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=stderr, env=env)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if request(port, "GET", "/healthz") == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline and server.poll() is None, err.read_text()
                time.sleep(0.3)
            assert request(port, "GET", "/auth/confirm/CONFIRMTOKEN1234567890") == 303
            assert request(port, "GET", "/auth/reset/RESETTOKEN1234567890") == 303
            assert request(port, "GET", "/verify/VERIFYCODE12345") == 404
            assert request(port, "GET", "/clinics?q=SEARCHTERM") == 200
            assert request(port, "GET", "/nowhere/SECRETPART") == 404
            report = request(port, "POST", "/csp-report", CSP_BODY, {"Content-Type": "application/csp-report"})
            assert report == 204
        finally:
            server.terminate()
            server.wait(timeout=30)
            if ON_POSTGRES and database_template_url(database_url):
                empty_all_tables(make_app(database_url, tmp_path))  # what the server wrote, if anything
    output = out.read_text() + err.read_text()
    entries = lines_of(output)  # every line, gunicorn's own included, is one JSON object
    for secret in ("CONFIRMTOKEN", "RESETTOKEN", "VERIFYCODE", "SEARCHTERM", "SECRETPART"):
        assert secret not in output
    paths = {(e.get("path"), e.get("status")) for e in entries if e.get("logger") == "gunicorn.access"}
    assert {
        ("/auth/confirm/<token>", 303),
        ("/auth/reset/<token>", 303),
        ("/verify/<code>", 404),
        ("/clinics", 200),
        ("/nowhere/…", 404),
        ("/csp-report", 204),
    } <= paths
    assert not re.search(r"^\d{4}-\d{2}-\d{2} ", output, re.MULTILINE)  # no forged line
    assert any(FORGED in str(e.get("reports")) for e in entries)  # the report is there, inside its line


def test_only_ids_and_fixed_words_of_any_route_reach_the_access_log(app):
    """Every route, whatever it is called with: a free-text part of its path (a token, a code, a
    file name) is masked in what the access log shows; ids and fixed words stay."""
    from werkzeug.routing import AnyConverter, IntegerConverter

    from portal.logs import masked_path

    checked = 0
    for rule in app.url_map.iter_rules():
        values = {}
        for name, conv in rule._converters.items():
            if isinstance(conv, IntegerConverter):
                values[name] = 4242
            elif isinstance(conv, AnyConverter):
                values[name] = sorted(conv.items)[0]
            else:
                values[name] = "SECRETPART"
        path = rule.build(values, append_unknown=False)[1]
        method = "GET" if "GET" in rule.methods else "POST"
        shown = masked_path(app.url_map, path, method)
        assert "SECRETPART" not in shown, (rule.rule, shown)
        if values:
            assert ("4242" in shown) == (4242 in values.values()), (rule.rule, shown)
        checked += 1
    assert checked > 100
    assert masked_path(app.url_map, "/auth/reset/abc") == "/auth/reset/<token>"
