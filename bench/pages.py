"""The pages ``make bench`` measures and the SQL statement budget of each: one table, read by the
benchmark (bench/run.py) and by the test that keeps the budgets (tests/test_bench_pages.py), so
the two cannot drift apart.

A page is found as a person finds it: by following the first link that matches ``link`` on the
page ``found_on`` (another page of this table, or a fixed path), starting from the demo patient's
session. ``budget`` is the most SQL statements one request of the page may send on the demo data
set after the session's first page (the test fails above it; lower it when a page gets cheaper).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench.client import first_link


@dataclass(frozen=True)
class Page:
    name: str
    label: str
    found_on: str | None  # the name of another page here, or a path; None: ``link`` is the path
    link: str  # a regular expression for the href to follow (or the path itself)
    budget: int


PAGES: tuple[Page, ...] = (
    Page("home", "home `/`", None, "/", 3),
    Page("directory", "directory `/clinics`", None, "/clinics", 5),
    Page("dashboard", "card dashboard", "/cards", r"/card/\d+", 12),
    Page("results", "results list", "dashboard", r"/card/\d+/results", 8),
    Page("entry", "one result", "results", r"/card/\d+/results/\d+", 8),
    Page("trend", "one trend", "entry", r"/card/\d+/results/trend/[^\"/?]+", 6),
    Page("access_log", "access log", "dashboard", r"/card/\d+/access-log", 6),
    Page("inbox", "inbox", "home", r"/notifications", 5),
    # Booking (issue 10): the card's appointments, the ticket, and the steps as a person takes them
    # (the first specialty, any doctor, the first day with free times).
    Page("appointments", "appointments", "dashboard", r"/card/\d+/appointments", 6),
    Page("ticket", "ticket", "appointments", r"/card/\d+/appointments/\d+", 6),
    Page("book", "booking: specialty", "appointments", r"/card/\d+/appointments/book", 6),
    Page("book_doctor", "booking: doctor", "book", r"/card/\d+/appointments/book/doctor\?[^\"]+", 6),
    Page("book_date", "booking: date", "book_doctor", r"/card/\d+/appointments/book/date\?[^\"]+", 6),
    Page("book_time", "booking: time", "book_date", r"/card/\d+/appointments/book/time\?[^\"]+", 6),
)

BY_NAME = {page.name: page for page in PAGES}


def resolve(client) -> dict[str, str]:
    """``{page name: path}`` for a signed-in client (bench.client's interface)."""
    found: dict[str, str] = {}
    for page in PAGES:
        if page.found_on is None:
            found[page.name] = page.link
            continue
        start = found.get(page.found_on, page.found_on)
        found[page.name] = first_link(client, start, page.link)
    for name, path in found.items():
        if not re.fullmatch(BY_NAME[name].link, path):
            raise RuntimeError(f"{name}: {path} does not match {BY_NAME[name].link}")
    return found


@contextmanager
def recorded_statements(engine) -> Iterator[list[str]]:
    """The SQL statements sent on ``engine`` while the block runs, without transaction control
    and pragmas (as tests/test_htmx.py counts them)."""
    import sqlalchemy as sa

    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if not statement.startswith(("PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def count_statements(app, client, paths: dict[str, str]) -> dict[str, int]:
    """SQL statements per page, in-process: ``client`` is a ``bench.client.FlaskClient`` signed in
    on ``app``. Each page is requested once first (the way the benchmark's load repeats it)."""
    from portal.database import db

    with app.app_context():
        engine = db.engine
    counts: dict[str, int] = {}
    for name, path in paths.items():
        client.get(path)
        with recorded_statements(engine) as statements:
            answer = client.get(path)
        if answer.status != 200:
            raise RuntimeError(f"{name}: GET {path} answered {answer.status}")
        counts[name] = len(statements)
    return counts
