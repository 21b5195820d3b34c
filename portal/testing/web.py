"""What a test reads back from the portal: the CSRF token of a client's session, the outbox, and the
SQL statements a block of code sent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.database import db

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token of this client's session, read from a page as a browser would."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_META.search(html)
    assert match, f"no csrf-token meta on {path}"
    return match.group(1)


def outbox(app: Flask, recipient: str | None = None) -> list:
    """The messages the portal has queued (e-mail and SMS), oldest first."""
    from portal.notify.models import OutboxMessage

    with app.app_context():
        query = sa.select(OutboxMessage).order_by(OutboxMessage.id)
        if recipient:
            query = query.where(OutboxMessage.recipient == recipient)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
    return rows


@contextmanager
def recorded_statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs, without transaction control and pragmas."""
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if not statement.startswith(("PRAGMA", "BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
