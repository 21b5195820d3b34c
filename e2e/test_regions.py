"""Two regions on one live portal, as `make run` serves them (config/demo.toml): 127.0.0.1 is Moscow
with the health hotline, localhost Tatarstan without it and in large text. Each region's home
page is clean (axe, console, CSP) in its own theme and names its region in the footer."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from e2e.conftest import SECRET, checked_page
from portal import create_app
from portal.config import ROOT
from portal.database import db

DEMO = tomllib.loads((ROOT / "config" / "demo.toml").read_text())


@pytest.fixture(scope="module")
def live_app(seeded_instance: Path, tmp_path_factory) -> Iterator:
    """The e2e portal on its own copy of the demo, with the demo deployment's regions."""
    base = tmp_path_factory.mktemp("e2e-regions") / "instance"
    shutil.copytree(seeded_instance, base)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{base / 'e2e.db'}",
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(base),
            "RATELIMIT_ENABLED": False,
            "PLUGINS": DEMO["PLUGINS"],
            "REGIONS": DEMO["REGIONS"],
            "DEFAULT_REGION": DEMO["DEFAULT_REGION"],
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    ("host", "region", "theme", "hotline"),
    [("127.0.0.1", "Москва", "default", True), ("localhost", "Республика Татарстан", "large-text", False)],
)
def test_each_regions_home_page_is_clean_in_its_theme(browser: Browser, base_url, host, region, theme, hotline):
    port = base_url.rsplit(":", 1)[1]
    context = browser.new_context(base_url=f"http://{host}:{port}", locale="ru-RU")  # no theme chosen
    try:
        check = checked_page(context)
        assert check.goto("/").status == 200
        page = check.page
        assert page.locator("footer").get_by_text(f"Регион: {region}").count() == 1
        assert f"/themes/{theme}." in page.locator('link[rel=stylesheet][href*="/themes/"]').get_attribute("href")
        assert (page.locator("#card-hotline").count() == 1) is hotline
        assert (page.locator("footer a[href='/hotline/']").count() == 1) is hotline
        check.assert_clean()
        assert check.goto("/hotline/").status == (200 if hotline else 404)
    finally:
        context.close()
