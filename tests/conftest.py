"""Fixtures: an app on a clean database per test, a client, and a CSRF-aware form poster.

The database is SQLite by default. With ``PORTAL_TEST_DB=postgresql`` the same tests run on the
PostgreSQL at ``PORTAL_TEST_DATABASE_URL``: a fresh database is created for the session,
migrated once, and emptied after each test.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.database import db

TEST_SECRET = "test-secret-key-that-is-long-enough-for-production-0123456789"
ON_POSTGRES = os.environ.get("PORTAL_TEST_DB") == "postgresql"


def migrate(url: str, instance: Path) -> None:
    """The core's migrations, then those of every enabled plugin (as ``flask db upgrade``)."""
    from flask_migrate import upgrade

    from portal.plugin_host_data import migrate_plugins

    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": TEST_SECRET, "INSTANCE_PATH": str(instance)})
    with app.app_context():
        upgrade()
        migrate_plugins(app)
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> Iterator[str]:
    """SQLite: the path of a migrated database file to copy. PostgreSQL: the test database URL."""
    base = tmp_path_factory.mktemp("db")
    if not ON_POSTGRES:
        path = base / "template.db"
        migrate(f"sqlite:///{path}", base)
        yield str(path)
        return
    server_url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not server_url:
        pytest.exit("PORTAL_TEST_DB=postgresql needs PORTAL_TEST_DATABASE_URL", returncode=2)
    name = f"medkarta_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url, base)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def seeded_template(database_template: str, tmp_path_factory) -> Path:
    """SQLite: a folder with a migrated database already holding the demo data (its years of
    history take half a second to generate) and the instance folder its files and data key
    live in. Tests that ask for ``demo`` start from a copy; seed_demo then finds nothing to add."""
    from portal.demodata.seed import seed_demo

    base = tmp_path_factory.mktemp("seeded")
    shutil.copyfile(database_template, base / "medkarta.db")
    app = make_app(f"sqlite:///{base / 'medkarta.db'}", base)
    with app.app_context():
        seed_demo()
        db.session.remove()
        db.engine.dispose()
    return base


