"""The doctor's visit protocol in the browser: the page (the demo's draft) and its error state
axe-, console- and CSP-clean in Russian and English, every theme, JavaScript on and off; the
draft saved by the autosave when a field is left (JavaScript on), still there after a reload; and
the whole protocol by keyboard alone, in the order it is shown, with the ICD-10 code picked in the
combobox (JavaScript on) or searched and chosen with buttons (off), up to the signature."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean
from e2e.test_identity_journey import press_button, tab_to, type_into
from e2e.test_signed_in_pages import email_of_key, page_is_clean, signed_in
from portal import clock
from portal.appointments.models import Appointment
from portal.auth.models import Account
from portal.database import db
from portal.directory.models import Practitioner
from portal.protocol.models import VisitProtocol
from portal.record.models import Diagnosis, Visit

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]


@pytest.fixture(scope="module")
def ids(live_app):
    """The demo doctor's appointments of today: the one with the demo's draft, and the others
    without a protocol (by time), one for each test that writes."""
    with live_app.app_context():
        doctor = db.session.scalar(
            sa.select(Practitioner.id)
            .join(Account, Account.id == Practitioner.account_id)
            .where(Account.email == email_of_key("doctor"))
        )
        draft = db.session.scalar(
            sa.select(VisitProtocol.appointment_id)
            .join(Appointment, Appointment.id == VisitProtocol.appointment_id)
            .where(Appointment.practitioner_id == doctor)
        )
        free = list(
            db.session.scalars(
                sa.select(Appointment.id)
                .outerjoin(VisitProtocol, VisitProtocol.appointment_id == Appointment.id)
                .where(
                    Appointment.practitioner_id == doctor,
                    Appointment.starts_at >= clock.day_start(clock.today()),
                    Appointment.status != "cancelled",
                    VisitProtocol.id.is_(None),
                )
                .order_by(Appointment.starts_at, Appointment.id)
            )
        )
        db.session.remove()
    assert draft and len(free) >= 4
    return {"draft": draft, "empty": free[0], "walk_js": free[1], "walk_nojs": free[2], "autosave": free[3]}


def path(appointment_id: int) -> str:
    return f"/doctor/appointments/{appointment_id}/protocol"


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_protocol_page_is_accessible(browser, base_url, live_app, ids, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path(ids["draft"]), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_protocol_without_a_main_diagnosis_comes_back_with_the_summary(
    browser, base_url, live_app, ids, lang, theme, js
):
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        page = check.page
        check.goto(path(ids["empty"]))
        page.fill("#complaints", "Головная боль")
        page.fill("#diagnoses-0-text", "Z99.999")
        with page.expect_navigation():
            page.locator("button[name=action][value=sign]").click()
        assert page.locator("#error-summary a").count() >= 1
        if js:
            assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.locator("#complaints").input_value() == "Головная боль"
        assert page.locator("#diagnoses-0-text").input_value() == "Z99.999"
        assert page.locator("#diagnoses-0-text").get_attribute("aria-invalid") == "true"
        check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_stale_tab_sees_both_versions(browser, base_url, live_app, ids, lang, js):
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang=lang, js=js)
    try:
        check = checked_page(context, js=js)
        page = check.page
        check.goto(path(ids["draft"]))
        page.fill("#complaints", "Текст устаревшей вкладки")
        page.evaluate("document.getElementById('version').value = '0'")  # as if opened before a save
        with page.expect_navigation():
            page.locator("button.button-secondary[value=save]").click()
        assert page.locator("#compare").count() == 1
        assert "Насморк, першение" in page.locator("#compare").inner_text()  # the stored text
        assert page.locator("#complaints").input_value() == "Текст устаревшей вкладки"  # the typed one
        if js:
            assert page.evaluate("document.activeElement.id") == "error-summary"
        check.console_errors[:] = [e for e in check.console_errors if "409" not in e]
        assert_clean(check, js)
    finally:
        context.close()


def test_the_autosave_keeps_the_draft_when_a_field_is_left(browser, base_url, live_app, ids):
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang="ru", js=True)
    try:
        check = checked_page(context, js=True)
        page = check.page
        check.goto(path(ids["autosave"]))
        type_into(page, "#complaints", "Слабость с утра")
        page.keyboard.press("Tab")  # leaving the field saves the draft
        page.wait_for_function("() => document.getElementById('draft-status').textContent.includes('сохранён')")
        assert page.locator("#version").input_value() == "1"
        assert page.evaluate("document.activeElement.id") == "history"  # the focus stayed where it went
        check.goto(path(ids["autosave"]))  # as after a closed tab
        assert page.locator("#complaints").input_value() == "Слабость с утра"
        check.assert_clean()
    finally:
        context.close()


def _order(page, first: str, count: int) -> list[str]:
    """The ids (or button values) the focus visits from ``first`` on, by Tab."""
    tab_to(page, first)
    seen = []
    for _ in range(count):
        seen.append(page.evaluate("() => { const e = document.activeElement; return e.id || e.name + ':' + e.value; }"))
        page.keyboard.press("Tab")
    return seen


@pytest.mark.parametrize("js", JS)
def test_the_protocol_is_written_and_signed_by_keyboard(browser, base_url, live_app, ids, js):
    appointment = ids["walk_js" if js else "walk_nojs"]
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang="ru", js=js)
    try:
        check = checked_page(context, js=js)
        page = check.page
        check.goto("/doctor")
        tab_to(page, f"a[href='{path(appointment)}']")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        # the order the focus takes is the order the form is shown in
        order = _order(page, "#complaints", 12)
        expected = ["complaints", "history", "examination", "diagnoses-0-kind", "diagnoses-0-status",
                    "diagnoses-0-text", "search-0:1", "action:add", "conclusion", "recommendations",
                    "action:save", "action:sign"]  # fmt: skip
        assert order == expected
        check.goto(path(appointment))  # as when the page is opened again
        type_into(page, "#complaints", "Кашель неделю")
        type_into(page, "#history", "После переохлаждения")
        type_into(page, "#examination", "Жёсткое дыхание, хрипов нет")
        tab_to(page, "#diagnoses-0-status")
        page.keyboard.press("ArrowDown")  # «Предварительный»
        page.keyboard.press("ArrowDown")  # «Заключительный»
        assert page.locator("#diagnoses-0-status").input_value() == "final"
        tab_to(page, "#diagnoses-0-text")
        if js:
            page.keyboard.type("острый бронх", delay=30)
            page.wait_for_selector("#diagnoses-0-text-listbox:not([hidden]) [role=option]")
            page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")
            assert page.locator("input[name='diagnoses-0-code']").input_value().startswith("J20")
        else:
            page.keyboard.type("острый бронхит")
            tab_to(page, "button[name='search-0']")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            tab_to(page, "button[name='pick-0'][value='J20.9']")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert page.locator("input[name='diagnoses-0-code']").input_value() == "J20.9"
        # a second row, added by its button (htmx moves the focus into it; without JS the page does)
        tab_to(page, "button[value=add]")
        if js:
            page.keyboard.press("Enter")
            page.wait_for_selector("#diagnoses-1-kind")
        else:
            with page.expect_navigation():
                page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "diagnoses-1-kind"
        type_into(page, "#conclusion", "Острый бронхит")
        type_into(page, "#recommendations", "Контроль через неделю")
        press_button(page, "Подписать…")
        assert "Подписать протокол приёма?" in page.locator("h1").inner_text()
        assert_clean(check, js)
        press_button(page, "Подписать протокол")
        assert "Протокол подписан" in page.locator("main").inner_text()
        assert_clean(check, js)
    finally:
        context.close()
    with live_app.app_context():
        visit_id = db.session.get(Appointment, appointment).visit_id
        assert db.session.get(Visit, visit_id).complaints == "Кашель неделю"
        codes = list(db.session.scalars(sa.select(Diagnosis.code).where(Diagnosis.visit_id == visit_id)))
        assert len(codes) == 1 and codes[0].startswith("J20")
        db.session.remove()


def test_enter_in_a_field_saves_the_draft_without_javascript(browser, base_url, live_app, ids):
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang="ru", js=False)
    try:
        check = checked_page(context, js=False)
        page = check.page
        check.goto(path(ids["draft"]))
        tab_to(page, "#diagnoses-0-text")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "Черновик сохранён" in page.locator("main").inner_text()
        assert page.locator("#diagnoses-0-text").input_value().startswith("J06.9")
    finally:
        context.close()
