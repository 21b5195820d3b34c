"""Browser tests: a live portal per module on its own copy of a seeded SQLite database, Chromium through
Playwright, axe.

``PageCheck`` (portal/testing/browser.py, shared with plugin authors' ``check_page``) is the harness
every page test uses: it collects console errors and CSP violations from the start of the page's
life and runs axe with the WCAG 2.2 AA tags."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext

from portal import create_app
from portal.database import db
from portal.testing.browser import (  # noqa: F401 (the e2e tests import these from here)
    _POOL,
    ALL_THEMES,
    AXE_SCRIPT,
    AXE_TAGS,
    CHROMIUM_ARGS,
    CSP_LISTENER,
    EVERY_THEME,
    LANGUAGES,
    THEME_RULES,
    THEME_URLS,
    THEMES,
    PageCheck,
    PooledContext,
    checked_page,
    find_chromium,
    new_context,
    serve,
    stop_serving,
)

SECRET = "e2e-secret-key-that-is-long-enough-for-production-0123456789"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = find_chromium()
    if not path:
        pytest.exit("No Chromium found for the browser tests (see e2e/find_chromium.py)", returncode=3)
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def sms_gateway() -> Iterator[str]:
    """A local SMS gateway speaking the generic JSON protocol: it takes every message, so the portal
    runs as a deployment with SMS does (the tests read the codes from the outbox)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sms"
    server.shutdown()


def _portal(base: Path, sms_gateway: str):
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{base / 'e2e.db'}",
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(base),
            "RATELIMIT_ENABLED": False,
            "SMS_GATEWAY": "generic",
            "SMS_GATEWAY_URL": sms_gateway,
        }
    )


@pytest.fixture(scope="session")
def seeded_instance(tmp_path_factory, sms_gateway) -> Path:
    """The demo, migrated and seeded once: an instance folder (database, data key, uploads) that
    every module copies, so no module sees what another one added or changed."""
    from flask_migrate import upgrade

    from portal.audit.sealer import seal_pending
    from portal.demodata.seed import seed_demo
    from portal.plugin_host_data import migrate_plugins

    base = tmp_path_factory.mktemp("e2e-seeded")
    app = _portal(base, sms_gateway)
    with app.app_context():
        upgrade()
        migrate_plugins(app)  # the enabled plugins' tables too, as `flask db upgrade` makes them
        seed_demo()
        seal_pending()  # what the seeding audited is sealed, as the worker's sealer would have done
        db.session.remove()
        db.engine.dispose()  # the file is complete and closed before it is copied
    return base


@pytest.fixture(scope="module")
def live_app(seeded_instance: Path, tmp_path_factory, sms_gateway):
    """A portal on this module's own copy of the seeded demo: modules run in any order, alone or
    together, and need not undo what they did. A real task consumer runs its background jobs."""
    base = tmp_path_factory.mktemp("e2e") / "instance"
    shutil.copytree(seeded_instance, base)
    app = _portal(base, sms_gateway)
    # The background jobs (PDFs) run as `flask worker` runs them: Huey's consumer, here in a thread.
    from portal import tasks

    consumer = tasks.start_consumer(app)
    yield app
    consumer.stop(graceful=True)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def base_url(live_app) -> Iterator[str]:
    url, _thread, server = serve(live_app)
    yield url
    stop_serving(url, server)


@pytest.fixture
def make_check(browser: Browser, base_url: str):
    """``make_check(lang=..., theme=..., js=...)`` → a PageCheck on a fresh browser context."""
    contexts: list[BrowserContext] = []

    def make(**kwargs) -> PageCheck:
        context = new_context(browser, base_url, **kwargs)
        contexts.append(context)
        return checked_page(context, js=kwargs.get("js", True))

    yield make
    for context in contexts:
        context.close()
