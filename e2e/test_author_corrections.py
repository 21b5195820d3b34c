"""Corrections by the author in the browser: «Мои записи», the correction form (and its error
state), the doctor's queue of error reports and a report's page — axe-, console- and CSP-clean in
Russian and English, every theme, JavaScript on and off; the patient's entry page shows the
doctor's version in its history. And one journey by keyboard alone: the doctor signs in, opens
«Мои записи» from the day's page, corrects a visit's conclusion, forgets the reason, reads the
error, writes it and saves; Smirnova sees the old and the new value and the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean
from e2e.test_clinician_pages import _press, _sign_in_by_keyboard
from e2e.test_identity_journey import tab_to
from e2e.test_signed_in_pages import email_of_key, signed_in
from portal.auth.models import Account
from portal.corrections.models import CorrectionRequest
from portal.database import db, write_transaction
from portal.directory.models import Practitioner
from portal.record.models import Visit

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]
DOCTOR_PAGES = [
    "/doctor/entries",
    "/doctor/entries?page=2",
    "/doctor/entries/visits/{corrected}/correct",
    "/doctor/corrections",
    "/doctor/corrections/{report}",
]


@pytest.fixture(scope="module")
def ids(live_app):
    """Three visits the demo doctor wrote in Smirnova's card: one to walk by keyboard, one already
    corrected (its history shows), one with her error report."""
    from portal.corrections import authoring

    with live_app.test_request_context():
        doctor = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("doctor")))
        patient = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("patient")))
        practitioner = db.session.scalar(sa.select(Practitioner.id).where(Practitioner.account_id == doctor.id))
        walk, corrected, reported = db.session.scalars(
            sa.select(Visit.id)
            .where(Visit.patient_id == patient.patient_id, Visit.practitioner_id == practitioner)
            .order_by(Visit.id)
            .limit(3)
        ).all()
        entry = db.session.get(Visit, corrected)
        typed = {"complaints": entry.complaints or "", "examination": entry.examination or ""}
        typed |= {"conclusion": "Острый бронхит", "recommendations": entry.recommendations or ""}
        authoring.correct(
            doctor, "visits", corrected, typed, "Заключение записано не то", authoring.stamp("visits", entry)
        )
        with write_transaction():
            row = CorrectionRequest(
                patient_id=patient.patient_id, requested_by_id=patient.id, section="visits", entry_id=reported,
                description="Жалобы записаны неверно", status="registered", created_at=datetime.now(UTC),
            )  # fmt: skip
            db.session.add(row)
            db.session.flush()
            row.number = f"И-2026-{row.id:06d}"
            report = row.id
        found = {"walk": walk, "corrected": corrected, "report": report, "patient": patient.patient_id}
        db.session.remove()
    return found


def _clean(context, path: str, lang: str, js: bool) -> None:
    try:
        check = checked_page(context, js=js)
        response = check.goto(path)
        assert response.status == 200, f"{path}: {response.status}"
        assert check.page.locator("html").get_attribute("lang") == lang
        assert check.page.locator("h1").count() == 1
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", DOCTOR_PAGES)
def test_doctor_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang=lang, theme=theme, js=js)
    _clean(context, path.format(**ids), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_patient_sees_the_doctors_version_in_the_history(browser, base_url, live_app, ids, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        response = check.goto(f"/card/{ids['patient']}/visits/{ids['corrected']}")
        assert response.status == 200
        history = check.page.locator(".entry-history").inner_text()
        assert "Острый бронхит" in history and "Заключение записано не то" in history and "Соколов" in history
        assert ("Кто изменил" if lang == "ru" else "Who changed") in history
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_correction_without_a_reason_comes_back_with_the_error_summary(
    browser, base_url, live_app, ids, lang, theme, js
):
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        check.goto(f"/doctor/entries/visits/{ids['corrected']}/correct")
        page = check.page
        page.fill("#conclusion", "Острый трахеит")
        with page.expect_navigation():
            page.locator("form[action$='/correct'] button").click()
        assert page.locator("#error-summary").count() == 1
        assert page.locator("#error-summary a[href='#note']").count() == 1
        if js:
            assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.locator("#conclusion").input_value() == "Острый трахеит"
        check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert_clean(check, js)
    finally:
        context.close()


def test_a_correction_by_keyboard_alone(make_check, browser, base_url, live_app, ids):
    js = True
    doctor = make_check(lang="ru", js=js)
    page = doctor.page
    _sign_in_by_keyboard(doctor, live_app, "doctor")
    doctor.goto("/doctor")
    _press(page, "a[href='/doctor/entries']")
    assert page.locator("h1").inner_text() == "Мои записи"
    while page.locator(f"a[href='/doctor/entries/visits/{ids['walk']}/correct']").count() == 0:
        _press(page, "a[rel='next']")
    _press(page, f"a[href='/doctor/entries/visits/{ids['walk']}/correct']")
    assert_clean(doctor, js)
    tab_to(page, "#conclusion")
    page.keyboard.press("Control+A")
    page.keyboard.type("Хронический тонзиллит")
    _press(page, "form[action$='/correct'] button")
    assert "Укажите причину" in page.locator("#error-summary").inner_text()
    assert page.locator("#conclusion").input_value() == "Хронический тонзиллит"
    doctor.console_errors[:] = [e for e in doctor.console_errors if "400" not in e]
    assert_clean(doctor, js)
    tab_to(page, "#note")
    page.keyboard.type("Ошибка в заключении")
    _press(page, "form[action$='/correct'] button")
    assert page.url.endswith("/doctor/entries?done=corrected")
    assert "Запись исправлена" in page.content()

    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="ru", js=js)
    try:
        check = checked_page(context, js=js)
        check.goto(f"/card/{ids['patient']}/visits/{ids['walk']}")
        history = check.page.locator(".entry-history").inner_text()
        assert "Хронический тонзиллит" in history and "Ошибка в заключении" in history
        assert_clean(check, js)
    finally:
        context.close()
