"""portal.testing's pytest plugin (entry point ``medkarta`` in the group ``pytest11``): fixtures for
testing a plugin against the real portal.

- ``portal_app(plugins=[...])`` makes an app with only those plugins enabled, in testing mode, on a
  fresh migrated database of its own holding the demo data;
- ``client_as("doctor")`` is a test client signed in as that demo person (``ROLES`` lists them);
- ``demo_cards`` maps the demo people's keys to their cards' (patients') ids;
- ``count_queries()`` counts the SQL statements a block sends;
- ``check_page("/path")`` opens a page in Chromium and runs axe in Russian and English, in every
  theme, JavaScript on and off.

Every name starts ``portal_`` or says what it is, so none collides with a project's own fixtures
(``app``, ``client``). The databases are SQLite, or PostgreSQL with ``PORTAL_TEST_DB=postgresql``
and ``PORTAL_TEST_DATABASE_URL``, as for the portal's own tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.plugin_host_data import migrate_plugins
from portal.testing import database, people, web

__all__ = [
    "check_page",
    "client_as",
    "count_queries",
    "demo_cards",
    "portal_app",
    "portal_browser",
    "portal_database_template",
    "portal_seeded_demo",
]


@pytest.fixture(scope="session")
def portal_database_template(tmp_path_factory) -> Iterator[str]:
    """The session's migrated, empty database: SQLite, the path of a file to copy; PostgreSQL, the
    URL of a database of its own, dropped at the end."""
    try:
        with database.migrated_template(tmp_path_factory.mktemp("db")) as template:
            yield template
    except database.TestDatabaseError as exc:
        pytest.exit(str(exc), returncode=2)


@pytest.fixture(scope="session")
def portal_seeded_demo(portal_database_template: str, tmp_path_factory) -> Iterator[database.SeededDemo]:
    """The demo data seeded once per session, which every app with the demo starts from a copy of."""
    with database.seeded_demo(portal_database_template, tmp_path_factory.mktemp("seeded")) as seeded:
        yield seeded


class PortalApps:
    """``portal_app``: makes apps and remembers them, so a test's helpers know which app it means
    and every database and server is closed (and on PostgreSQL dropped) after the test."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path, stack: ExitStack) -> None:
        self._request = request
        self._tmp_path = tmp_path
        self._stack = stack
        self.made: list[Flask] = []

    def __call__(
        self, plugins: Sequence[str] = (), *, testing_plugins: Sequence[str] = (), demo: bool = True, **config
    ) -> Flask:
        """An app with only ``plugins`` (entry-point names) enabled, plus ``testing_plugins``
        (import paths of modules that are not installed), on a fresh database holding the demo data
        (``demo=False``: empty). ``config`` adds settings, e.g. ``PLUGIN_CONFIG``."""
        base = self._tmp_path / f"portal-{len(self.made) + 1}"
        base.mkdir()
        if demo:
            seeded = self._request.getfixturevalue("portal_seeded_demo")
            url = self._stack.enter_context(database.demo_copy(seeded, base))
        else:
            template = self._request.getfixturevalue("portal_database_template")
            url = self._stack.enter_context(database.empty_copy(template, base))
        settings = {"PLUGINS": list(plugins), "TESTING_PLUGINS": list(testing_plugins), **config}
        app = database.make_app(url, base, **settings)
        self._stack.callback(database.dispose, app)
        with app.app_context():  # the tables of the plugins enabled here (the copy has the core's)
            migrate_plugins(app)
        self.made.append(app)
        return app

    @property
    def last(self) -> Flask:
        if not self.made:
            raise RuntimeError("make an app with portal_app(...) first, or pass app=")
        return self.made[-1]


@pytest.fixture
def portal_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PortalApps]:
    """``portal_app(plugins=["myplugin"])`` → a Flask app with only that plugin enabled (TESTING on,
    plugin errors raised), on a fresh migrated database with the demo data."""
    with ExitStack() as stack:
        yield PortalApps(request, tmp_path, stack)


