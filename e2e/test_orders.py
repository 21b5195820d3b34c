"""Orders from the visit in the browser: the orders page, the prescription, referral and
vaccination forms and the nurse's vaccination form — axe-, console- and CSP-clean in Russian and
English, every theme, JavaScript on and off, each form also in its error state (the error summary,
the values as typed). And one journey by keyboard alone: the doctor signs in with the second
factor, opens the orders of an arrived patient from his day, writes a prescription with a negative
dose, reads the error, fixes it and saves it; the prescription is on the orders page."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean
from e2e.test_clinician_pages import _press, _sign_in_by_keyboard
from e2e.test_identity_journey import tab_to, type_into
from e2e.test_signed_in_pages import email_of_key, page_is_clean, signed_in
from portal import clock
from portal.appointments.models import Appointment
from portal.auth.models import Account
from portal.database import db
from portal.directory.models import Practitioner

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]
DOCTOR_PAGES = [
    "/doctor/appointments/{arrived}/orders",
    "/doctor/appointments/{arrived}/orders/prescription",
    "/doctor/appointments/{arrived}/orders/referral",
    "/doctor/appointments/{arrived}/orders/vaccination",
]
NURSE_PAGES = ["/nurse/appointments/{arrived}/vaccination"]
# form: (the fields to fill with a mistake, the field whose value must come back as typed)
BAD = {
    "prescription": ({"#drug": "Амоксициллин", "#form": "таблетки 500 мг", "#dose": "-1", "#quantity": "2"}, "#dose"),
    "referral": ({"#target": "ЭКГ", "#valid_until": "01.01.2000"}, "#target"),
    "vaccination": ({"#vaccine": "АДС-М", "#series": "А-1", "#given_on": "01.01.2999"}, "#series"),
}


@pytest.fixture(scope="module")
def ids(live_app):
    with live_app.app_context():
        doctor = db.session.scalar(
            sa.select(Practitioner.id)
            .join(Account, Account.id == Practitioner.account_id)
            .where(Account.email == email_of_key("doctor"))
        )
        arrived = db.session.scalar(
            sa.select(Appointment.id)
            .where(
                Appointment.practitioner_id == doctor,
                Appointment.status == "arrived",
                Appointment.starts_at >= clock.day_start(clock.today()),
            )
            .order_by(Appointment.id)
            .limit(1)
        )
        db.session.remove()
    assert arrived
    return {"arrived": arrived}


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", DOCTOR_PAGES)
def test_doctor_orders_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(**ids), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", NURSE_PAGES)
def test_nurse_vaccination_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "nurse", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(**ids), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("form", list(BAD))
def test_a_bad_order_comes_back_with_the_error_summary(browser, base_url, live_app, ids, form, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang=lang, theme=theme, js=js)
    fields, kept = BAD[form]
    try:
        check = checked_page(context, js=js)
        check.goto(f"/doctor/appointments/{ids['arrived']}/orders/{form}")
        page = check.page
        for selector, value in fields.items():
            page.fill(selector, value)
        with page.expect_navigation():
            page.locator(f"form[action$='/{form}'] button").click()
        assert page.locator("#error-summary").count() == 1
        if js:
            assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.locator(kept).input_value() == fields[kept]
        check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert_clean(check, js)
    finally:
        context.close()


def test_a_prescription_by_keyboard_alone(make_check, live_app, ids):
    appointment = ids["arrived"]
    js = True
    doctor = make_check(lang="ru", js=js)
    page = doctor.page
    _sign_in_by_keyboard(doctor, live_app, "doctor")
    doctor.goto("/doctor")
    assert_clean(doctor, js)
    _press(page, f"a[href='/doctor/appointments/{appointment}/orders']")
    assert_clean(doctor, js)
    _press(page, f"a[href='/doctor/appointments/{appointment}/orders/prescription']")
    type_into(page, "#drug", "Метформин")
    type_into(page, "#form", "таблетки 850 мг")
    type_into(page, "#dose", "-1")
    tab_to(page, "#dose_unit")
    page.keyboard.press("ArrowDown")  # «табл.», the first unit
    tab_to(page, "#frequency")
    page.keyboard.type("2")  # «2 раза в день»
    type_into(page, "#course_end", (clock.today() + timedelta(days=30)).strftime("%d.%m.%Y"))  # it starts today
    type_into(page, "#quantity", "3")
    _press(page, "form[action$='/prescription'] button")
    assert "Доза должна быть больше нуля" in page.content(), page.locator("#dose").input_value()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.locator("#drug").input_value() == "Метформин"
    assert page.locator("#dose_unit").input_value() == "tablet"
    assert page.locator("#frequency").input_value() == "2"
    doctor.console_errors[:] = [e for e in doctor.console_errors if "400" not in e]
    assert_clean(doctor, js)
    tab_to(page, "#dose")
    page.keyboard.press("Control+A")
    page.keyboard.type("1")
    _press(page, "form[action$='/prescription'] button")
    assert page.url.endswith(f"/doctor/appointments/{appointment}/orders?done=prescription")
    words = page.locator("main").inner_text()
    assert "Рецепт внесён в карту пациента" in words and "Метформин" in words
    assert_clean(doctor, js)
