"""The pages of the sign-in providers with a provider configured: the sign-in page's buttons and
the signed-in «Сервисы входа» page with a linked and an unlinked service. Axe, console and CSP
clean in both languages, all themes, JavaScript on and off (the flows themselves are tested over
HTTP against real servers in tests/test_oidc.py and tests/test_esia.py)."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa

from e2e.conftest import ALL_THEMES, LANGUAGES, SECRET, THEME_URLS, THEMES, new_context
from e2e.test_signed_in_pages import JS, email_of_key, page_is_clean, signed_in
from portal import create_app
from portal.assets import asset_url
from portal.auth.models import Account, IdentityLink
from portal.database import db, write_transaction

PROVIDERS = {
    # Two providers, so that one row is linked and one is not; nothing here calls them.
    "region": {"label": "Региональный ID", "issuer": "http://127.0.0.1:9", "client_id": "m", "client_secret_env": "E"},
    "city": {"label": "City ID", "issuer": "http://127.0.0.1:9/city", "client_id": "m", "client_secret_env": "E"},
}


@pytest.fixture(scope="module")
def live_app(seeded_instance, tmp_path_factory, sms_gateway):
    """This module's portal: the demo, with two OpenID Connect providers configured."""
    base = tmp_path_factory.mktemp("e2e") / "instance"
    shutil.copytree(seeded_instance, base)
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("E", "a-client-secret")
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{base / 'e2e.db'}",
                "SECRET_KEY": SECRET,
                "INSTANCE_PATH": str(base),
                "RATELIMIT_ENABLED": False,
                "SMS_GATEWAY": "generic",
                "SMS_GATEWAY_URL": sms_gateway,
                "OIDC_PROVIDERS": PROVIDERS,
            }
        )
    with app.test_request_context():
        THEME_URLS.update({name: asset_url(f"themes/{name}.css") for name in ALL_THEMES})
    with app.app_context(), write_transaction():
        patient = db.session.scalar(sa.select(Account.id).where(Account.email == email_of_key("patient")))
        db.session.add(IdentityLink(account_id=patient, provider="region", subject="subject-1"))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_sign_in_page_with_provider_buttons_is_accessible(browser, base_url, lang, theme, js):
    page_is_clean(new_context(browser, base_url, lang=lang, theme=theme, js=js), "/auth/sign-in", lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_sign_in_services_page_is_accessible(browser, base_url, live_app, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, "/auth/provider/", lang, js)