@pytest.fixture
def client_as(portal_app: PortalApps) -> Callable[..., FlaskClient]:
    """``client_as("doctor")`` → a test client signed in as that demo person (both factors done)
    on the app ``portal_app`` made last, or on ``app=``. The keys are ``portal.testing.ROLES``."""

    def make(role: str, app: Flask | None = None, stage: str = "complete") -> FlaskClient:
        return people.signed_in_client(app or portal_app.last, role, stage)

    return make


@pytest.fixture
def demo_cards(portal_seeded_demo: database.SeededDemo) -> dict[str, int]:
    """The demo cards' patient ids by demo key ("patient", "guardian", "child_9", ...): the same in
    every app ``portal_app`` makes, as each starts from a copy of the same demo."""
    return dict(portal_seeded_demo.cards)


@pytest.fixture
def count_queries(portal_app: PortalApps) -> Callable[..., object]:
    """``with count_queries() as statements: client.get(...)`` → the SQL statements the block sent
    (transaction control left out) on the app ``portal_app`` made last, or on ``app=``."""

    @contextmanager
    def count(app: Flask | None = None) -> Iterator[list[str]]:
        with web.recorded_statements(app or portal_app.last) as statements:
            yield statements

    return count


@pytest.fixture(scope="session")
def portal_browser():
    """Chromium through Playwright, for ``check_page``. Without a Chromium (or Playwright) the tests
    that use it are skipped, saying why; with ``PORTAL_REQUIRE_BROWSER=1`` (the portal's own
    ``make test``) they fail instead."""

    def unavailable(reason: str):
        if os.environ.get("PORTAL_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason} (PORTAL_REQUIRE_BROWSER=1: the browser checks must run)")
        pytest.skip(reason)

    try:
        from playwright.sync_api import sync_playwright

        from portal.testing import browser
    except ImportError as exc:
        unavailable(f"the browser check needs Playwright and axe (pip install 'medkarta[test]'): {exc}")
    path = browser.find_chromium()
    if not path:
        unavailable("no Chromium for the browser check: install Debian's chromium or set PORTAL_CHROMIUM")
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=path, args=browser.CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def check_page(request: pytest.FixtureRequest, portal_app: PortalApps) -> Iterator[Callable[..., str]]:
    """``check_page("/myplugin/", role=None)`` opens the page of the app ``portal_app`` made last
    (or ``app=``) in Chromium, signed in as ``role`` if given, in each language, theme and
    JavaScript setting asked for (by default Russian and English, every theme, JavaScript on and
    off), and asserts 200, the document's language, one h1, and nothing from axe (WCAG 2.2 AA),
    the console or the Content-Security-Policy. Returns the h1 of the page last checked (after any
    redirect), to tell which page it was."""
    from portal.testing import browser

    servers: dict[int, str] = {}
    stops = []

    def check(
        path: str,
        *,
        role: str | None = None,
        lang: str | Sequence[str] = browser.LANGUAGES,
        theme: str = browser.EVERY_THEME,
        js: bool | Sequence[bool] = (True, False),
        headings: int = 1,
        app: Flask | None = None,
    ) -> str:
        chromium = request.getfixturevalue("portal_browser")
        app = app or portal_app.last
        if id(app) not in servers:
            url, _thread, server = browser.serve(app)
            servers[id(app)] = url
            stops.append((url, server))
        cookie = browser.session_cookie(app, role) if role else None
        heading = ""
        for language in [lang] if isinstance(lang, str) else lang:
            for javascript in [js] if isinstance(js, bool) else js:
                heading = browser.check_page(
                    chromium,
                    servers[id(app)],
                    path,
                    lang=language,
                    theme=theme,
                    js=javascript,
                    cookie=cookie,
                    headings=headings,
                )
        return heading

    yield check
    for url, server in stops:
        browser.stop_serving(url, server)
