"""Identity end to end over HTTP: registration, confirmation, the second factor, lock-out,
sessions, recovery and changes of credentials (SECURITY.md checks 1-21)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa
import time_machine

from portal import crypto
from portal.auth.models import Account, RecoveryCode, ServerSession
from portal.database import db
from tests.conftest import csrf_token, last_code, outbox

PASSWORD = "Тёплый вечер у моря 2026!"
FORM = {
    "surname": "Соловьёва",
    "name": "Анна",
    "patronymic": "Игоревна",
    "birth_date": "12.04.1990",
    "sex": "F",
    "snils": "112-233-445 95",
    "phone": "8 (916) 123-45-67",
    "email": "Anna.Solovyova@Example.ru",
    "password": PASSWORD,
    "password_again": PASSWORD,
}


def post(client, path, data, page=None, **kwargs):
    body = {"csrf_token": csrf_token(client, page or path), **data}
    return client.post(path, data=body, **kwargs)


def account_by_email(app, email) -> Account | None:
    with app.app_context():
        found = db.session.scalar(sa.select(Account).where(Account.email == email))
        db.session.expunge_all()
    return found


def register(client, **changes):
    return post(client, "/auth/register", {**FORM, **changes})


def confirm_link(app, email) -> str:
    body = outbox(app, email)[-1].body
    return re.search(r"https?://\S+/auth/confirm/(\S+)", body).group(1)


def confirm(client, token):
    client.get(f"/auth/confirm/{token}")
    return post(client, "/auth/confirm", {}, page="/auth/confirm")


def sign_in(client, login, password=PASSWORD):
    return post(client, "/auth/sign-in", {"login": login, "password": password})


def totp_now(app, email, offset_steps=0, secret=None):
    """A code from the account's working authenticator (or from ``secret``, one being set up)."""
    if secret is None:
        account = account_by_email(app, email)
        with app.app_context():
            secret = crypto.decrypt(account.totp_secret_encrypted, f"totp:{account.id}").decode()
    totp = pyotp.TOTP(secret)
    return totp.at(datetime.now(UTC).timestamp() + offset_steps * totp.interval)


