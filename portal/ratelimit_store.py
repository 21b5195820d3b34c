"""Rate-limit counters in a SQLite file, shared by every worker process on the machine.

Flask-Limiter's default store is each process's memory, so ``make run``'s two gunicorn workers
would each allow the whole limit. This store keeps the counters in ``instance/ratelimits.db``
(its own file: the limits never wait for the database's write lock, and no migration is needed),
registered with the ``limits`` library as the scheme ``portal+sqlite``. It is the default;
``PORTAL_RATELIMIT_STORAGE_URI=redis://…`` replaces it when several machines serve the portal.

Only a rate-limited request touches it: Flask-Limiter asks the store about a request only when
its endpoint has a limit, and the portal sets no application-wide or default limit.

Every change is one statement or one ``BEGIN IMMEDIATE`` transaction, so two processes counting
the same key at once cannot both take the last place. The fixed-window (Flask-Limiter's default),
moving-window and sliding-window strategies are supported.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from math import floor
from pathlib import Path
from urllib.parse import urlsplit

from limits.storage import MovingWindowSupport, SlidingWindowCounterSupport, Storage
from limits.storage.base import TimestampedSlidingWindow

SCHEME = "portal+sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS counter (key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS entry (key TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS entry_key_at ON entry (key, at);
CREATE INDEX IF NOT EXISTS entry_expires ON entry (expires);
CREATE INDEX IF NOT EXISTS counter_expires ON counter (expires);
"""
# Expired rows are deleted by every so many writes of a process, not on each one.
PURGE_EVERY = 200


def uri_for(path: Path) -> str:
    """The storage URI of the SQLite file at ``path``."""
    return f"{SCHEME}://{path.resolve()}"


class SQLiteStorage(Storage, MovingWindowSupport, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """A ``limits`` storage in one SQLite file (see the module's docstring)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        path = urlsplit(uri or "").path
        if not path:
            raise ValueError(f"{SCHEME}:// needs the path of a file, e.g. {SCHEME}:///var/lib/medkarta/ratelimits.db")
        self.path = Path(path)
        self.timeout = float(options.get("timeout", 5))
        self._local = threading.local()
        self._writes = 0
        super().__init__(uri, wrap_exceptions=wrap_exceptions)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    # -- connection: one per thread of each process, opened on first use ---------------------------

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():  # a forked worker opens its own
            if not self.path.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # The keys can hold what someone typed as a login: readable by the portal only.
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _wrote(self, conn: sqlite3.Connection, now: float) -> None:
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            conn.execute("DELETE FROM counter WHERE expires <= ?", (now,))
            conn.execute("DELETE FROM entry WHERE expires <= ?", (now,))

    # -- fixed window -----------------------------------------------------------------------------

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add ``amount`` to the key's counter, starting a new window of ``expiry`` seconds when
        the last one is over; the new count. One statement, so concurrent workers cannot race."""
        now = time.time()
        conn = self._db()
        (value,) = conn.execute(
            "INSERT INTO counter (key, value, expires) VALUES (:key, :amount, :now + :expiry) "
            "ON CONFLICT (key) DO UPDATE SET "
            "value = CASE WHEN expires <= :now THEN :amount ELSE value + :amount END, "
            "expires = CASE WHEN expires <= :now THEN :now + :expiry ELSE expires END "
            "RETURNING value",
            {"key": key, "amount": amount, "now": now, "expiry": expiry},
        ).fetchone()
        self._wrote(conn, now)
        return value

    def decr(self, key: str, amount: int = 1) -> int:
        """Take ``amount`` back (the sliding window undoes a hit that lost a race)."""
        row = (
            self._db()
            .execute(
                "UPDATE counter SET value = max(value - ?, 0) WHERE key = ? AND expires > ? RETURNING value",
                (amount, key, time.time()),
            )
            .fetchone()
        )
        return row[0] if row else 0

    def get(self, key: str) -> int:
        query = "SELECT value FROM counter WHERE key = ? AND expires > ?"
        row = self._db().execute(query, (key, time.time())).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        row = self._db().execute("SELECT expires FROM counter WHERE key = ? AND expires > ?", (key, now)).fetchone()
        return row[0] if row else now

    def clear(self, key: str) -> None:
        conn = self._db()
        conn.execute("DELETE FROM counter WHERE key = ?", (key,))
        conn.execute("DELETE FROM entry WHERE key = ?", (key,))

    def check(self) -> bool:
        try:
            self._db().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        conn = self._db()
        with _immediate(conn):
            count = conn.execute("SELECT (SELECT count(*) FROM counter) + (SELECT count(*) FROM entry)").fetchone()[0]
            conn.execute("DELETE FROM counter")
            conn.execute("DELETE FROM entry")
        return count

    # -- moving window ----------------------------------------------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        conn = self._db()
        with _immediate(conn):
            query = "SELECT count(*) FROM entry WHERE key = ? AND at > ?"
            (taken,) = conn.execute(query, (key, now - expiry)).fetchone()
            if taken + amount > limit:
                return False
            rows = [(key, now, now + expiry)] * amount
            conn.executemany("INSERT INTO entry (key, at, expires) VALUES (?, ?, ?)", rows)
        self._wrote(conn, now)
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        oldest, taken = (
            self._db()
            .execute("SELECT min(at), count(*) FROM entry WHERE key = ? AND at > ?", (key, now - expiry))
            .fetchone()
        )
        return (oldest if taken else now), taken

    # -- sliding window counter (as limits' memory storage does it, on the counters above) ----------

    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous, previous_ttl, current, _ttl = self._window(previous_key, current_key, expiry, now)
        if floor(previous * previous_ttl / expiry + current) + amount > limit:
            return False
        current = self.incr(current_key, 2 * expiry, amount=amount)
        if floor(previous * previous_ttl / expiry + current) > limit:
            self.decr(current_key, amount)  # another worker took the last place first
            return False
        return True

    def _window(self, previous_key: str, current_key: str, expiry: int, now: float) -> tuple[int, float, int, float]:
        previous, current = self.get(previous_key), self.get(current_key)
        previous_ttl = 0.0 if previous == 0 else (1 - (((now - expiry) / expiry) % 1)) * expiry
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, previous_ttl, current, current_ttl

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        now = time.time()
        return self._window(*self.sliding_window_keys(key, expiry, now), expiry, now)

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self.sliding_window_keys(key, expiry, time.time()):
            self.clear(window_key)


class _immediate:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on an exception): the write lock is taken
    before the read, so two workers cannot both read the same count and both add to it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind, _value, _traceback) -> None:
        self.conn.execute("ROLLBACK" if kind else "COMMIT")
