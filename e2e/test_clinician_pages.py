"""The clinicians' workspace in the browser: the doctor's day and the nurse's list and
measurements form — axe-, console- and CSP-clean in Russian and English, every theme, JavaScript
on and off; bad measurements come back with the error summary and the values as typed. And one
journey by keyboard alone: the doctor signs in with the second factor and marks Smirnova arrived;
the nurse signs in, enters a blood pressure with an error, fixes it and saves it; Smirnova sees it
on her trend page."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean
from e2e.test_identity_journey import tab_to, totp_code, type_into
from e2e.test_signed_in_pages import email_of_key, page_is_clean, signed_in
from portal import clock
from portal.appointments.models import Appointment
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.demodata.people import DEMO_PASSWORD
from portal.directory.models import Practitioner

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]
DOCTOR_PAGES = ["/doctor", "/doctor?date={yesterday}"]
NURSE_PAGES = ["/nurse", "/nurse/appointments/{arrived}/measurements"]


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
    return {"arrived": arrived, "yesterday": (clock.today() - timedelta(days=1)).isoformat(), "doctor": doctor}


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", DOCTOR_PAGES)
def test_doctor_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(**ids), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", NURSE_PAGES)
def test_nurse_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "nurse", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(**ids), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_bad_measurements_come_back_with_the_error_summary(browser, base_url, live_app, ids, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "nurse", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        check.goto(f"/nurse/appointments/{ids['arrived']}/measurements")
        page = check.page
        page.fill("#systolic", "80")
        page.fill("#diastolic", "120")
        page.fill("#temperature", "48")
        with page.expect_navigation():
            page.locator("form[action$='/measurements'] button").click()
        assert page.locator("#error-summary").count() == 1
        if js:
            assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.locator("#systolic").input_value() == "80"
        assert page.locator("#temperature").input_value() == "48"
        check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert_clean(check, js)
    finally:
        context.close()


@pytest.fixture(scope="module")
def smirnova_today(live_app, ids):
    """Smirnova booked with the demo doctor a few minutes from now (today): the doctor may mark
    her arrived."""
    from portal.appointments import care

    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        doctor = db.session.get(Practitioner, ids["doctor"])
        starts = min(clock.now() + timedelta(minutes=10), clock.day_end(clock.today()) - timedelta(minutes=1))
        with write_transaction():
            row = Appointment(
                patient_id=patient, organisation_id=doctor.organisation_id, practitioner_id=doctor.id,
                specialty_code=doctor.specialty_code, starts_at=starts.replace(microsecond=0), status="booked",
            )  # fmt: skip
            db.session.add(row)
            db.session.flush()
            care.open_for(row, None, "system")
            found = (row.id, patient)
        db.session.remove()
    return found


def _sign_in_by_keyboard(check, live_app, who: str) -> None:
    page = check.page
    check.goto("/auth/sign-in")
    type_into(page, "#login", email_of_key(who))
    type_into(page, "#password", DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/auth/second-factor")
    type_into(page, "#f-code", totp_code(live_app, email_of_key(who)))
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _press(page, selector: str) -> None:
    tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_arrival_measurement_and_trend_by_keyboard_alone(make_check, browser, base_url, live_app, smirnova_today):
    appointment, patient = smirnova_today
    js = True
    # The doctor marks Smirnova arrived.
    doctor = make_check(lang="ru", js=js)
    _sign_in_by_keyboard(doctor, live_app, "doctor")
    doctor.goto("/doctor")
    assert_clean(doctor, js)
    _press(doctor.page, f"form[action='/doctor/appointments/{appointment}/arrived'] button")
    assert "Отмечено" in doctor.page.content()
    assert_clean(doctor, js)

    # The nurse enters a blood pressure the wrong way round, reads the error, fixes it and saves.
    nurse = make_check(lang="ru", js=js)
    page = nurse.page
    _sign_in_by_keyboard(nurse, live_app, "nurse")
    nurse.goto("/nurse")
    assert_clean(nurse, js)
    _press(page, f"a[href='/nurse/appointments/{appointment}/measurements']")
    type_into(page, "#systolic", "85")
    type_into(page, "#diastolic", "135")
    type_into(page, "#pulse", "76")
    _press(page, "form[action$='/measurements'] button")
    assert "Систолическое давление должно быть выше диастолического" in page.content()
    assert page.locator("#pulse").input_value() == "76"
    nurse.console_errors[:] = [e for e in nurse.console_errors if "400" not in e]
    assert_clean(nurse, js)
    tab_to(page, "#systolic")
    page.keyboard.press("Control+A")
    page.keyboard.type("135")
    tab_to(page, "#diastolic")
    page.keyboard.press("Control+A")
    page.keyboard.type("85")
    _press(page, "form[action$='/measurements'] button")
    assert page.url.endswith("/nurse?done=measured")
    assert "Измерения сохранены" in page.content()

    # Smirnova sees it on her trend page.
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="ru", js=js)
    try:
        check = checked_page(context, js=js)
        response = check.goto(f"/card/{patient}/results/trend/8480-6")
        assert response.status == 200
        words = check.page.locator("main").inner_text()
        assert "Систолическое давление" in words and "135" in words
        assert_clean(check, js)
    finally:
        context.close()