def secret_on(html: str) -> str:
    """The key to type by hand, as the set-up page shows it."""
    return re.search(r'<code class="secret" lang="en">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")


def enrolled(app, client, email="anna.solovyova@example.ru", factor="totp"):
    """Register, confirm, sign in, confirm the phone and set up a factor: a full first journey."""
    assert register(client).status_code == 303
    assert confirm(client, confirm_link(app, email)).status_code == 200
    assert sign_in(client, email).headers["Location"] == "/auth/enrol"
    assert post(client, "/auth/enrol/phone/send", {}, page="/auth/enrol").status_code == 303
    account = account_by_email(app, email)
    assert (
        post(client, "/auth/enrol/phone", {"code": last_code(app, account.phone)}, page="/auth/enrol").headers[
            "Location"
        ]
        == "/auth/enrol/factor"
    )
    if factor == "totp":
        assert post(client, "/auth/enrol/factor", {"method": "totp"}).headers["Location"] == "/auth/enrol/totp"
        page = client.get("/auth/enrol/totp").get_data(as_text=True)
        assert "<svg" in page and "<title>" in page
        response = post(client, "/auth/enrol/totp", {"code": totp_now(app, email, secret=secret_on(page))})
    else:
        assert post(client, "/auth/enrol/factor", {"method": factor}).status_code == 303
        target = account.email if factor == "email" else account.phone
        response = post(
            client,
            f"/auth/enrol/code?method={factor}",
            {"code": last_code(app, target)},
            page=f"/auth/enrol/code?method={factor}",
        )
    assert response.headers["Location"] == "/auth/recovery-codes"
    codes = re.findall(
        r"<code>([A-Z0-9]{5}-[A-Z0-9]{5})</code>", client.get("/auth/recovery-codes").get_data(as_text=True)
    )
    assert len(codes) == 10
    return codes


@pytest.fixture
def smtp_app(app_factory):
    """Demo mode off, no SMTP: messages stay in the outbox, where tests read them."""
    return app_factory()


# -- registration ------------------------------------------------------------------------------------


def test_registration_creates_an_unverified_account_and_sends_a_confirmation_link(app, client):
    response = register(client)
    assert response.status_code == 303 and response.headers["Location"] == "/auth/register/sent"
    account = account_by_email(app, "anna.solovyova@example.ru")
    assert account.verification_status == "unverified" and account.email_confirmed_at is None
    assert account.phone == "+79161234567" and account.snils == "11223344595"
    assert account.surname == "Соловьёва" and account.patronymic == "Игоревна"
    assert "/auth/confirm/" in outbox(app, account.email)[-1].body


def test_passwords_are_argon2id_at_or_above_the_minimum(app, client):
    register(client)
    stored = account_by_email(app, "anna.solovyova@example.ru").password_hash
    match = re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", stored)
    assert match and int(match[1]) >= 19456 and int(match[2]) >= 2 and int(match[3]) >= 1


@pytest.mark.parametrize(
    "password,message",
    [
        ("Aa1!aaa", "at least 8 characters"),
        ("alllowercase1!", "capital and small"),
        ("NoDigitsHere!", "digit"),
        ("NoSpecial123", "special character"),
        ("Qwerty123!", "too common"),
        ("Gosuslugi2026!", "too common"),
        ("Anna-Secret-2026", "your name or e-mail"),
        ("Solovyova!2026x", "your name or e-mail"),
    ],
)
def test_weak_passwords_are_refused_and_nothing_is_created(app, client, password, message):
    client.set_cookie("lang", "en")
    form = {
        **FORM,
        "email": "anna@example.ru",
        "password": password,
        "password_again": password,
        "surname": "Solovyova",
        "name": "Anna",
    }
    response = post(client, "/auth/register", form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert account_by_email(app, "anna@example.ru") is None


@pytest.mark.parametrize("password", [PASSWORD, "Pp1!" + "ж" * 124, "Correct Horse Battery Staple 1"])
def test_long_and_unicode_passphrases_are_accepted(app, client, password):
    assert register(client, password=password, password_again=password).status_code == 303


def test_the_form_comes_back_with_what_was_typed_and_precise_errors(app, client):
    client.set_cookie("lang", "en")
    response = register(
        client, snils="112-233-445 96", phone="+1 555 0100", birth_date="31.02.1990", password_again="different"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Check the SNILS: its check number does not match" in html
    assert "Enter a Russian mobile number" in html
    assert "Enter the date of birth as day, month and year" in html
    assert "The passwords do not match" in html
    assert 'value="Соловьёва"' in html and 'value="112-233-445 96"' in html
    assert PASSWORD not in html  # passwords are never echoed
    assert 'href="#snils"' in html and 'href="#sex-0"' not in html


def test_registration_does_not_reveal_existing_accounts(app, client):
    first = register(client)
    second = app.test_client()
    again = register(second, email="someone.else@example.ru")  # the same SNILS
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 1
    kinds = [m.kind for m in outbox(app, "anna.solovyova@example.ru")]
    assert kinds == ["confirm_email", "register_duplicate"]


# -- e-mail confirmation -------------------------------------------------------------------------------


def test_the_confirmation_link_works_once_and_keeps_the_token_out_of_the_address(app, client, caplog):
    register(client)
    token = confirm_link(app, "anna.solovyova@example.ru")
    landing = client.get(f"/auth/confirm/{token}")
    assert landing.status_code == 303 and landing.headers["Location"] == "/auth/confirm"
    assert post(client, "/auth/confirm", {}, page="/auth/confirm").status_code == 200
    assert account_by_email(app, "anna.solovyova@example.ru").email_confirmed_at is not None
    client.set_cookie("lang", "en")
    again = confirm(client, token)
    assert "already used" in again.get_data(as_text=True)
    assert token not in caplog.text


def test_a_tampered_expired_or_foreign_token_is_refused(app, client):
    register(client)
    token = confirm_link(app, "anna.solovyova@example.ru")
    assert confirm(client, token[:-2] + "xx").status_code == 400
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25)):
        assert confirm(client, token).status_code == 400
    from portal.auth import tokens

    with app.test_request_context():
        reset_token = tokens.make("reset-password", {"a": 1, "e": "anna.solovyova@example.ru"})
    assert confirm(client, reset_token).status_code == 400  # another purpose's salt
    assert account_by_email(app, "anna.solovyova@example.ru").email_confirmed_at is None


def test_sign_in_before_confirming_the_email_sends_the_link_again(app, client):
    register(client)
    client.set_cookie("lang", "en")
    response = sign_in(client, "anna.solovyova@example.ru")
    assert response.status_code == 400 and "Confirm your e-mail first" in response.get_data(as_text=True)
    assert [m.kind for m in outbox(app, "anna.solovyova@example.ru")] == ["confirm_email", "confirm_email"]


# -- the first journey and the second factor ----------------------------------------------------------


def test_first_journey_with_an_authenticator_app(app, client):
    enrolled(app, client)
    assert client.get("/auth/sessions").status_code == 200
    account = account_by_email(app, "anna.solovyova@example.ru")
    assert account.second_factor == "totp" and account.phone_confirmed_at is not None
    with app.app_context():
        assert b"JBSW" not in account.totp_secret_encrypted  # stored encrypted, not as base32
        hashes = list(
            db.session.scalars(sa.select(RecoveryCode.code_hash).where(RecoveryCode.account_id == account.id))
        )
    assert len(hashes) == 10 and all(len(h) == 64 for h in hashes)


@pytest.mark.parametrize("factor", ["email"])
def test_first_journey_with_codes(app_factory, factor):
    app = app_factory(SMTP_HOST="", DEMO_MODE=True)
    client = app.test_client()
    enrolled(app, client, factor=factor)
    assert client.get("/auth/sessions").status_code == 200


def signed_out_then_in(app, email, code_for):
    client = app.test_client()
    assert sign_in(client, email).headers["Location"] == "/auth/second-factor"
    return client, post(client, "/auth/second-factor", {"f-code": code_for(), "use": "code"})


def test_each_totp_code_works_once_and_old_codes_fail(app, client):
    email = "anna.solovyova@example.ru"
    with time_machine.travel(datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC), tick=False):
        enrolled(app, client)
    with time_machine.travel(datetime(2026, 11, 27, 10, 5, 0, tzinfo=UTC), tick=False):
        code = totp_now(app, email)
        first, ok = signed_out_then_in(app, email, lambda: code)
        assert ok.status_code == 303 and first.get("/auth/sessions").status_code == 200
        _second, replay = signed_out_then_in(app, email, lambda: code)
        assert replay.status_code == 400
    with time_machine.travel(datetime(2026, 11, 27, 10, 6, 0, tzinfo=UTC), tick=False):
        _third, stale = signed_out_then_in(app, email, lambda: totp_now(app, email, offset_steps=-2))
        assert stale.status_code == 400