@pytest.fixture(scope="session")
def pg_seeded_template(database_template: str, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """PostgreSQL: a database holding the migrated schema and the demo data, cloned (CREATE
    DATABASE … TEMPLATE) for each test that asks for ``demo``, with its instance folder."""
    from portal.demodata.seed import seed_demo

    base = tmp_path_factory.mktemp("pgseeded")
    name = f"medkarta_seed_{uuid.uuid4().hex[:8]}"
    url = sa.make_url(database_template)
    # Connected to the server's own database: a template database must have no other sessions.
    admin = sa.create_engine(os.environ["PORTAL_TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
    seeded_url = url.set(database=name).render_as_string(hide_password=False)
    app = make_app(seeded_url, base)
    with app.app_context():
        seed_demo()
        db.session.remove()
        db.engine.dispose()
    try:
        yield name, base
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(request, database_template: str, tmp_path: Path) -> Iterator[str]:
    if "demo" in request.fixturenames:
        yield from demo_database(request, database_template, tmp_path)
        return
    if ON_POSTGRES:
        yield database_template
        return
    path = tmp_path / "medkarta.db"
    shutil.copyfile(database_template, path)
    yield f"sqlite:///{path}"


def demo_database(request, database_template: str, tmp_path: Path) -> Iterator[str]:
    """A copy of the seeded demo database of its own (on PostgreSQL a clone, dropped after) with its
    instance folder in ``tmp_path``; yields its URL."""
    if ON_POSTGRES:
        template, instance = request.getfixturevalue("pg_seeded_template")
        url = sa.make_url(database_template)
        name = f"medkarta_t_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(os.environ["PORTAL_TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        shutil.copytree(instance / "instance", tmp_path / "instance")
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return
    path = tmp_path / "medkarta.db"
    seeded = request.getfixturevalue("seeded_template")
    shutil.copyfile(seeded / "medkarta.db", path)
    shutil.copytree(seeded / "instance", tmp_path / "instance")
    yield f"sqlite:///{path}"


def make_app(database_url: str, tmp_path: Path, **overrides) -> Flask:
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "RATELIMIT_ENABLED": False,
        "PLUGINS_RAISE_ERRORS": True,
        # An SMS channel (it keeps what it sends), as a deployment with a gateway has: without one the
        # portal sends every code by e-mail (tests/test_sms.py covers that).
        "TESTING_PLUGINS": ["tests.fixture_plugins.sms_gateway"],
    }
    config.update(overrides)
    return create_app(config)


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


@pytest.fixture
def app_factory(database_url: str, tmp_path: Path) -> Iterator:
    """Build apps with config overrides; every one of them is cleaned up after the test."""
    made: list[Flask] = []

    def factory(**overrides) -> Flask:
        app = make_app(database_url, tmp_path, **overrides)
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if ON_POSTGRES and made and database_url == database_template_url(database_url):
        cleaner = make_app(database_url, tmp_path)
        empty_all_tables(cleaner)
        # No connection may stay open on the session database: it is the template the demo
        # database is cloned from, and CREATE DATABASE … TEMPLATE refuses a database in use.
        with cleaner.app_context():
            db.engine.dispose()


@pytest.fixture
def app(app_factory) -> Flask:
    return app_factory()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token of this client's session, read from a page as a browser would."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_META.search(html)
    assert match, f"no csrf-token meta on {path}"
    return match.group(1)


@pytest.fixture
def post_form(client: FlaskClient):
    """POST a form the way a browser does: with the session's CSRF token in the body."""

    def post(path: str, data: dict | None = None, **kwargs):
        body = dict(data or {})
        body.setdefault("csrf_token", csrf_token(client))
        return client.post(path, data=body, **kwargs)

    return post


# -- people: the demo accounts, and clients signed in as them ------------------------------------


@pytest.fixture
def demo(app, demo_factory):
    """Seed the demo data; return {key: account} plus the children's patients."""
    return demo_factory(app)


@pytest.fixture
def demo_factory():
    return seed_people


def seed_people(app):
    from portal.auth.models import Account
    from portal.demodata.people import CHILDREN, PEOPLE, email_of
    from portal.demodata.seed import seed_demo
    from portal.identifiers import make_snils
    from portal.record.models import Patient

    with app.app_context():
        seed_demo()
        people = {p.key: db.session.scalar(sa.select(Account).where(Account.email == email_of(p))) for p in PEOPLE}
        for key, *_rest, snils9 in CHILDREN:
            people[key] = db.session.scalar(sa.select(Patient).where(Patient.snils == make_snils(snils9)))
        db.session.expunge_all()
    return people


def session_for(app, client, account_id: int, stage: str = "complete") -> str:
    """Give ``client`` a server session for the account, as the sign-in flow would at ``stage``."""
    from portal.auth import service
    from portal.auth.models import Account
    from portal.database import write_transaction

    with app.app_context(), write_transaction():
        account = db.session.get(Account, account_id)
        token, _row = service.start_session(account, stage, "127.0.0.1", "pytest")
    with client.session_transaction() as cookie:
        cookie.clear()
        cookie["sid"] = token
    return token


@pytest.fixture
def login(app):
    """``login(key_or_account, stage="complete")`` → a new client signed in as that person."""

    def make(account, stage: str = "complete"):
        client = app.test_client()
        session_for(app, client, account.id, stage)
        return client

    return make


def outbox(app, recipient: str | None = None) -> list:
    from portal.notify.models import OutboxMessage

    with app.app_context():
        query = sa.select(OutboxMessage).order_by(OutboxMessage.id)
        if recipient:
            query = query.where(OutboxMessage.recipient == recipient)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
    return rows


def last_code(app, recipient: str) -> str:
    body = outbox(app, recipient)[-1].body
    return re.search(r"\b(\d{6})\b", body).group(1)


def audit_log_verifies():
    """Seal the audit events written so far, then check the whole log (in an app context): the
    verdict, truthy when the log is intact."""
    from portal.audit.sealer import seal_pending
    from portal.audit.verify import verify

    seal_pending()
    verdict = verify()
    assert verdict.checked > 0, "nothing was sealed"
    return verdict
