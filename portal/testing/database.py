"""Test databases: one migrated template per test session, a copy (SQLite) or a clone (PostgreSQL)
for each test, and the app on it.

SQLite by default. With ``PORTAL_TEST_DB=postgresql`` the same tests run on the PostgreSQL server at
``PORTAL_TEST_DATABASE_URL``: a database of their own is created for the session, migrated once, and
dropped at the end; a test with the demo data gets a clone of a seeded one (CREATE DATABASE …
TEMPLATE), dropped after it."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from portal import create_app
from portal.database import db

TEST_SECRET = "test-secret-key-that-is-long-enough-for-production-0123456789"  # noqa: S105 - tests only
ON_POSTGRES = os.environ.get("PORTAL_TEST_DB") == "postgresql"


class TestDatabaseError(RuntimeError):
    """The test database cannot be set up (PostgreSQL asked for without its URL)."""


def server_url() -> str:
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not url:
        raise TestDatabaseError("PORTAL_TEST_DB=postgresql needs PORTAL_TEST_DATABASE_URL")
    return url


def base_config(database_url: str, instance: Path) -> dict:
    """The settings every test app starts from: TESTING on, no rate limits, plugin errors raised."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "INSTANCE_PATH": str(instance),
        "RATELIMIT_ENABLED": False,
        "PLUGINS_RAISE_ERRORS": True,
    }


def make_app(database_url: str, tmp_path: Path, **overrides) -> Flask:
    """An app in testing mode on ``database_url`` whose instance folder is ``tmp_path/instance``."""
    config = base_config(database_url, tmp_path / "instance")
    config.update(overrides)
    return create_app(config)


def migrate(url: str, instance: Path) -> None:
    """The core's migrations, then those of every enabled plugin (as ``flask db upgrade``)."""
    from flask_migrate import upgrade

    from portal.plugin_host_data import migrate_plugins

    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": TEST_SECRET, "INSTANCE_PATH": str(instance)})
    with app.app_context():
        upgrade()
        migrate_plugins(app)
        db.engine.dispose()


def _admin() -> sa.Engine:
    return sa.create_engine(server_url(), isolation_level="AUTOCOMMIT")


def _create_database(template: str | None = None, prefix: str = "medkarta_t_") -> str:
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    return name


def _drop_database(name: str) -> None:
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _url_of(name: str) -> str:
    return sa.make_url(server_url()).set(database=name).render_as_string(hide_password=False)


@contextmanager
def migrated_template(base: Path) -> Iterator[str]:
    """SQLite: the path of a migrated database file to copy. PostgreSQL: the URL of a migrated
    database of this session's own (its name starts ``medkarta_test_``), dropped at the end."""
    if not ON_POSTGRES:
        path = base / "template.db"
        migrate(f"sqlite:///{path}", base)
        yield str(path)
        return
    name = _create_database(prefix="medkarta_test_")
    try:
        migrate(_url_of(name), base)
        yield _url_of(name)
    finally:
        _drop_database(name)


@dataclass(frozen=True)
class SeededDemo:
    """The demo data, seeded once: a database to copy (SQLite file or PostgreSQL template database),
    the instance folder its files and data key live in, and the demo cards' ids by demo key."""

    database: str  # SQLite: file path; PostgreSQL: database name
    instance: Path
    cards: dict[str, int] = field(default_factory=dict)


@contextmanager
def seeded_demo(database_template: str, base: Path) -> Iterator[SeededDemo]:
    """A database holding the migrated schema and the demo data (its years of history take half a
    second to generate), made once per session; tests start from a copy of it."""
    from portal.demodata.seed import seed_demo

    if ON_POSTGRES:
        # A template database must have no other sessions: clone the migrated one, then seed it.
        name = _create_database(template=sa.make_url(database_template).database, prefix="medkarta_seed_")
        url, database = _url_of(name), name
    else:
        shutil.copyfile(database_template, base / "medkarta.db")
        url, database = f"sqlite:///{base / 'medkarta.db'}", str(base / "medkarta.db")
    try:
        app = make_app(url, base)
        with app.app_context():
            seed_demo()
            from portal.testing.people import card_ids

            cards = card_ids()
            db.session.remove()
            db.engine.dispose()
        yield SeededDemo(database, base / "instance", cards)
    finally:
        if ON_POSTGRES:
            _drop_database(name)


@contextmanager
def demo_copy(seeded: SeededDemo, tmp_path: Path) -> Iterator[str]:
    """A copy of the seeded demo of its own (on PostgreSQL a clone, dropped after) with its instance
    folder in ``tmp_path/instance``; yields its URL."""
    shutil.copytree(seeded.instance, tmp_path / "instance")
    with _copy(seeded.database, tmp_path) as url:
        yield url


@contextmanager
def empty_copy(database_template: str, tmp_path: Path) -> Iterator[str]:
    """A copy of the migrated, empty database of its own (on PostgreSQL a clone, dropped after)."""
    source = sa.make_url(database_template).database if ON_POSTGRES else database_template
    with _copy(source, tmp_path) as url:
        yield url


@contextmanager
def _copy(source: str, tmp_path: Path) -> Iterator[str]:
    """SQLite: copy the file ``source`` to ``tmp_path``. PostgreSQL: clone the database ``source``."""
    if not ON_POSTGRES:
        shutil.copyfile(source, tmp_path / "medkarta.db")
        yield f"sqlite:///{tmp_path / 'medkarta.db'}"
        return
    name = _create_database(template=source)
    try:
        yield _url_of(name)
    finally:
        _drop_database(name)


def database_template_url(url: str) -> str | None:
    """The shared session database's URL, when ``url`` is it (a per-test clone is dropped instead)."""
    name = sa.make_url(url).database or ""
    return url if name.startswith("medkarta_test_") else None


def empty_all_tables(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if ON_POSTGRES:
                # The audit log refuses deletion by trigger; tests reset it as a superuser would (as a
                # replica: no triggers, no foreign-key checks). DELETE, not TRUNCATE: on these nearly
                # empty tables TRUNCATE's new files for 60 tables and their indexes took 1.1 s a test,
                # DELETE 10 ms. The sequences start again as RESTART IDENTITY would have them.
                conn.execute(sa.text("SET session_replication_role = replica"))
                for table in tables:
                    conn.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 (names from our metadata)
                conn.execute(
                    sa.text(
                        "SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s"
                        " JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = current_schema()::regnamespace"
                    )
                )
            else:
                for table in tables:
                    conn.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 (names from our metadata)
        # Close the pool too: a connection left open to the shared database would stop the
        # next test that clones it as a template ("being accessed by other users").
        db.engine.dispose()


def dispose(app: Flask) -> None:
    """Close the app's connections (a PostgreSQL database in use cannot be dropped or cloned)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