def test_a_half_signed_in_session_reaches_nothing_else(app, client):
    enrolled(app, client)
    other = app.test_client()
    sign_in(other, "anna.solovyova@example.ru")
    for path in ("/cards", "/consent/", "/auth/security", "/auth/sessions"):
        response = other.get(path)
        assert response.status_code == 303 and response.headers["Location"].startswith("/auth/sign-in"), path


def test_a_recovery_code_works_once(app, client):
    codes = enrolled(app, client)
    fresh = app.test_client()
    sign_in(fresh, "anna.solovyova@example.ru")
    ok = post(
        fresh, "/auth/second-factor", {"r-recovery_code": codes[0], "use": "recovery"}, page="/auth/second-factor"
    )
    assert ok.status_code == 303
    again = app.test_client()
    sign_in(again, "anna.solovyova@example.ru")
    reuse = post(
        again, "/auth/second-factor", {"r-recovery_code": codes[0], "use": "recovery"}, page="/auth/second-factor"
    )
    assert reuse.status_code == 400
    kinds = [m.subject for m in outbox(app, "anna.solovyova@example.ru") if m.kind == "security_alert"]
    assert kinds  # the owner heard about the sign-ins


def test_an_emailed_code_is_bound_to_its_sign_in_attempt(app_factory):
    app = app_factory(DEMO_MODE=True)
    client = app.test_client()
    enrolled(app, client, factor="email")
    first = app.test_client()
    sign_in(first, "anna.solovyova@example.ru")
    code_for_first = last_code(app, "anna.solovyova@example.ru")
    second = app.test_client()
    sign_in(second, "anna.solovyova@example.ru")
    refused = post(second, "/auth/second-factor", {"f-code": code_for_first, "use": "code"})
    # The second attempt sent its own code; the first attempt's code does not open it.
    assert refused.status_code == 400 or last_code(app, "anna.solovyova@example.ru") == code_for_first


