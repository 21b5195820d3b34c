"""Sign-in with a generic OpenID Connect provider, against a real one: panva/oidc-provider (OpenID
Certified) under Node, started on 127.0.0.1 for the test session (tests/oidc_provider/).

The tests skip where Node is not installed, unless PORTAL_TEST_REQUIRE_NODE is set (CI sets it):
there they fail, so the provider tests cannot silently not run.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.database import db
from tests.sign_in_providers import (
    BASE_URL,
    CLIENT_ID,
    SECRET,
    USER,
    make_account,
    oidc_provider,
    refused_reason,
    second_factor,
    signed_in,
    start,
    through,
    to_callback,
)

SECRET_ENV = "PORTAL_TEST_OIDC_SECRET"


@pytest.fixture(scope="session")
def issuer(tmp_path_factory):
    with oidc_provider(f"{BASE_URL}/auth/provider/test/callback", tmp_path_factory.mktemp("oidc")) as url:
        yield url


@pytest.fixture
def oidc_app(app_factory, issuer, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return app_factory(
        OIDC_PROVIDERS={
            "test": {"label": "Test ID", "issuer": issuer, "client_id": CLIENT_ID, "client_secret_env": SECRET_ENV}
        }
    )


def linked_account(app, email="anna.belova@example.ru"):
    """An account that has linked the provider's test user, as its owner would from Security."""
    account_id = make_account(app, "11223344595", email)
    owner = signed_in(app, account_id)
    linked = through(owner, "test", page="/auth/provider/")
    assert linked.status_code == 200, linked.get_data(as_text=True)
    return account_id


def test_hook_identity_providers(oidc_app):
    """The core's OpenID Connect provider comes through the hook: a button on the sign-in page."""
    with oidc_app.test_request_context():
        from portal.auth.identity import providers

        assert list(providers()) == ["test"]
    answer = oidc_app.test_client().get("/auth/sign-in")
    page = answer.get_data(as_text=True)
    assert "Войти через Test ID" in page
    assert 'action="/auth/provider/test/start"' in page
    # The button's POST is answered with a redirect to the provider, which the page's CSP must allow.
    issuer = oidc_app.config["OIDC_PROVIDERS"]["test"]["issuer"]
    assert f"form-action 'self' {issuer};" in answer.headers["Content-Security-Policy"]


def test_the_authorisation_request_carries_state_nonce_and_pkce(oidc_app):
    started = start(oidc_app.test_client(), "test")
    location = started.headers["Location"]
    assert location.startswith(oidc_app.config["OIDC_PROVIDERS"]["test"]["issuer"])
    for part in ("state=", "nonce=", "code_challenge=", "code_challenge_method=S256", "response_type=code"):
        assert part in location
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fauth%2Fprovider%2Ftest%2Fcallback" in location
    assert SECRET not in location  # the secret goes to the token endpoint only


def test_link_then_sign_in_with_the_provider_and_the_second_factor(oidc_app):
    app = oidc_app
    account_id = linked_account(app)
    client = app.test_client()
    client.get("/auth/sign-in")
    before = client.get_cookie("session").value
    answer = through(client, "test", next_path="/auth/security")
    assert answer.status_code == 303 and answer.headers["Location"] == "/auth/second-factor"
    assert client.get_cookie("session").value != before  # rotated: a planted cookie gets nothing
    assert client.get("/auth/security").status_code == 303  # the second factor is still asked
    done = second_factor(app, client, "anna.belova@example.ru")
    assert done.headers["Location"] == "/auth/security"  # the checked next
    assert client.get("/auth/security").status_code == 200
    with app.app_context():
        from portal.audit.models import AuditEvent

        actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.actor_id == account_id)))
    assert {"auth.provider_linked", "auth.provider_sign_in"} <= actions


def test_an_unknown_subject_is_told_how_to_link_it(oidc_app):
    answer = through(oidc_app.test_client(), "test")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "ни одна учётная запись Медкарты" in page and "/auth/register" in page


def test_a_state_that_does_not_match_is_refused(oidc_app):
    linked_account(oidc_app)
    client = oidc_app.test_client()
    callback = to_callback(start(client, "test").headers["Location"])
    forged = callback.replace("state=", "state=x")
    answer = client.get(forged)
    assert answer.status_code == 400 and "/auth/second-factor" not in answer.headers.get("Location", "")
    assert client.get(callback).status_code == 400  # the flow is gone after one try, right or wrong


