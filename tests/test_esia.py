"""The ESIA (Gosuslugi) plugin against a fake ESIA over real HTTP (tests/esia_fake.py): the signed
authorisation-code flow, the person's data, account linking and verification by a trusted account,
and ESIA's refusals."""

from __future__ import annotations

import re
from importlib.metadata import EntryPoint
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from portal.database import db
from portal.identifiers import make_snils
from tests.esia_fake import CLIENT_ID, Person, Running
from tests.sign_in_providers import (
    account_row,
    card_id,
    make_account,
    refused_reason,
    second_factor,
    signed_in,
    start,
    through,
    to_callback,
)

SNILS = make_snils("003000101")
OTHER_SNILS = make_snils("003000102")


@pytest.fixture(scope="module")
def esia_server(tmp_path_factory):
    running = Running(tmp_path_factory.mktemp("esia"))
    yield running
    running.stop()


@pytest.fixture
def esia(esia_server):
    """The fake ESIA, its state reset: the person who signs in there is the test's to choose."""
    fake = esia_server.fake
    fake.person, fake.deny, fake.code_seconds, fake.answer_state = Person("1000123", SNILS), False, 60, None
    return fake


def esia_app(app_factory, monkeypatch, running, **changes):
    """The portal with the plugin enabled under its entry-point name ``esia``, as pyproject.toml
    installs it (added here in case this checkout's installed distribution predates the plugin)."""
    import portal.plugins as host

    real = host.entry_points
    plugin = EntryPoint("esia", "plugins.esia", host.ENTRY_POINT_GROUP)
    monkeypatch.setattr(host, "entry_points", lambda group: [*real(group=group), plugin])
    settings = {
        "base_url": running.fake.url,
        "client_id": CLIENT_ID,
        "signer": "plugins.esia.signers:TestSigner",
        "signer_key": str(running.signer_key),
        "esia_public_key": str(running.esia_public_key),
        **changes,
    }
    return app_factory(PLUGINS=["hotline", "esia"], PLUGIN_CONFIG={"esia": settings})


@pytest.fixture
def app_with_esia(app_factory, monkeypatch, esia_server, esia):
    return esia_app(app_factory, monkeypatch, esia_server)


def link(app, account_id: int):
    """The account's owner links Gosuslugi from the sign-in services page: the answer."""
    return through(signed_in(app, account_id), "esia", page="/auth/provider/")


def test_hook_identity_providers(app_factory, monkeypatch, esia_server, esia):
    """The plugin's provider is a button on the sign-in page once it has a client id and a signer."""
    answer = esia_app(app_factory, monkeypatch, esia_server).test_client().get("/auth/sign-in")
    page = answer.get_data(as_text=True)
    assert "Войти через Госуслуги" in page and 'action="/auth/provider/esia/start"' in page
    assert f"form-action 'self' {esia_server.fake.url};" in answer.headers["Content-Security-Policy"]
    monkeypatch.undo()
    bare = esia_app(app_factory, monkeypatch, esia_server, client_id="")
    assert "Госуслуги" not in bare.test_client().get("/auth/sign-in").get_data(as_text=True)


def test_the_authorisation_request_is_signed_as_esia_requires(app_with_esia):
    location = start(app_with_esia.test_client(), "esia").headers["Location"]
    assert location.startswith(f"{app_with_esia.config['PLUGIN_CONFIG']['esia']['base_url']}/aas/oauth2/ac?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["scope"] == "openid fullname birthdate snils contacts"
    assert query["response_type"] == "code" and query["access_type"] == "online"
    assert query["client_id"] == CLIENT_ID and len(query["state"]) == 36  # a UUID
    assert re.fullmatch(r"\d{4}\.\d{2}\.\d{2} \d{2}:\d{2}:\d{2} \+0000", query["timestamp"])  # yyyy.MM.dd HH:mm:ss Z
    assert query["client_secret"]  # checked by the fake: the whole flow below depends on it


def test_a_trusted_account_with_the_cards_snils_is_verified_without_the_registrar(app_with_esia, esia):
    app = app_with_esia
    account_id = make_account(app, SNILS, "anna.belova@example.ru", card=True)
    answer = link(app, account_id)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "подтвердил вашу личность" in page
    account = account_row(app, account_id)
    assert account.verification_status == "verified" and account.patient_id == card_id(app, SNILS)
    with app.app_context():
        from portal.audit.models import AuditEvent

        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "verification.approved"))
        assert event.actor_id == account_id and event.reason == "confirmed by esia"