# -- lock-out and rate limits ---------------------------------------------------------------------


def test_five_wrong_passwords_pause_new_devices_for_15_minutes_across_cookie_jars(app, client):
    enrolled(app, client)
    email = "anna.solovyova@example.ru"
    statuses = [sign_in(app.test_client(), email, "Wrong-password-1").status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429]
    assert sign_in(app.test_client(), email).status_code == 429  # even the right password
    alerts = [m for m in outbox(app, email) if m.kind == "security_alert"]
    assert any("paused" in m.body or "приостановлен" in m.body for m in alerts)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=16)):
        assert sign_in(app.test_client(), email).headers["Location"] == "/auth/second-factor"


def test_three_wrong_codes_lock_the_account(app, client):
    enrolled(app, client)
    fresh = app.test_client()
    sign_in(fresh, "anna.solovyova@example.ru")
    results = [
        post(fresh, "/auth/second-factor", {"f-code": "000000", "use": "code"}, page="/auth/second-factor").status_code
        for _ in range(2)
    ]
    assert results == [400, 400]
    third = post(fresh, "/auth/second-factor", {"f-code": "000000", "use": "code"}, page="/auth/second-factor")
    assert third.status_code == 429
    assert sign_in(app.test_client(), "anna.solovyova@example.ru").status_code == 429


def test_unknown_and_known_accounts_get_the_same_answer(app, client):
    enrolled(app, client)

    def masked(response):
        html = re.sub(r'(csrf[-_]token"? (?:content|value)=")[^"]+', r"\1X", response.get_data(as_text=True))
        return re.sub(r'(id="(?:login|email)" [^>]*value=")[^"]+', r"\1X", html)

    known = sign_in(app.test_client(), "anna.solovyova@example.ru", "Wrong-password-1")
    unknown = sign_in(app.test_client(), "nobody@example.ru", "Wrong-password-1")
    assert known.status_code == unknown.status_code == 400
    assert masked(known) == masked(unknown)
    forgot_known = post(app.test_client(), "/auth/forgot", {"email": "anna.solovyova@example.ru"})
    forgot_unknown = post(app.test_client(), "/auth/forgot", {"email": "nobody@example.ru"})
    assert masked(forgot_known) == masked(forgot_unknown)


# -- sessions ------------------------------------------------------------------------------------


def test_the_session_is_rotated_at_sign_in(app, client):
    enrolled(app, client)
    attacker = app.test_client()
    attacker.get("/auth/sign-in")
    planted = attacker.get_cookie("session").value
    victim = app.test_client()
    victim.set_cookie("session", planted)
    token_before = csrf_token(victim, "/auth/sign-in")
    sign_in(victim, "anna.solovyova@example.ru")
    post(victim, "/auth/second-factor", {"f-code": totp_now(app, "anna.solovyova@example.ru", 1), "use": "code"})
    assert victim.get("/auth/sessions").status_code == 200
    assert attacker.get("/auth/sessions").status_code == 303  # the planted cookie got nothing
    late = victim.post("/auth/keep-alive", data={"csrf_token": token_before})
    assert late.status_code == 400  # a CSRF token from before sign-in is dead


def copy_of(app, client):
    clone = app.test_client()
    clone.set_cookie("session", client.get_cookie("session").value)
    return clone


def test_signing_out_kills_a_copied_cookie(app, client):
    enrolled(app, client)
    clone = copy_of(app, client)
    assert clone.get("/auth/sessions").status_code == 200
    response = post(client, "/auth/sign-out", {}, page="/auth/sessions")
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert clone.get("/auth/sessions").status_code == 303
    assert client.get("/auth/sign-out").status_code == 405


