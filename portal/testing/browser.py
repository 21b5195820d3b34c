"""The browser check: a page in Chromium (Playwright), with axe's WCAG 2.2 AA rules in every
theme, the console's errors and the Content-Security-Policy's violations collected from the start of
the page's life, JavaScript on or off. The browser tests under e2e/ use it, and so does
``check_page``, portal.testing's fixture for a plugin's pages.

Chromium: Debian's /usr/bin/chromium first (these machines cannot download Playwright's browser),
then PORTAL_CHROMIUM, then Playwright's own download where one exists."""

from __future__ import annotations

import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page
from werkzeug.serving import make_server

AXE_SCRIPT = Axe().axe_script
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
LANGUAGES = ("ru", "en")
ALL_THEMES = ("default", "high-contrast", "large-text")
# The axe rules whose outcome a stylesheet can change: colours, links told apart from text, the size
# of targets, scrolling regions, orientation. They run in every theme; the others once per page.
THEME_RULES = (
    "color-contrast",
    "link-in-text-block",
    "target-size",
    "scrollable-region-focusable",
    "css-orientation-lock",
)
# The accessibility matrices load each page once per language and JavaScript setting and run axe
# in every theme on it, swapping the theme's stylesheet in place ("every" below): three times
# fewer page loads than a test per theme, the same checks. Tests about one theme use ALL_THEMES.
EVERY_THEME = "every"
THEMES = (EVERY_THEME,)
THEME_URLS: dict[str, str] = {}  # theme → its fingerprinted stylesheet, filled by serve()

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Collect CSP violations from the first script onwards; init scripts run outside the page's CSP.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def find_chromium() -> str | None:
    candidates = [os.environ.get("PORTAL_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            path = p.chromium.executable_path
        return path if Path(path).is_file() else None
    except Exception:
        return None


@dataclass
class PageCheck:
    page: Page
    console_errors: list[str] = field(default_factory=list)
    js: bool = True
    every_theme: bool = False

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
        return self._axe_in_themes(self.page)

    def _axe_in_themes(self, page: Page) -> list[str]:
        """axe on the page as it is; with the "every" theme, once in each theme in turn: every rule
        in the first, and in the others the rules a stylesheet can change (THEME_RULES). The rest
        read the document, which a theme does not touch; running them three times only cost time."""
        if not self.every_theme:
            return PageCheck(page)._axe()
        problems: list[str] = []
        for theme in ALL_THEMES:
            swapped = page.evaluate(
                """(url) => new Promise((resolve) => {
                    const link = document.querySelector('link[rel=stylesheet][href*="/themes/"]');
                    if (!link) { resolve(false); return; }
                    if (link.getAttribute('href') === url) { resolve(true); return; }
                    link.addEventListener('load', () => resolve(true), {once: true});
                    link.addEventListener('error', () => resolve(false), {once: true});
                    link.setAttribute('href', url);
                })""",
                THEME_URLS[theme],
            )
            assert swapped, f"could not switch to the {theme} theme's stylesheet"
            rules = None if theme == ALL_THEMES[0] else THEME_RULES
            problems += [f"[{theme}] {p}" for p in PageCheck(page)._axe(rules)]
        return problems

    def _axe(self, rules: tuple[str, ...] | None = None) -> list[str]:
        """axe's violations for AXE_TAGS, or only for the rules named."""
        # Only violations cross back from the browser: serialising every "pass" of a long table
        # costs more than the checks themselves.
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            self.page.evaluate(AXE_SCRIPT)
        run_only = {"type": "rule", "values": list(rules)} if rules else {"type": "tag", "values": AXE_TAGS}
        violations = self.page.evaluate(
            "(runOnly) => axe.run(document, {runOnly, resultTypes: ['violations']})"
            ".then(r => r.violations.map(v => ({id: v.id, help: v.help,"
            " targets: v.nodes.slice(0, 5).map(n => JSON.stringify(n.target))})))",
            run_only,
        )
        return [f"{v['id']}: {v['help']} — " + "; ".join(v["targets"]) for v in violations]

    def _axe_without_javascript(self) -> list[str]:
        """axe never returns in a context with JavaScript off (Chromium runs no timers there, and
        axe-core waits on setTimeout). So take the DOM the no-JS page ended up with, drop its
        never-executed scripts, serve it at the same URL to a JavaScript-enabled page (styles
        still come from the live server), and run the same rules there."""
        html = re.sub(r"<script\b[^>]*>.*?</script>", "", self.page.content(), flags=re.S | re.I)
        url = self.page.url.split("#", 1)[0]
        page = _axe_page(self.page.context.browser)

        def same_url(address: str) -> bool:
            return address.split("#", 1)[0] == url

        page.route(
            same_url, lambda route: route.fulfill(status=200, body=html, content_type="text/html; charset=utf-8")
        )
        try:
            page.goto(url)
            page.wait_for_load_state("load")
            return self._axe_in_themes(page)
        finally:
            page.unroute(same_url)

    def assert_clean(self, axe: bool = True) -> None:
        problems = []
        if axe:
            problems += self.axe_violations()
        problems += [f"console: {e}" for e in self.console_errors]
        problems += [f"CSP: {v}" for v in self.csp_violations()]
        assert not problems, "\n".join(problems)


def _axe_page(browser: Browser) -> Page:
    """One JavaScript-enabled page per browser, reused for every no-JS page's axe run (a new
    context each time costs more than the checks); axe is loaded as each document starts."""
    page = getattr(browser, "_portal_axe_page", None)
    if page is None or page.is_closed():
        context = browser.new_context(java_script_enabled=True)
        context.add_init_script(AXE_SCRIPT)
        page = context.new_page()
        browser._portal_axe_page = page
    return page


class PooledContext:
    """A browser context kept for the next test with the same options: its HTTP cache (CSS,
    htmx, portal.js) survives, so a test pays for its page and its checks, not for a cold
    start. ``close()`` closes the test's pages, forgets its cookies and gives the context back
    to the pool; until then nobody else gets it, so two people in one test (a patient and a
    registrar) never share a session."""

    def __init__(self, context: BrowserContext, key: tuple) -> None:
        self._context = context
        self._key = key
        self._closed = False
        self.on_close: list = []  # e.g. end the server session a test signed in with

    def __getattr__(self, name):
        return getattr(self._context, name)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for callback in self.on_close:
            callback()
        for page in list(self._context.pages):
            page.close()
        self._context.clear_cookies()
        _POOL.setdefault(self._key, []).append(self._context)


_POOL: dict[tuple, list[BrowserContext]] = {}  # options → contexts free for the next test
_EVERY_THEME: dict[int, bool] = {}  # context → checks run in every theme


def new_context(
    browser: Browser,
    base_url: str,
    *,
    lang: str = "ru",
    theme: str = "default",
    js: bool = True,
    fresh: bool = False,
    **kwargs,
) -> BrowserContext:
    """A context in this language and theme, JavaScript on or off. ``fresh=True`` for a cold
    one (page weights of a first visit, a fake clock); otherwise a pooled one."""
    host = base_url.split("//", 1)[1].split(":")[0]
    key = (id(browser), base_url, js, lang, repr(sorted(kwargs.items())))
    free = _POOL.get(key) if not fresh else None
    context = free.pop() if free else None
    if context is None:
        context = browser.new_context(
            base_url=base_url, java_script_enabled=js, locale="ru-RU" if lang == "ru" else "en-GB", **kwargs
        )
    context.add_cookies(
        [
            {"name": "lang", "value": lang, "domain": host, "path": "/"},
            {"name": "theme", "value": "default" if theme == EVERY_THEME else theme, "domain": host, "path": "/"},
        ]
    )
    wrapped = context if fresh else PooledContext(context, key)
    _EVERY_THEME[id(context)] = theme == EVERY_THEME
    return wrapped


def checked_page(context: BrowserContext, js: bool = True) -> PageCheck:
    page = context.new_page()
    check = PageCheck(page, js=js, every_theme=_EVERY_THEME.get(id(page.context), False))
    page.add_init_script(CSP_LISTENER)
    page.on("console", lambda msg: check.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: check.console_errors.append(f"page error: {exc}"))
    return check


def serve(app: Flask) -> tuple[str, threading.Thread, object]:
    """Serve ``app`` on 127.0.0.1 (a free port) in a thread; ``stop_serving`` ends it. Also learns
    the themes' fingerprinted stylesheets, which the checks in every theme swap in."""
    from portal.assets import asset_url

    with app.test_request_context():
        THEME_URLS.update({name: asset_url(f"themes/{name}.css") for name in ALL_THEMES})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_port}", thread, server


def stop_serving(url: str, server) -> None:
    """Stop the server and close the browser contexts pooled for it."""
    server.shutdown()
    for key in [key for key in _POOL if key[1] == url]:
        for context in _POOL.pop(key):
            context.close()


def session_cookie(app: Flask, key: str, stage: str = "complete") -> str:
    """The session cookie of a new server session for demo person ``key``, as sign-in leaves it."""
    from portal.auth import service
    from portal.auth.models import Account
    from portal.database import db, write_transaction
    from portal.testing.people import account_id

    with app.test_request_context():
        with write_transaction():
            account = db.session.get(Account, account_id(key))
            token, _row = service.start_session(account, stage, "127.0.0.1", "portal.testing")
        cookie = app.session_interface.get_signing_serializer(app).dumps({"sid": token})
        db.session.remove()
    return cookie


def check_page(
    browser: Browser,
    base_url: str,
    path: str,
    *,
    lang: str = "ru",
    theme: str = EVERY_THEME,
    js: bool = True,
    cookie: str | None = None,
    headings: int = 1,
) -> str:
    """Open ``path`` once and assert what every page of the portal keeps: 200, the document's
    language, ``headings`` h1 (one), and nothing from axe (in every theme, unless ``theme`` names
    one), the console or the CSP. ``cookie`` is a signed-in session's. Returns the h1's text."""
    context = new_context(browser, base_url, lang=lang, theme=theme, js=js)
    try:
        if cookie:
            host = base_url.split("//", 1)[1].split(":")[0]
            context.add_cookies([{"name": "session", "value": cookie, "domain": host, "path": "/"}])
        check = checked_page(context, js=js)
        response = check.goto(path)
        where = f"{path} ({lang}, {theme} theme, JavaScript {'on' if js else 'off'})"
        assert response.status == 200, f"{where}: {response.status}"
        assert check.page.locator("html").get_attribute("lang") == lang, f"{where}: not in {lang}"
        found = check.page.locator("h1").count()
        assert found == headings, f"{where}: {found} h1, {headings} expected"
        try:
            check.assert_clean()
        except AssertionError as problems:
            raise AssertionError(f"{where}:\n{problems}") from None
        return check.page.locator("h1").first.inner_text().strip() if found else ""
    finally:
        context.close()
