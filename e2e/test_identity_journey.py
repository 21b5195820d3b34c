"""The identity journey in a real browser, by keyboard alone, with JavaScript on and off:
register → confirm the e-mail → set up the second factor → sign in → give consent → upload
identity documents → a registrar approves → the patient opens «Кто смотрел мою карту».
Every page on the way is checked with axe, for console errors and for CSP violations.

The mailbox and the phone are the outbox table: the test reads the link and codes from it, as
the person would read their e-mail and SMS. File inputs are filled with Playwright's file chooser
API (a native dialog cannot be driven by keys); everything else is Tab, typing, Space and Enter.
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import sqlalchemy as sa
from PIL import Image

from e2e.test_accessibility import assert_clean
from portal import crypto
from portal.auth.models import Account
from portal.database import db
from portal.demodata.people import DEMO_PASSWORD
from portal.identifiers import enp_check_digit, make_snils
from portal.notify.models import OutboxMessage

PASSWORD = "Тихий вечер над рекой 2026!"


def tab_to(page, selector: str, limit: int = 120) -> None:
    """Press Tab until the focused element matches ``selector``; fail if it never does."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("sel => !!document.activeElement && document.activeElement.matches(sel)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def tab_to_link(page, text: str, limit: int = 120) -> None:
    """Press Tab until a link whose text is ``text`` has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            "text => { const el = document.activeElement; return !!el && el.tagName === 'A'"
            " && el.textContent.trim().replace(/\\s+/g, ' ') === text; }",
            text,
        ):
            return
    raise AssertionError(f"Tab never reached the link {text!r}")


def type_into(page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


def press_button(page, name: str) -> None:
    """Tab to the button (or link styled as one) with this text and press Enter."""
    for _ in range(120):
        page.keyboard.press("Tab")
        found = page.evaluate(
            "name => { const el = document.activeElement;"
            " return !!el && (el.tagName === 'BUTTON' || el.tagName === 'A') && el.textContent.trim() === name; }",
            name,
        )
        if found:
            with page.expect_navigation():
                page.keyboard.press("Enter")
            return
    raise AssertionError(f"no button {name!r} reachable by Tab")


def outbox_text(app, recipient: str) -> str:
    with app.app_context():
        body = db.session.scalars(
            sa.select(OutboxMessage.body).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id.desc())
        ).first()
        db.session.remove()
    return body


def account(app, email: str) -> Account:
    with app.app_context():
        found = db.session.scalar(sa.select(Account).where(Account.email == email))
        db.session.expunge_all()
        db.session.remove()
    return found


def totp_code(app, email: str, secret: str | None = None) -> str:
    """A code the portal will take now: from a 30-second step within one of the current step and
    after the last step this account used (each code works once), waiting if need be. ``secret``:
    the key of an authenticator being set up, as its page shows it."""
    found = account(app, email)
    last_step = found.totp_last_step
    if secret is None:
        with app.app_context():
            secret = crypto.decrypt(found.totp_secret_encrypted, f"totp:{found.id}").decode()
    else:
        secret, last_step = secret.replace(" ", ""), None
    totp = pyotp.TOTP(secret)
    for _ in range(70):
        step = int(time.time()) // totp.interval
        candidate = max(step - 1, (last_step if last_step is not None else -1) + 1)
        if candidate <= step + 1:
            return totp.at(candidate * totp.interval)
        time.sleep(1)
    raise AssertionError("no usable TOTP step")


def png_file(tmp_path, name: str):
    path = tmp_path / name
    Image.new("RGB", (80, 50), (240, 240, 240)).save(path, format="PNG")
    return str(path)


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_identity_journey(make_check, live_app, tmp_path, js):
    suffix = "1" if js else "2"
    email = f"journey{suffix}@example.ru"
    snils = make_snils(f"00300000{suffix}")
    check = make_check(lang="ru", js=js)
    page = check.page

    # 1. Register.
    check.goto("/auth/register")
    assert_clean(check, js)
    type_into(page, "#surname", "Соловьёва")
    type_into(page, "#name", "Анна")
    type_into(page, "#patronymic", "Игоревна")
    type_into(page, "#birth_date", "12.04.1990")
    tab_to(page, "#sex-0")
    page.keyboard.press("Space")
    type_into(page, "#snils", f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}")
    type_into(page, "#phone", f"+7 916 00{suffix}-12-34")
    type_into(page, "#email", email)
    type_into(page, "#password", PASSWORD)
    type_into(page, "#password_again", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/auth/register/sent")
    assert_clean(check, js)

    # 2. Confirm the e-mail from the link in the message.
    link = re.search(r"https?://\S+(/auth/confirm/\S+)", outbox_text(live_app, email)).group(1)
    check.goto(link)
    assert page.url.endswith("/auth/confirm")  # the token is gone from the address bar
    assert_clean(check, js)
    press_button(page, "Подтвердить адрес")
    assert page.locator("h1").inner_text() == "Адрес электронной почты подтверждён"

    # 3. Sign in; confirm the phone; set up an authenticator app.
    check.goto("/auth/sign-in")
    type_into(page, "#login", email)
    type_into(page, "#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/auth/enrol")
    assert_clean(check, js)
    press_button(page, "Отправить код")
    code = re.search(r"\d{6}", outbox_text(live_app, f"+791600{suffix}1234")).group(0)
    type_into(page, "#code", code)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/auth/enrol/factor")
    assert_clean(check, js)
    tab_to(page, "#method-0")
    page.keyboard.press("Space")
    press_button(page, "Продолжить")
    assert page.url.endswith("/auth/enrol/totp")
    assert page.locator("svg title").count() == 1 and page.locator("code.secret").inner_text()
    assert_clean(check, js)
    type_into(page, "#code", totp_code(live_app, email, page.locator("code.secret").inner_text()))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/auth/recovery-codes")
    assert page.locator(".recovery-codes code").count() == 10
    assert_clean(check, js)
    press_button(page, "Коды сохранены")

    # 4. Sign out and sign in again with the second factor.
    press_button(page, "Выйти")
    check.goto("/auth/sign-in")
    type_into(page, "#login", email)
    type_into(page, "#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/auth/second-factor")
    assert_clean(check, js)
    type_into(page, "#f-code", totp_code(live_app, email))
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # 5. Give consent: the card is closed until then.
    check.goto("/cards")
    assert page.url.endswith("/consent/")
    assert_clean(check, js)
    press_button(page, "Согласен")
    assert "согласие дано" in page.content()

    # 6. Upload identity documents.
    check.goto("/auth/verification")
    assert_clean(check, js)
    # Each run its own passport and OMS number: a second person with the same ones would be
    # (rightly) flagged to the registrar as a clash.
    type_into(page, "#passport_series_number", f"45 08 12345{suffix}")
    type_into(page, "#issued_on", "21.06.2019")
    type_into(page, "#issued_by", "ГУ МВД России по г. Москве")
    type_into(page, "#division_code", "770-001")
    oms = f"84519991228999{suffix}"
    type_into(page, "#oms_number", oms + str(enp_check_digit(oms)))
    for field in ("passport_file", "snils_file", "oms_file"):
        page.set_input_files(f"#{field}", png_file(tmp_path, f"{field}.png"))
    press_button(page, "Отправить на проверку")
    assert "На проверке" in page.content()
    assert_clean(check, js)

    # 7. A registrar approves, in their own browser.
    registrar = make_check(lang="ru", js=js)
    rpage = registrar.page
    registrar.goto("/auth/sign-in")
    type_into(rpage, "#login", "registrar@example.ru")
    type_into(rpage, "#password", DEMO_PASSWORD)
    rpage.keyboard.press("Enter")
    rpage.wait_for_url("**/auth/second-factor")
    type_into(rpage, "#f-code", totp_code(live_app, "registrar@example.ru"))
    with rpage.expect_navigation():
        rpage.keyboard.press("Enter")
    registrar.goto("/clinic/verifications")
    assert_clean(registrar, js)
    tab_to_link(rpage, "Соловьёва Анна Игоревна")
    with rpage.expect_navigation():
        rpage.keyboard.press("Enter")
    assert_clean(registrar, js)
    press_button(rpage, "Подтвердить личность и привязать карту")
    assert "Личность подтверждена" in rpage.content()

    # 8. The patient opens their card and «Кто смотрел мою карту».
    check.goto("/cards")
    assert_clean(check, js)
    tab_to(page, "h3.card-title a")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Моё здоровье"
    assert " ".join(page.locator(".card-banner").inner_text().split()).startswith("Карта: Соловьёва Анна,")
    assert_clean(check, js)
    tab_to_link(page, "Кто смотрел мою карту")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Кто смотрел мою карту"
    assert page.locator("table tbody tr").count() >= 1
    assert_clean(check, js)


@pytest.mark.parametrize("lang,js", [("ru", True), ("en", False)], ids=["ru-js", "en-nojs"])
def test_a_reused_policy_number_is_warned_of_and_approval_asks_why(browser, base_url, live_app, lang, js):
    """The demo's waiting identity check gives an OMS number another card already holds: the
    registrar's page warns, and approving without a reason answers with the error summary. The
    page is clean in both states; the request stays undecided and the policy added is removed."""
    from datetime import date

    from e2e.conftest import checked_page
    from e2e.test_accessibility import drop_expected_status_logs
    from e2e.test_signed_in_pages import email_of_key, signed_in
    from portal.auth.models import VerificationRequest
    from portal.database import write_transaction
    from portal.record.models import InsurancePolicy

    with live_app.app_context():
        request = db.session.scalar(
            sa.select(VerificationRequest)
            .where(VerificationRequest.decided_at.is_(None))
            .order_by(VerificationRequest.id)
        )
        smirnova = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        with write_transaction():
            reused = InsurancePolicy(
                patient_id=smirnova,
                number=request.oms_number,
                insurer="СОГАЗ-Мед",
                region_code="77",
                status="closed",
                valid_from=date(2015, 1, 1),
            )
            db.session.add(reused)
        reused_id, request_id = reused.id, request.id
        db.session.remove()
    context = signed_in(browser, base_url, live_app, "registrar", "complete", lang=lang, js=js)
    try:
        check = checked_page(context, js=js)
        page = check.page
        check.goto(f"/clinic/verifications/{request_id}")
        warning = "Этот номер полиса ОМС уже есть" if lang == "ru" else "This OMS policy number is already on"
        assert warning in page.content() and page.locator("#approve-reason").count() == 1
        assert_clean(check, js)
        approve = "Подтвердить личность и привязать карту" if lang == "ru" else "Confirm identity and link the card"
        with page.expect_navigation() as answer:
            page.get_by_role("button", name=approve).click()
        assert answer.value.status == 400
        page.wait_for_load_state("load")
        assert page.locator("#error-summary").is_visible()
        assert page.locator("#approve-reason").get_attribute("aria-invalid") == "true"
        assert page.title().startswith("Ошибка:" if lang == "ru" else "Error:")
        drop_expected_status_logs(check, 400)
        assert_clean(check, js)
    finally:
        context.close()
        with live_app.app_context():
            with write_transaction():
                db.session.delete(db.session.get(InsurancePolicy, reused_id))
            assert db.session.get(VerificationRequest, request_id).decided_at is None
            db.session.remove()
