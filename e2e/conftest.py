"""Browser tests: a live portal on a seeded SQLite database, Chromium through Playwright, axe.

``page_check`` is the harness every page test uses: it collects console errors and CSP
violations from the start of the page's life and runs axe with the WCAG 2.2 AA tags."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page
from werkzeug.serving import make_server

from e2e.find_chromium import find_chromium
from portal import create_app
from portal.database import db

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
LANGUAGES = ("ru", "en")
THEMES = ("default", "high-contrast", "large-text")
SECRET = "e2e-secret-key-that-is-long-enough-for-production-0123456789"

# Collect CSP violations from the first script onwards; init scripts run outside the page's CSP.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = find_chromium()
    if not path:
        pytest.exit("No Chromium found for the browser tests (see e2e/find_chromium.py)", returncode=3)
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    return {**browser_type_launch_args, "executable_path": path, "args": args}


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    from flask_migrate import upgrade

    from portal.demo import seed_demo

    base = tmp_path_factory.mktemp("e2e")
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{base / 'e2e.db'}",
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(base),
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.remove()
    return app


@pytest.fixture(scope="session")
def base_url(live_app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@dataclass
class PageCheck:
    page: Page
    console_errors: list[str] = field(default_factory=list)
    js: bool = True

    def goto(self, path: str):
        response = self.page.goto(path)
        self.page.wait_for_load_state("load")
        return response

    def csp_violations(self) -> list[str]:
        try:
            return self.page.evaluate("window.__cspViolations || []")
        except Exception:
            return []  # JavaScript off: Chromium still logs violations to the console

    def axe_violations(self) -> list[str]:
        if not self.js:
            return self._axe_without_javascript()
        result = Axe().run(self.page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
        return [
            f"{v['id']}: {v['help']} — " + "; ".join(str(n["target"]) for n in v["nodes"][:5])
            for v in result.response["violations"]
        ]

    def _axe_without_javascript(self) -> list[str]:
        """axe never returns in a context with JavaScript off (Chromium runs no timers there, and
        axe-core waits on setTimeout). So take the DOM the no-JS page ended up with, drop its
        never-executed scripts, serve it at the same URL to a JavaScript-enabled page (styles
        still come from the live server), and run the same rules there."""
        html = re.sub(r"<script\b[^>]*>.*?</script>", "", self.page.content(), flags=re.S | re.I)
        url = self.page.url.split("#", 1)[0]
        context = self.page.context.browser.new_context(java_script_enabled=True)
        try:
            page = context.new_page()
            page.route(
                lambda u: u.split("#", 1)[0] == url,
                lambda route: route.fulfill(status=200, body=html, content_type="text/html; charset=utf-8"),
            )
            page.goto(url)
            page.wait_for_load_state("load")
            return PageCheck(page).axe_violations()
        finally:
            context.close()

    def assert_clean(self, axe: bool = True) -> None:
        problems = []
        if axe:
            problems += self.axe_violations()
        problems += [f"console: {e}" for e in self.console_errors]
        problems += [f"CSP: {v}" for v in self.csp_violations()]
        assert not problems, "\n".join(problems)


def new_context(
    browser: Browser, base_url: str, *, lang: str = "ru", theme: str = "default", js: bool = True, **kwargs
) -> BrowserContext:
    context = browser.new_context(
        base_url=base_url, java_script_enabled=js, locale="ru-RU" if lang == "ru" else "en-GB", **kwargs
    )
    host = base_url.split("//", 1)[1].split(":")[0]
    context.add_cookies(
        [
            {"name": "lang", "value": lang, "domain": host, "path": "/"},
            {"name": "theme", "value": theme, "domain": host, "path": "/"},
        ]
    )
    return context


def checked_page(context: BrowserContext, js: bool = True) -> PageCheck:
    page = context.new_page()
    check = PageCheck(page, js=js)
    page.add_init_script(CSP_LISTENER)
    page.on("console", lambda msg: check.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: check.console_errors.append(f"page error: {exc}"))
    return check


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