def test_a_replayed_callback_signs_in_nobody(oidc_app):
    linked_account(oidc_app)
    victim = oidc_app.test_client()
    callback = to_callback(start(victim, "test").headers["Location"])
    assert victim.get(callback).status_code == 303
    attacker = oidc_app.test_client()
    assert attacker.get(callback).status_code == 400  # no flow in the attacker's session
    assert victim.get(callback).status_code == 400  # nor twice in the victim's


def test_an_id_token_for_another_nonce_is_refused(oidc_app):
    """The ID token's nonce must be this sign-in's: a token minted for another flow is refused."""
    linked_account(oidc_app)
    client = oidc_app.test_client()
    callback = to_callback(start(client, "test").headers["Location"])
    with client.session_transaction() as cookie:
        flow = cookie["provider_flow"]
        flow["kept"]["nonce"] = "a-nonce-of-another-sign-in"
        cookie["provider_flow"] = flow
    answer = client.get(callback)
    assert answer.status_code == 400
    assert "Сервис Test ID не подтвердил вход" in answer.get_data(as_text=True)
    assert "nonce" in refused_reason(oidc_app)


def test_next_cannot_send_the_person_to_another_site(oidc_app):
    linked_account(oidc_app)
    client = oidc_app.test_client()
    through(client, "test", next_path="https://evil.example/phish")
    assert second_factor(oidc_app, client, "anna.belova@example.ru").headers["Location"] == "/"


def test_a_subject_linked_to_another_account_is_not_linked_again(oidc_app):
    linked_account(oidc_app)
    other_id = make_account(oidc_app, "12345678964", "other@example.ru")
    other = signed_in(oidc_app, other_id)
    answer = through(other, "test", page="/auth/provider/")
    assert answer.status_code == 409
    assert "уже привязана к другой учётной записи" in answer.get_data(as_text=True)
    with oidc_app.app_context():
        from portal.auth.models import IdentityLink

        owners = db.session.scalars(sa.select(IdentityLink.account_id).where(IdentityLink.subject == USER["sub"]))
        assert list(owners) != [other_id]


def test_linking_needs_a_fresh_password_and_unlinking_ends_the_way_in(oidc_app):
    app = oidc_app
    account_id = linked_account(app)
    owner = signed_in(app, account_id)
    page = owner.get("/auth/provider/").get_data(as_text=True)
    assert "Отвязать Test ID" in page
    unlinked = owner.post("/auth/provider/test/unlink", data={"csrf_token": _token(owner)})
    assert unlinked.status_code == 303
    assert through(app.test_client(), "test").status_code == 200  # told: no account has it now
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE server_session SET authenticated_at = '2020-01-01 00:00:00'"))
    stale = start(owner, "test", page="/auth/provider/")
    assert stale.status_code == 303 and stale.headers["Location"].startswith("/auth/confirm-password")


def _token(client):
    from tests.conftest import csrf_token

    return csrf_token(client, "/auth/provider/")


def test_a_cancelled_sign_in_changes_nothing(oidc_app):
    client = oidc_app.test_client()
    started = start(client, "test")
    state = started.headers["Location"].split("state=")[1].split("&")[0]
    answer = client.get(f"/auth/provider/test/callback?error=access_denied&state={state}")
    assert answer.status_code == 400
    assert "Вход отменён в сервисе Test ID" in answer.get_data(as_text=True)


def test_a_provider_without_its_secret_in_the_environment_stops_start_up(app_factory, monkeypatch):
    from portal.auth.oidc import ProviderSettingsError, from_settings
    from portal.config import ConfigError

    settings = {"x": {"issuer": "http://127.0.0.1:9", "client_id": "a", "client_secret_env": "PORTAL_NOT_SET"}}
    with pytest.raises(ProviderSettingsError, match="PORTAL_NOT_SET"):
        from_settings(settings, environ={})
    with pytest.raises(ProviderSettingsError, match="unknown"):
        from_settings({"x": {**settings["x"], "client_secret": "in the file"}}, environ={"PORTAL_NOT_SET": "s"})
    monkeypatch.delenv("PORTAL_NOT_SET", raising=False)
    with pytest.raises(ConfigError, match="OIDC_PROVIDERS.x: the environment has no PORTAL_NOT_SET"):
        app_factory(OIDC_PROVIDERS=settings)
