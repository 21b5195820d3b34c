"""Linking an OpenID Connect provider and signing in with it, in Chromium, against a real provider
(panva/oidc-provider under Node, tests/oidc_provider/): the browser carries the portal's and the
provider's cookies across both sites as a person's browser would (SameSite=Lax on the callback)."""

from __future__ import annotations

import re
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from e2e.conftest import ALL_THEMES, SECRET, THEME_URLS, checked_page, new_context
from e2e.test_accessibility import assert_clean
from e2e.test_identity_journey import outbox_text
from e2e.test_signed_in_pages import email_of_key, signed_in
from portal import create_app
from portal.assets import asset_url
from portal.database import db
from tests.sign_in_providers import oidc_provider


@pytest.fixture(scope="module")
def portal_server(seeded_instance, tmp_path_factory, sms_gateway):
    """The demo portal served on a free port with the provider «Региональный ID»: the port is taken
    first, since the provider must know the callback address and the portal the provider's."""
    holder = {}
    server = make_server("127.0.0.1", 0, lambda environ, reply: holder["app"](environ, reply), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    base = tmp_path_factory.mktemp("e2e") / "instance"
    shutil.copytree(seeded_instance, base)
    with (
        oidc_provider(f"{url}/auth/provider/region/callback", tmp_path_factory.mktemp("oidc")) as issuer,
        pytest.MonkeyPatch.context() as environment,
    ):
        environment.setenv("PORTAL_E2E_OIDC_SECRET", "medkarta-oidc-test-secret")
        holder["app"] = create_app(
            {
                "DATABASE_URL": f"sqlite:///{base / 'e2e.db'}",
                "SECRET_KEY": SECRET,
                "INSTANCE_PATH": str(base),
                "RATELIMIT_ENABLED": False,
                "SMS_GATEWAY": "generic",
                "SMS_GATEWAY_URL": sms_gateway,
                "BASE_URL": url,
                "OIDC_PROVIDERS": {
                    "region": {
                        "label": "Региональный ID",
                        "issuer": issuer,
                        "client_id": "medkarta",
                        "client_secret_env": "PORTAL_E2E_OIDC_SECRET",
                    }
                },
            }
        )
        with holder["app"].test_request_context():
            THEME_URLS.update({name: asset_url(f"themes/{name}.css") for name in ALL_THEMES})
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield holder["app"], url
        server.shutdown()
        with holder["app"].app_context():
            db.engine.dispose()


def test_link_a_provider_then_sign_in_with_it(browser, portal_server):
    live_app, base_url = portal_server
    email = email_of_key("guardian")  # the demo person whose codes come by e-mail

    # 1. Signed in, the guardian links «Региональный ID» on «Сервисы входа».
    context = signed_in(browser, base_url, live_app, "guardian", "complete", fresh=True)
    try:
        check = checked_page(context)
        check.goto("/auth/provider/")
        check.page.get_by_role("button", name="Привязать Региональный ID").click()
        check.page.wait_for_url(re.compile(r".*/auth/provider/region/callback\?.*"))
        assert check.page.get_by_role("heading", level=1).inner_text() == "Сервис Региональный ID привязан"
        assert_clean(check, True)
    finally:
        context.close()

    # 2. In another browser: «Войти через Региональный ID», then the one-time code from the e-mail.
    context = new_context(browser, base_url, fresh=True)
    try:
        check = checked_page(context)
        check.goto("/auth/sign-in")
        check.page.get_by_role("button", name="Войти через Региональный ID").click()
        check.page.wait_for_url("**/auth/second-factor")
        assert_clean(check, True)
        code = re.search(r"\b\d{6}\b", outbox_text(live_app, email)).group(0)
        check.page.fill("#f-code", code)
        with check.page.expect_navigation():
            check.page.keyboard.press("Enter")
        check.goto("/auth/sessions")
        assert check.page.url.endswith("/auth/sessions")  # signed in: the page opens
    finally:
        context.close()
