"""Pages that exist only in demo mode (the demo sign-in list, the on-screen outbox) and the
recovery page's refusal, on their own demo-mode server: axe, console and CSP clean in both
languages, all themes, JavaScript on and off."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from e2e.conftest import ALL_THEMES, LANGUAGES, SECRET, THEME_URLS, THEMES, checked_page, new_context
from e2e.test_accessibility import drop_expected_status_logs
from portal import create_app
from portal.database import db
from portal.demodata.people import PEOPLE

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    from flask_migrate import upgrade

    from portal.demodata.seed import seed_demo

    base = tmp_path_factory.mktemp("demo")
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{base / 'demo.db'}",
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(base),
            "RATELIMIT_ENABLED": False,
            "DEMO_MODE": True,
        }
    )
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.remove()
    # The theme check swaps stylesheets by URL; live_app fills these too, but this module may run alone.
    from portal.assets import asset_url

    with app.test_request_context():
        THEME_URLS.update({name: asset_url(f"themes/{name}.css") for name in ALL_THEMES})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path,status", [("/auth/sign-in", 200), ("/demo/outbox", 200), ("/auth/reset", 400)])
def test_demo_mode_pages_are_accessible(browser, demo_url, path, status, lang, theme, js):
    context = new_context(browser, demo_url, lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        response = check.goto(path)
        assert response.status == status
        assert check.page.locator("html").get_attribute("lang") == lang
        assert check.page.locator("h1").count() == 1
        if path == "/auth/sign-in":
            assert check.page.locator("section.demo button").count() == len(PEOPLE)
        if status != 200:
            drop_expected_status_logs(check, status)
        check.assert_clean()
    finally:
        context.close()