def test_sessions_page_lists_and_ends_a_session(app, client):
    enrolled(app, client)
    other = app.test_client()
    sign_in(other, "anna.solovyova@example.ru")
    post(other, "/auth/second-factor", {"f-code": totp_now(app, "anna.solovyova@example.ru", 1), "use": "code"})
    page = client.get("/auth/sessions").get_data(as_text=True)
    ids = re.findall(r"/auth/sessions/([0-9a-f]{64})/end", page)
    assert len(ids) == 2
    with app.app_context():
        mine = db.session.scalar(
            sa.select(ServerSession.id)
            .where(ServerSession.ended_at.is_(None))
            .order_by(ServerSession.created_at)
            .limit(1)
        )
    theirs = next(i for i in ids if i != mine)
    assert post(client, f"/auth/sessions/{theirs}/end", {}, page="/auth/sessions").status_code == 303
    assert other.get("/auth/sessions").status_code == 303 and client.get("/auth/sessions").status_code == 200


def test_sign_out_everywhere_needs_the_password_and_ends_every_session(app, client):
    enrolled(app, client)
    clone = copy_of(app, client)
    assert (
        post(client, "/auth/sessions/end-all", {"current_password": "wrong"}, page="/auth/sessions").status_code == 400
    )
    assert (
        post(client, "/auth/sessions/end-all", {"current_password": PASSWORD}, page="/auth/sessions").status_code == 303
    )
    assert client.get("/auth/sessions").status_code == 303 and clone.get("/auth/sessions").status_code == 303


def test_a_password_change_needs_the_current_password_and_ends_other_sessions(app, client):
    enrolled(app, client)
    clone = app.test_client()
    sign_in(clone, "anna.solovyova@example.ru")
    post(clone, "/auth/second-factor", {"f-code": totp_now(app, "anna.solovyova@example.ru", 1), "use": "code"})
    new = "Другой длинный вечер 7!"
    wrong = post(
        client,
        "/auth/security/password",
        {"pw-current_password": "nope", "pw-password": new, "pw-password_again": new},
        page="/auth/security",
    )
    assert wrong.status_code == 400
    right = post(
        client,
        "/auth/security/password",
        {"pw-current_password": PASSWORD, "pw-password": new, "pw-password_again": new},
        page="/auth/security",
    )
    assert right.status_code == 303
    assert client.get("/auth/sessions").status_code == 200 and clone.get("/auth/sessions").status_code == 303
    assert sign_in(app.test_client(), "anna.solovyova@example.ru", new).status_code == 303


def test_no_truncation_of_long_passwords(app, client):
    long = "Pp1!" + "x" * 100
    register(client, password=long, password_again=long)
    confirm(client, confirm_link(app, "anna.solovyova@example.ru"))
    assert sign_in(app.test_client(), "anna.solovyova@example.ru", long[:-1]).status_code == 400
    assert sign_in(app.test_client(), "anna.solovyova@example.ru", long).status_code == 303


def test_a_disabled_account_loses_its_sessions(app, client):
    enrolled(app, client)
    with app.app_context():
        from portal.database import write_transaction

        with write_transaction():
            db.session.scalar(sa.select(Account)).is_active = False
    assert client.get("/auth/sessions").status_code == 303


@pytest.mark.parametrize("staff,idle", [(False, 30), (True, 15)])
def test_idle_timeout(app, demo, login, staff, idle):
    person = demo["doctor"] if staff else demo["patient"]
    client = login(person)
    start = datetime.now(UTC)
    with time_machine.travel(start + timedelta(minutes=idle - 1)):
        assert client.get("/auth/sessions").status_code == 200  # activity keeps it alive
    with time_machine.travel(start + timedelta(minutes=2 * idle - 2)):
        assert client.get("/auth/sessions").status_code == 200
    with time_machine.travel(start + timedelta(minutes=3 * idle)):
        assert client.get("/auth/sessions").status_code == 303


def test_the_session_ends_12_hours_after_sign_in_however_active(app, demo, login):
    client = login(demo["patient"])
    start = datetime.now(UTC)
    for minutes in range(20, 12 * 60, 20):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            assert client.get("/auth/sessions").status_code == 200
    with time_machine.travel(start + timedelta(hours=12, minutes=10)):
        assert client.get("/auth/sessions").status_code == 303


