"""A plugin's personal pages in the browser: a signed-in page and a card page of the fixture plugin
``tests/fixture_plugins/personal.py`` (written with ``portal.plugin_api`` alone) are axe, console
and CSP clean in both languages and every theme, JavaScript on and off."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from e2e.conftest import ALL_THEMES, LANGUAGES, SECRET, THEME_URLS
from e2e.test_signed_in_pages import JS, email_of_key, page_is_clean, signed_in
from portal import create_app
from portal.auth.models import Account
from portal.database import db


@pytest.fixture(scope="module")
def live_app(seeded_instance: Path, tmp_path_factory, sms_gateway):
    """The demo portal with the personal fixture plugin (test plugins need TESTING on)."""
    base = tmp_path_factory.mktemp("e2e-plugin") / "instance"
    shutil.copytree(seeded_instance, base)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{base / 'e2e.db'}",
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(base),
            "RATELIMIT_ENABLED": False,
            "SMS_GATEWAY": "generic",
            "SMS_GATEWAY_URL": sms_gateway,
            "TESTING_PLUGINS": ["tests.fixture_plugins.personal"],
        }
    )
    from portal.assets import asset_url

    with app.test_request_context():
        THEME_URLS.update({name: asset_url(f"themes/{name}.css") for name in ALL_THEMES})
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def card(live_app) -> int:
    with live_app.app_context():
        found = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        db.session.remove()
    return found


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", ["/personal/me", "/personal/card/{card}/results"])
def test_a_plugins_personal_page_is_accessible(browser, base_url, live_app, card, path, lang, js):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang, theme="every", js=js)
    page_is_clean(context, path.format(card=card), lang, js)
