"""Fixtures: an app on a clean database per test, a client, and a CSRF-aware form poster.

The database is SQLite by default. With ``PORTAL_TEST_DB=postgresql`` the same tests run on the
PostgreSQL at ``PORTAL_TEST_DATABASE_URL``: a fresh database is created for the session,
migrated once, and emptied after each test. The databases and the demo data come from the author's
kit (``portal.testing``), which plugin authors test with too.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.database import db
from portal.testing import database
from portal.testing.database import (  # noqa: F401 (tests import these from here)
    ON_POSTGRES,
    TEST_SECRET,
    database_template_url,
    empty_all_tables,
)
from portal.testing.people import seed_people, session_for  # noqa: F401 (tests import these from here)

# The author's kit's fixtures (portal/testing/plugin.py), here as well as through its pytest11 entry
# point: the session's databases are the kit's, made once, and tests/test_testing_kit.py tests them.
from portal.testing.plugin import (  # noqa: F401
    check_page,
    client_as,
    count_queries,
    demo_cards,
    portal_app,
    portal_browser,
    portal_database_template,
    portal_seeded_demo,
)
from portal.testing.web import csrf_token, outbox  # noqa: F401 (tests import these from here)


@pytest.fixture(scope="session")
def database_template(request) -> str:
    """SQLite: the path of a migrated database file to copy. PostgreSQL: the test database URL."""
    return request.getfixturevalue("portal_database_template")


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
    instance folder in ``tmp_path``; yields its URL. The demo is seeded once per session (its years
    of history take half a second to generate); seed_demo then finds nothing to add."""
    with database.demo_copy(request.getfixturevalue("portal_seeded_demo"), tmp_path) as url:
        yield url


def make_app(database_url: str, tmp_path: Path, **overrides) -> Flask:
    # An SMS channel (it keeps what it sends), as a deployment with a gateway has: without one the
    # portal sends every code by e-mail (tests/test_sms.py covers that).
    overrides.setdefault("TESTING_PLUGINS", ["tests.fixture_plugins.sms_gateway"])
    return database.make_app(database_url, tmp_path, **overrides)


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


@pytest.fixture
def login(app):
    """``login(key_or_account, stage="complete")`` → a new client signed in as that person."""

    def make(account, stage: str = "complete"):
        client = app.test_client()
        session_for(app, client, account.id, stage)
        return client

    return make


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