def test_keep_alive_extends_the_session(app, demo, login):
    client = login(demo["patient"])
    start = datetime.now(UTC)
    with time_machine.travel(start + timedelta(minutes=25)):
        assert (
            post(client, "/auth/keep-alive", {}, page="/auth/sessions", headers={"HX-Request": "true"}).status_code
            == 204
        )
    with time_machine.travel(start + timedelta(minutes=50)):
        assert client.get("/auth/sessions").status_code == 200


def test_htmx_requests_of_an_expired_session_get_a_full_page_redirect(app, demo, login):
    client = login(demo["patient"])
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=40)):
        response = client.get(f"/card/{demo['patient'].patient_id}/access-log", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/auth/sign-in")


# -- recovery ------------------------------------------------------------------------------------


def reset_token(app, email):
    body = outbox(app, email)[-1].body
    return re.search(r"/auth/reset/(\S+)", body).group(1)


def test_password_recovery_works_once_ends_sessions_and_keeps_the_second_factor(app, client):
    enrolled(app, client)
    email = "anna.solovyova@example.ru"
    post(app.test_client(), "/auth/forgot", {"email": email})
    token = reset_token(app, email)
    browser = app.test_client()
    landing = browser.get(f"/auth/reset/{token}")
    assert landing.headers["Location"] == "/auth/reset"
    new = "Новый надёжный замок 42!"
    done = post(browser, "/auth/reset", {"password": new, "password_again": new})
    assert done.status_code == 303
    assert client.get("/auth/sessions").status_code == 303  # the old session is over
    assert sign_in(app.test_client(), email, new).headers["Location"] == "/auth/second-factor"
    again = app.test_client()
    again.get(f"/auth/reset/{token}")
    assert again.get("/auth/reset").status_code == 400  # the link died with the old password


def test_a_recovery_link_expires_after_30_minutes(app, client):
    enrolled(app, client)
    post(app.test_client(), "/auth/forgot", {"email": "anna.solovyova@example.ru"})
    token = reset_token(app, "anna.solovyova@example.ru")
    browser = app.test_client()
    browser.get(f"/auth/reset/{token}")
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=31)):
        assert browser.get("/auth/reset").status_code == 400


# -- changes of e-mail and phone -----------------------------------------------------------------


def test_changing_the_email_needs_the_password_and_a_confirmation(app, client):
    enrolled(app, client)
    wrong = post(
        client,
        "/auth/security/email",
        {"em-current_password": "nope", "em-email": "new@example.ru"},
        page="/auth/security",
    )
    assert wrong.status_code == 400
    ok = post(
        client,
        "/auth/security/email",
        {"em-current_password": PASSWORD, "em-email": "new@example.ru"},
        page="/auth/security",
    )
    assert ok.status_code == 303
    assert account_by_email(app, "anna.solovyova@example.ru") is not None  # not changed until confirmed
    confirm(client, confirm_link(app, "new@example.ru"))
    assert account_by_email(app, "new@example.ru") is not None
    assert any(m.kind == "security_alert" for m in outbox(app, "anna.solovyova@example.ru"))


def test_changing_the_phone_needs_the_password_and_a_code(app, client):
    enrolled(app, client)
    ok = post(
        client,
        "/auth/security/phone",
        {"ph-current_password": PASSWORD, "ph-phone": "+7 903 555-44-33"},
        page="/auth/security",
    )
    assert ok.headers["Location"] == "/auth/security/phone/confirm"
    code = last_code(app, "+79035554433")
    assert post(client, "/auth/security/phone/confirm", {"code": code}).status_code == 303
    assert account_by_email(app, "anna.solovyova@example.ru").phone == "+79035554433"


def test_security_messages_carry_no_medical_data(app, demo, login):
    client = login(demo["doctor"])
    post(
        client,
        "/clinic/emergency",
        {
            "snils": demo["patient"].snils,
            "reason": "Пациент без сознания, нужен анамнез",
            "password": "Zelenyi-Sad-2026!",
        },
    )
    for message in outbox(app):
        assert "анамнез" not in message.body and "диагноз" not in message.body.lower()
