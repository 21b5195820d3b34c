"""Identity under attack (issue 8): the session id changes with every rise in privilege, wrong
passwords pause strangers without locking the owner out or telling who has an account, guesses in
a signed-in session are counted, a second factor is proved before another is set up or replaces
it, and an old e-mail link cannot take an account back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import sqlalchemy as sa
import time_machine

from portal.audit.models import AuditEvent
from portal.auth.models import Account
from portal.database import db
from portal.demodata.people import DEMO_PASSWORD
from portal.identifiers import make_snils
from tests.conftest import csrf_token, last_code, outbox
from tests.test_auth import (
    PASSWORD,
    account_by_email,
    confirm,
    confirm_link,
    copy_of,
    enrolled,
    post,
    secret_on,
    sign_in,
    totp_now,
)
from tests.test_sharing_create import OWNER_PHONE, ask
from tests.test_sharing_create import confirm as confirm_grant

EMAIL = "anna.solovyova@example.ru"
WRONG = "Wrong-password-1"


def events(app, action: str, outcome: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        if outcome:
            query = query.where(AuditEvent.outcome == outcome)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
    return rows


def second_factor(client, code: str):
    return post(client, "/auth/second-factor", {"f-code": code, "use": "code"})


def masked(response) -> str:
    html = re.sub(r'(csrf[-_]token"? (?:content|value)=")[^"]+', r"\1X", response.get_data(as_text=True))
    return re.sub(r'(id="login" [^>]*value=")[^"]+', r"\1X", html)


# -- 2. the session id changes when privilege rises ---------------------------------------------


def test_a_cookie_copied_after_the_password_step_opens_nothing_once_the_code_is_entered(app, client):
    enrolled(app, client)
    owner = app.test_client()
    assert sign_in(owner, EMAIL).headers["Location"] == "/auth/second-factor"
    copied = copy_of(app, owner)  # taken between the password and the code
    assert second_factor(owner, totp_now(app, EMAIL, 1)).status_code == 303
    assert owner.get("/auth/sessions").status_code == 200
    assert copied.get("/auth/sessions").status_code == 303
    assert copied.get("/auth/second-factor").status_code == 303  # not even the pending step is left


def test_a_cookie_copied_during_the_first_sign_in_dies_when_the_factor_is_set_up(app, client):
    from tests.test_auth import register

    register(client)
    confirm(client, confirm_link(app, EMAIL))
    assert sign_in(client, EMAIL).headers["Location"] == "/auth/enrol"
    copied = copy_of(app, client)
    post(client, "/auth/enrol/phone/send", {}, page="/auth/enrol")
    post(client, "/auth/enrol/phone", {"code": last_code(app, "+79161234567")}, page="/auth/enrol")
    post(client, "/auth/enrol/factor", {"method": "totp"})
    page = client.get("/auth/enrol/totp").get_data(as_text=True)
    done = post(client, "/auth/enrol/totp", {"code": totp_now(app, EMAIL, secret=secret_on(page))})
    assert done.headers["Location"] == "/auth/recovery-codes"
    assert client.get("/auth/sessions").status_code == 200
    assert copied.get("/auth/sessions").status_code == 303 and copied.get("/auth/enrol").status_code == 303


def test_a_step_up_gives_the_session_a_new_id(app, demo, login):
    client = login(demo["patient"])
    copied = copy_of(app, client)
    response = post(client, "/auth/confirm-password?next=/cards", {"current_password": DEMO_PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/cards"
    assert client.get("/auth/sessions").status_code == 200
    assert copied.get("/auth/sessions").status_code == 303


def test_emergency_access_gives_the_session_a_new_id(app, demo, login):
    client = login(demo["doctor"])
    copied = copy_of(app, client)
    form = {"snils": demo["patient"].snils, "reason": "Пациент без сознания в приёмном", "password": DEMO_PASSWORD}
    response = post(client, "/clinic/emergency", form)
    assert response.status_code == 303
    assert client.get(response.headers["Location"]).status_code == 200
    assert copied.get("/auth/sessions").status_code == 303


# -- 3, 4. pausing guessers without locking the owner out or telling who has an account -----------


def test_wrong_passwords_from_strangers_pause_new_devices_but_not_the_owner(app, client):
    enrolled(app, client)  # this browser signed in: it is a trusted device from now on
    statuses = [sign_in(app.test_client(), EMAIL, WRONG).status_code for _ in range(6)]
    assert statuses == [400, 400, 400, 400, 429, 429]
    assert client.get("/auth/sessions").status_code == 200  # the owner's live session stays
    assert sign_in(app.test_client(), EMAIL).status_code == 429  # a new device waits, right password or not
    post(client, "/auth/sign-out", {}, page="/auth/sessions")
    again = sign_in(client, EMAIL)  # the owner's own browser is not paused by what others typed
    assert again.status_code == 303 and again.headers["Location"] == "/auth/second-factor"
    assert second_factor(client, totp_now(app, EMAIL, 1)).status_code == 303
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=16)):
        assert sign_in(app.test_client(), EMAIL).headers["Location"] == "/auth/second-factor"
    alerts = [m.body for m in outbox(app, EMAIL) if m.kind == "security_alert"]
    assert any("приостановлен" in body or "paused" in body for body in alerts)


def test_a_trusted_device_has_its_own_count_of_wrong_passwords(app, client):
    enrolled(app, client)
    post(client, "/auth/sign-out", {}, page="/auth/sessions")
    assert [sign_in(client, EMAIL, WRONG).status_code for _ in range(5)] == [400, 400, 400, 400, 429]
    assert sign_in(client, EMAIL).status_code == 429
    assert sign_in(app.test_client(), EMAIL).headers["Location"] == "/auth/second-factor"  # others not paused


def test_the_per_login_rate_limit_spares_the_owners_device(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True)
    owner = app.test_client()
    enrolled(app, owner)
    post(owner, "/auth/sign-out", {}, page="/auth/sessions")
    for n in range(12):  # from many addresses: the per-address limit is not what stops them
        attacker = app.test_client()
        token = csrf_token(attacker, "/auth/sign-in")
        attacker.post(
            "/auth/sign-in",
            data={"csrf_token": token, "login": EMAIL, "password": WRONG},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n}"},
        )
    assert sign_in(owner, EMAIL).headers["Location"] == "/auth/second-factor"


def test_the_pause_says_how_long_in_both_languages_and_keeps_the_login(app, client):
    enrolled(app, client)
    for lang, words in (("ru", "приостановлен на 15 минут"), ("en", "paused for 15 minutes")):
        stranger = app.test_client()
        stranger.set_cookie("lang", lang)
        responses = [sign_in(stranger, EMAIL, WRONG) for _ in range(5 if lang == "ru" else 1)]
        html = responses[-1].get_data(as_text=True)
        assert responses[-1].status_code == 429 and words in html, html
        assert f'value="{EMAIL}"' in html and WRONG not in html
        assert 'href="#login"' in html  # the error summary leads to the field


def test_the_pause_does_not_tell_whether_an_account_exists(app, client):
    enrolled(app, client)
    logins = {
        "known e-mail": EMAIL,
        "unknown e-mail": "nobody@example.ru",
        "known SNILS": "112-233-445 95",
        "unknown SNILS": make_snils("009999999"),
    }
    answers = {name: [sign_in(app.test_client(), login, WRONG) for _ in range(6)] for name, login in logins.items()}
    statuses = {name: [r.status_code for r in responses] for name, responses in answers.items()}
    assert set(map(tuple, statuses.values())) == {(400, 400, 400, 400, 429, 429)}, statuses
    for step in (0, 4, 5):
        assert masked(answers["known e-mail"][step]) == masked(answers["unknown e-mail"][step])
        assert masked(answers["known SNILS"][step]) == masked(answers["unknown SNILS"][step])
    # The SNILS typed differently is the same login: no fresh guesses by re-spelling it.
    assert sign_in(app.test_client(), "11223344595", WRONG).status_code == 429


# -- 6. guessing the password from a signed-in session ------------------------------------------


def test_guessing_the_password_in_a_session_is_counted_across_forms_and_audited(app, demo, login):
    client = login(demo["patient"])
    client.set_cookie("lang", "en")
    guesses = [
        (
            "/auth/security/password",
            {
                "pw-current_password": WRONG,
                "pw-password": "Тихий-вечер-2026!",
                "pw-password_again": "Тихий-вечер-2026!",
            },
            "/auth/security",
        ),
        ("/auth/security/email", {"em-current_password": WRONG, "em-email": "other@example.ru"}, "/auth/security"),
        ("/auth/sessions/end-all", {"current_password": WRONG}, "/auth/sessions"),
        ("/auth/confirm-password?next=/cards", {"current_password": WRONG}, None),
        ("/auth/security/phone", {"ph-current_password": WRONG, "ph-phone": "+7 903 555-44-33"}, "/auth/security"),
    ]
    statuses = [post(client, path, data, page=page).status_code for path, data, page in guesses]
    assert statuses == [400, 400, 400, 400, 429]
    paused = post(client, "/auth/confirm-password?next=/cards", {"current_password": DEMO_PASSWORD})
    assert paused.status_code == 429 and "paused for 15 minutes" in paused.get_data(as_text=True)
    failures = [
        e
        for e in (
            events(app, a, "failure")
            for a in (
                "auth.password_changed",
                "auth.email_change_requested",
                "auth.signed_out_everywhere",
                "auth.reauthenticated",
                "auth.phone_change_requested",
            )
        )
        for e in e
    ]
    assert len(failures) == 6 and all(e.actor_id == demo["patient"].id for e in failures)
    assert events(app, "auth.locked")
    assert client.get("/auth/sessions").status_code == 200  # the session itself goes on
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=16)):
        ok = post(client, "/auth/confirm-password?next=/cards", {"current_password": DEMO_PASSWORD})
        assert ok.status_code == 303


def test_guessing_the_password_on_emergency_access_is_counted_and_audited(app, demo, login):
    client = login(demo["doctor"])
    form = {"snils": demo["patient"].snils, "reason": "Пациент без сознания в приёмном", "password": WRONG}
    statuses = [post(client, "/clinic/emergency", form).status_code for _ in range(6)]
    assert statuses == [400, 400, 400, 400, 429, 429]
    assert len(events(app, "access.emergency", "failure")) == 6
    right = post(client, "/clinic/emergency", {**form, "password": DEMO_PASSWORD})
    opened = [e for e in events(app, "access.emergency", "success") if e.actor_id == demo["doctor"].id]
    assert right.status_code == 429 and not [e for e in opened if e.patient_id == demo["patient"].patient_id]
    html = right.get_data(as_text=True)
    assert "Пациент без сознания в приёмном" in html and DEMO_PASSWORD not in html  # what was typed stays


# -- 26. the existing factor is proved before another is set up ------------------------------------


def test_a_staff_member_with_a_code_factor_enters_the_code_before_setting_up_an_app(app, demo):
    from portal.directory.models import Organisation

    with app.app_context():
        oid = db.session.scalar(sa.select(Organisation.oid).order_by(Organisation.id).limit(1))
    result = app.test_cli_runner().invoke(args=["assign-role", "patient@example.ru", "doctor", oid])
    assert result.exit_code == 0, result.output
    intruder = app.test_client()  # has the password, not the phone
    response = sign_in(intruder, "patient@example.ru", DEMO_PASSWORD)
    assert response.headers["Location"] == "/auth/second-factor"
    for path in ("/auth/enrol", "/auth/enrol/factor", "/auth/enrol/totp", "/clinic/emergency"):
        assert intruder.get(path).headers["Location"].startswith("/auth/sign-in"), path
    assert post(intruder, "/auth/enrol/factor", {"method": "totp"}, page="/auth/second-factor").status_code == 303
    with app.app_context():
        assert db.session.get(Account, demo["patient"].id).second_factor == "sms"
    # The owner, with the phone: the code first, then the authenticator app staff must use.
    owner = app.test_client()
    sign_in(owner, "patient@example.ru", DEMO_PASSWORD)
    done = second_factor(owner, last_code(app, OWNER_PHONE))
    assert done.headers["Location"] == "/auth/enrol/factor"
    assert owner.get("/clinic/emergency").headers["Location"] == "/auth/enrol"
    assert post(owner, "/auth/enrol/factor", {"method": "totp"}).headers["Location"] == "/auth/enrol/totp"
    page = owner.get("/auth/enrol/totp").get_data(as_text=True)
    code = pyotp.TOTP(secret_on(page)).now()
    assert post(owner, "/auth/enrol/totp", {"code": code}).headers["Location"] == "/auth/recovery-codes"
    assert owner.get("/clinic/emergency").status_code == 200


# -- 28. a change of address voids every older link ----------------------------------------------


def test_an_old_confirmation_link_cannot_undo_a_change_of_email(app, client):
    enrolled(app, client)
    first = next(m.body for m in outbox(app, EMAIL) if m.kind == "confirm_email")
    old_link = re.search(r"/auth/confirm/(\S+)", first).group(1)  # used, and still within its 24 hours
    post(app.test_client(), "/auth/forgot", {"email": EMAIL})
    old_reset = re.search(r"/auth/reset/(\S+)", outbox(app, EMAIL)[-1].body).group(1)
    asked = post(
        client,
        "/auth/security/email",
        {"em-current_password": PASSWORD, "em-email": "new@example.ru"},
        page="/auth/security",
    )
    assert asked.status_code == 303
    assert confirm(app.test_client(), confirm_link(app, "new@example.ru")).status_code == 200
    assert account_by_email(app, "new@example.ru") is not None
    undo = confirm(app.test_client(), old_link)  # whoever still reads the old mailbox
    assert undo.status_code == 400
    assert account_by_email(app, "new@example.ru") is not None and account_by_email(app, EMAIL) is None
    stale = app.test_client()
    stale.get(f"/auth/reset/{old_reset}")
    assert stale.get("/auth/reset").status_code == 400  # the reset link sent to the old mailbox is dead too


# -- 29. replacing the authenticator -----------------------------------------------------------------


def working_secret(app, email=EMAIL) -> bytes:
    return account_by_email(app, email).totp_secret_encrypted


def test_replacing_the_authenticator_needs_the_password_and_keeps_the_old_one_until_confirmed(app, client):
    enrolled(app, client)
    before = working_secret(app)
    bare = post(client, "/auth/enrol/factor", {"method": "totp"})
    assert bare.status_code == 400 and "Введите текущий пароль" in bare.get_data(as_text=True)
    wrong = post(client, "/auth/enrol/factor", {"method": "totp", "current_password": WRONG})
    assert wrong.status_code == 400 and "Неверный пароль" in wrong.get_data(as_text=True)
    assert 'href="#current_password"' in wrong.get_data(as_text=True) and WRONG not in wrong.get_data(as_text=True)
    assert working_secret(app) == before and client.get("/auth/enrol/totp").status_code == 303
    assert events(app, "auth.second_factor_change", "failure")
    right = post(client, "/auth/enrol/factor", {"method": "totp", "current_password": PASSWORD})
    assert right.headers["Location"] == "/auth/enrol/totp"
    new_secret = secret_on(client.get("/auth/enrol/totp").get_data(as_text=True))
    assert working_secret(app) == before  # the old app still works until the new one is proved
    other = app.test_client()
    sign_in(other, EMAIL)
    assert second_factor(other, totp_now(app, EMAIL, 1)).status_code == 303
    assert other.get("/auth/enrol/totp").status_code == 303  # the new seed is this session's alone
    done = post(client, "/auth/enrol/totp", {"code": pyotp.TOTP(new_secret).now()})
    assert done.headers["Location"] == "/auth/recovery-codes"
    assert working_secret(app) != before
    assert events(app, "auth.second_factor_change", "success")
    alerts = [m.body for m in outbox(app, EMAIL) if m.kind == "security_alert"]
    assert any("second factor of your account was changed" in b or "второй шаг" in b.lower() for b in alerts)


# -- 37. the limits on one-time codes can fail ----------------------------------------------------


def test_a_one_time_code_is_dead_after_three_wrong_tries(app, demo, login):
    owner = login(demo["patient"])
    ask(owner, "/sharing/new", person="guardian@example.ru", surname="Кузнецов", sections=["results"])
    code = last_code(app, OWNER_PHONE)
    wrong = "000000" if code != "000000" else "111111"
    assert [confirm_grant(owner, wrong).status_code for _ in range(3)] == [400, 400, 400]
    assert confirm_grant(owner, code).status_code == 400  # the right code, too late
    ask(owner, "/sharing/new", person="guardian@example.ru", surname="Кузнецов", sections=["results"])
    assert confirm_grant(owner, last_code(app, OWNER_PHONE)).status_code == 303  # a new code works


def test_sharing_confirmation_is_rate_limited(app_factory, demo_factory):
    app = app_factory(RATELIMIT_ENABLED=True)
    people = demo_factory(app)
    from tests.conftest import session_for

    owner = app.test_client()
    session_for(app, owner, people["patient"].id)
    statuses = []
    for _ in range(4):  # a new code each time: the per-code cap alone would allow this forever
        ask(owner, "/sharing/new", person="guardian@example.ru", surname="Кузнецов", sections=["results"])
        code = last_code(app, OWNER_PHONE)
        statuses += [confirm_grant(owner, "000000" if code != "000000" else "111111").status_code for _ in range(3)]
    assert statuses[:10] == [400] * 10 and statuses[10:] == [429, 429]


def test_the_count_of_wrong_codes_starts_again_after_a_right_one(app, client):
    enrolled(app, client)
    first = app.test_client()
    sign_in(first, EMAIL)
    assert [second_factor(first, "000000").status_code for _ in range(2)] == [400, 400]
    assert second_factor(first, totp_now(app, EMAIL, 1)).status_code == 303
    second = app.test_client()
    sign_in(second, EMAIL)
    assert [second_factor(second, "000000").status_code for _ in range(2)] == [400, 400]
    assert second_factor(second, "000000").status_code == 429  # the third in a row


def test_a_recovery_code_can_stand_in_for_the_password_when_replacing_the_factor(app, client):
    codes = enrolled(app, client)
    before = working_secret(app)
    wrong = post(client, "/auth/enrol/factor", {"method": "totp", "recovery_code": "QQQQQ-77777"})
    assert wrong.status_code == 400 and 'href="#recovery_code"' in wrong.get_data(as_text=True)
    assert "QQQQQ-77777" not in wrong.get_data(as_text=True)
    assert client.get("/auth/enrol/totp").status_code == 303
    right = post(client, "/auth/enrol/factor", {"method": "totp", "recovery_code": codes[0]})
    assert right.headers["Location"] == "/auth/enrol/totp"
    assert working_secret(app) == before
    changes = events(app, "auth.second_factor_change")
    assert [e.outcome for e in changes] == ["failure", "success"] and "recovery code" in changes[-1].reason
    again = app.test_client()  # the code is spent
    sign_in(again, EMAIL)
    spent = post(again, "/auth/second-factor", {"r-recovery_code": codes[0], "use": "recovery"})
    assert spent.status_code == 400
