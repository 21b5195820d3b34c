"""A plugin's contributions to the card, its section page and the profile, in the browser: axe,
console and CSP clean in both languages, JavaScript on and off. The portal here runs the fixture
plugin ``tests.fixture_plugins.slots_plugin`` (test-only, so the app is in testing mode)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from e2e.conftest import ALL_THEMES, LANGUAGES, SECRET, THEME_URLS, THEMES
from e2e.test_signed_in_pages import JS, email_of_key, page_is_clean, signed_in
from portal import create_app
from portal.auth.models import Account
from portal.database import db

SLOTS = "tests.fixture_plugins.slots_plugin"
PAGES = ["/card/{patient}", "/card/{patient}/more/growth", "/profile", "/card/{patient}/access-log"]


@pytest.fixture(scope="module")
def live_app(seeded_instance: Path, tmp_path_factory, sms_gateway):
    """The e2e portal (conftest's ``live_app``) with the fixture plugin enabled."""
    base = tmp_path_factory.mktemp("e2e-slots") / "instance"
    shutil.copytree(seeded_instance, base)
    app = create_app(
        {
            "TESTING": True,
            "TESTING_PLUGINS": [SLOTS],
            "DATABASE_URL": f"sqlite:///{base / 'e2e.db'}",
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(base),
            "RATELIMIT_ENABLED": False,
            "SMS_GATEWAY": "generic",
            "SMS_GATEWAY_URL": sms_gateway,
        }
    )
    from portal.assets import asset_url

    with app.test_request_context():
        THEME_URLS.update({name: asset_url(f"themes/{name}.css") for name in ALL_THEMES})
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def patient_id(live_app) -> int:
    with live_app.app_context():
        found = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        db.session.remove()
    return found


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", PAGES)
def test_the_plugins_contributions_are_accessible(browser, base_url, live_app, patient_id, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(patient=patient_id), lang, js)


def test_the_card_lists_the_section_and_the_action_in_keyboard_order(browser, base_url, live_app, patient_id):
    from e2e.conftest import checked_page

    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="en")
    try:
        check = checked_page(context)
        check.goto(f"/card/{patient_id}")
        page = check.page
        assert page.get_by_role("navigation", name="Sections of the card").get_by_role("link", name="Growth chart")
        actions = page.get_by_role("navigation", name="Actions").get_by_role("link")
        assert actions.all_inner_texts() == [
            "Download the card (PDF or FHIR)",
            "Certificates and extracts",
            "Keep a growth diary",
        ]
        page.get_by_role("link", name="Growth chart").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Growth chart"
        assert page.get_by_role("table").get_by_role("rowheader", name="Height").count() == 1
    finally:
        context.close()
