"""The database: the declarative base, SQLite tuning and the one way to write.

SQLite runs in WAL mode with foreign keys on and a busy timeout. Reads use ordinary (deferred)
transactions; every write goes through ``write_transaction()``, which ends any read snapshot and
starts ``BEGIN IMMEDIATE``. A deferred transaction that later writes can fail at once with
"database is locked" when another writer got in first (the busy timeout does not apply to a lock
upgrade), so taking the write lock up front is what keeps concurrent writers from deadlocking.
On PostgreSQL the same function is an ordinary transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, String, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects stay readable after a write commits (no refresh query per row when a page shows them).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})

_write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)


def name_column(length: int = 200) -> String:
    """A string column for people's and organisations' names: Russian collation on PostgreSQL
    (its default C.UTF-8 collation sorts «Ёлка» before «азбука»)."""
    return String(length).with_variant(String(length, collation="ru-x-icu"), "postgresql")


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN, so we can choose IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # On the driver's connection: through exec_driver_sql it cost as much as a query (30 µs).
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


@contextmanager
def write_transaction(session: Session | None = None, reread: bool = True) -> Iterator[Session]:
    """Run the block in one write transaction: commit on success, roll back on any error.

    Nothing half-written is kept: either every change in the block lands or none does.
    ``reread=False`` keeps loaded objects as they are, for a block that reads nothing and only
    inserts (``audit.audited_read``'s events).
    """
    session = session or db.session()  # the request's Session behind the scoped proxy
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("changes were made outside write_transaction()")
        session.commit()  # end the read snapshot so the write lock is taken fresh
    # Objects stay loaded after a commit (no refresh per row when a page shows them), so inside a
    # write everything is read again, under the write lock: no decision on a stale value. Except
    # what ``keep_loaded`` named: the identity this request was let in with, which may not change.
    kept = session.info.get(KEPT)
    if not reread:
        pass
    elif kept:
        for instance in list(session.identity_map.values()):
            if id(instance) not in kept:
                session.expire(instance)
    else:
        session.expire_all()
    token = _write_intent.set(True)
    try:
        with session.begin():
            yield session
    except BaseException:
        session.info.pop(AFTER_COMMIT, None)
        for callback in session.info.pop(AFTER_ROLLBACK, []):
            callback()
        raise
    finally:
        _write_intent.reset(token)
    session.info.pop(AFTER_ROLLBACK, None)
    for callback in session.info.pop(AFTER_COMMIT, []):
        callback()


AFTER_COMMIT = "portal.after_commit"
AFTER_ROLLBACK = "portal.after_rollback"
KEPT = "portal.kept"


def keep_loaded(*instances: object) -> None:
    """Let this request's write transactions use ``instances`` as loaded instead of reading them
    again: for what a request was let in with and only reads (the signed-in account, its roles and
    its session, checked moments before at the start of a card page, whose only write is the audit
    event). A transaction that changes one of them fails rather than write a stale row. Lasts as
    long as the request's database session."""
    kept = db.session().info.setdefault(KEPT, {})
    kept.update((id(instance), instance) for instance in instances)


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_kept(session: Session, _context, _instances) -> None:
    kept = session.info.get(KEPT)
    if kept and any(id(instance) in kept for instance in (*session.dirty, *session.deleted)):
        raise RuntimeError("an object kept loaded for this request (keep_loaded) was changed: read it again")


def rows(statement, values: dict | None = None) -> list:
    """The rows of a Core statement that names columns (not mapped objects), run on the request
    session's connection and transaction: the ORM's own path (flush, compile state, result
    wrapping) costs twice the statement on SQLite. For reads only: nothing pending is flushed."""
    return db.session.connection().execute(statement, values or {}).all()


def scalar(statement, values: dict | None = None):
    """The first column of the first row (``rows``'s way), or None."""
    return db.session.connection().execute(statement, values or {}).scalar()


def in_write_transaction() -> bool:
    """Whether the code runs inside ``write_transaction()``."""
    return _write_intent.get()


def after_commit(callback) -> None:
    """Run ``callback`` once the current write transaction has committed (never if it rolls
    back): for work that must not happen for an action that did not, such as sending e-mail."""
    callbacks = db.session().info.setdefault(AFTER_COMMIT, [])
    if callback not in callbacks:
        callbacks.append(callback)


def after_rollback(callback) -> None:
    """Run ``callback`` if the current write transaction rolls back (never if it commits): to
    undo what lives outside the database, such as a file written for a row that never was."""
    if not _write_intent.get():
        raise RuntimeError("after_rollback() outside write_transaction()")
    db.session().info.setdefault(AFTER_ROLLBACK, []).append(callback)


QUEUE_SIZE = 100  # a registrar's work queue shows the oldest this many open requests


def work_queue(query, scalars: bool = True) -> tuple[list, int]:
    """The oldest ``QUEUE_SIZE`` rows of a work queue (``query`` filtered and ordered) and how
    many it holds in all, so the page can say so. Two queries whatever the size of the queue."""
    from sqlalchemy import func, select

    limited = query.limit(QUEUE_SIZE)
    rows = list(db.session.scalars(limited)) if scalars else [tuple(r) for r in db.session.execute(limited)]
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return rows, total