def test_a_lower_level_is_told_to_confirm_the_account_at_gosuslugi_or_a_mfc(app_with_esia, esia):
    app = app_with_esia
    esia.person.trusted = False
    account_id = make_account(app, SNILS, "anna.belova@example.ru", card=True)
    page = link(app, account_id).get_data(as_text=True)
    assert "не подтверждена" in page and "МФЦ" in page
    assert account_row(app, account_id).verification_status == "unverified"


def test_a_snils_with_no_card_is_not_verified(app_with_esia, esia):
    app = app_with_esia
    account_id = make_account(app, SNILS, "anna.belova@example.ru")
    page = link(app, account_id).get_data(as_text=True)
    assert "медицинская карта с ним ещё не заведена" in page
    account = account_row(app, account_id)
    assert account.verification_status == "unverified" and account.patient_id is None


def test_a_card_linked_to_someone_elses_account_is_not_linked_again(app_with_esia, esia):
    app = app_with_esia
    first = make_account(app, SNILS, "first@example.ru", card=True)
    link(app, first)
    assert account_row(app, first).patient_id == card_id(app, SNILS)
    with app.app_context(), db.engine.begin() as conn:  # a second account came to hold the same SNILS
        conn.execute(sa.text("UPDATE account SET snils = :s WHERE id = :i"), {"s": OTHER_SNILS, "i": first})
    second = make_account(app, SNILS, "second@example.ru")
    esia.person = Person("1000999", SNILS)
    page = link(app, second).get_data(as_text=True)
    assert "уже связана с другой учётной записью" in page
    assert account_row(app, second).patient_id is None


def test_a_snils_that_is_not_the_accounts_own_verifies_nothing(app_with_esia, esia):
    app = app_with_esia
    account_id = make_account(app, OTHER_SNILS, "anna.belova@example.ru")
    make_account(app, SNILS, "card.owner@example.ru", card=True)
    page = link(app, account_id).get_data(as_text=True)
    assert "не совпадает со СНИЛС этой учётной записи" in page
    assert account_row(app, account_id).patient_id is None


def test_sign_in_with_gosuslugi_after_linking_asks_the_second_factor(app_with_esia, esia):
    app = app_with_esia
    account_id = make_account(app, SNILS, "anna.belova@example.ru", card=True)
    link(app, account_id)
    client = app.test_client()
    answer = through(client, "esia")
    assert answer.headers["Location"] == "/auth/second-factor"
    assert second_factor(app, client, "anna.belova@example.ru").status_code == 303
    assert client.get("/auth/security").status_code == 200


def test_access_denied_at_gosuslugi(app_with_esia, esia):
    esia.deny = True
    answer = through(app_with_esia.test_client(), "esia")
    assert answer.status_code == 400 and "Вы отменили вход на Госуслугах" in answer.get_data(as_text=True)


def test_a_callback_with_another_state_is_refused(app_with_esia, esia):
    client = app_with_esia.test_client()
    callback = to_callback(start(client, "esia").headers["Location"])
    answer = client.get(callback.replace("state=", "state=0"))
    assert answer.status_code == 400 and "начат не здесь" in answer.get_data(as_text=True)


def test_an_expired_code_is_refused(app_with_esia, esia):
    esia.code_seconds = -1
    answer = through(app_with_esia.test_client(), "esia")
    assert answer.status_code == 400 and "Госуслуги не подтвердили вход" in answer.get_data(as_text=True)
    assert "ESIA-007004" in refused_reason(app_with_esia)


def test_a_request_with_a_bad_signature_is_refused(app_factory, monkeypatch, esia_server, esia, tmp_path):
    from tests.esia_fake import pem_private, rsa

    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(pem_private(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    app = esia_app(app_factory, monkeypatch, esia_server, signer_key=str(stranger))
    answer = through(app.test_client(), "esia")
    assert answer.status_code == 400
    assert "ESIA-007014" in refused_reason(app)


def test_a_token_answer_with_another_state_is_refused(app_with_esia, esia):
    esia.answer_state = "11111111-2222-3333-4444-555555555555"
    assert through(app_with_esia.test_client(), "esia").status_code == 400
    assert "another state" in refused_reason(app_with_esia)


def test_a_token_not_signed_by_esia_is_refused(app_factory, monkeypatch, esia_server, esia, tmp_path):
    from tests.esia_fake import pem_public, rsa

    impostor = tmp_path / "impostor.pem"
    impostor.write_bytes(pem_public(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    app = esia_app(app_factory, monkeypatch, esia_server, esia_public_key=str(impostor))
    assert through(app.test_client(), "esia").status_code == 400
    assert "signature" in refused_reason(app)
