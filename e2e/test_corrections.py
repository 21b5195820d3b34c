"""«Сообщить об ошибке» in the browser: the report form and its error state, the card's reports and
one report with its timeline, the registrar's queue and decision page. axe-, console- and
CSP-clean in Russian and English, every theme, JavaScript on and off."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean, drop_expected_status_logs
from e2e.test_signed_in_pages import email_of_key, page_is_clean, signed_in
from portal.auth.models import Account
from portal.corrections.models import CorrectionRequest
from portal.database import db

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]

# (who, path): the demo's vaccination of Smirnova and her error report about it.
PAGES = [
    ("patient", "/card/{patient}/vaccinations/{entry}/report-error"),
    ("patient", "/card/{patient}/corrections"),
    ("patient", "/card/{patient}/corrections/{request}"),
    ("registrar", "/clinic/corrections"),
    ("registrar", "/clinic/corrections/{request}"),
]


@pytest.fixture(scope="module")
def ids(live_app):
    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        report = db.session.scalar(
            sa.select(CorrectionRequest).where(CorrectionRequest.patient_id == patient).order_by(CorrectionRequest.id)
        )
        db.session.remove()
    return {"patient": patient, "entry": report.entry_id, "request": report.id}


def open_page(browser, base_url, live_app, who, lang, theme, js):
    context = signed_in(browser, base_url, live_app, who, "complete", lang=lang, theme=theme, js=js)
    return context, checked_page(context, js=js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("who,path", PAGES, ids=[p[1] for p in PAGES])
def test_page_is_accessible(browser, base_url, live_app, ids, who, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, who, "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(**ids), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_report_form_error_state(browser, base_url, live_app, ids, lang, theme, js):
    context, check = open_page(browser, base_url, live_app, "patient", lang, theme, js)
    try:
        check.goto("/card/{patient}/vaccinations/{entry}/report-error".format(**ids))
        check.page.fill("#description", "коротко")
        with check.page.expect_navigation() as answer:
            check.page.click("form[action$='report-error'] button")
        assert answer.value.status == 400
        page = check.page
        page.wait_for_load_state("load")
        assert page.locator("#error-summary").is_visible()
        assert page.locator("#description").input_value() == "коротко"  # what was typed is kept
        assert page.locator("#description").get_attribute("aria-invalid") == "true"
        assert page.title().startswith("Ошибка:" if lang == "ru" else "Error:")
        # The error summary takes focus so a screen reader reads it first.
        page.wait_for_function("() => document.activeElement && document.activeElement.id === 'error-summary'")
        drop_expected_status_logs(check, 400)
        assert_clean(check, js)
    finally:
        context.close()


JOURNEYS = [pytest.param("ru", True, id="ru-js"), pytest.param("en", False, id="en-nojs")]
WORDS = {
    "ru": {
        "report": "Сообщить об ошибке",
        "send": "Отправить сообщение",
        "review": "Взять на рассмотрение",
        "correct": "Исправить запись",
        "history": "История изменений",
        "decided": "Решение по обращению принято: запись и приложенные файлы больше не показываются.",
    },
    "en": {
        "report": "Report an error",
        "send": "Send the report",
        "review": "Take into review",
        "correct": "Correct the entry",
        "history": "Change history",
        "decided": "The report is decided: its entry and attached files are no longer shown.",
    },
}


def _vaccination(live_app, patient_id: int) -> tuple[int, str]:
    """One of Smirnova's vaccinations with a batch number that no report names yet."""
    from portal.record.models import Immunization

    with live_app.app_context():
        taken = db.session.scalars(sa.select(CorrectionRequest.entry_id)).all()
        rows = db.session.execute(
            sa.select(Immunization.id, Immunization.series)
            .where(
                Immunization.patient_id == patient_id, Immunization.series.is_not(None), Immunization.id.not_in(taken)
            )
            .order_by(Immunization.id)
        ).all()
        db.session.remove()
    assert rows, "the demo gives Smirnova vaccinations with batch numbers"
    return tuple(rows[0])


@pytest.mark.parametrize("lang,js", JOURNEYS)
def test_a_report_with_a_scan_is_corrected_and_the_entry_shows_its_history(
    browser, base_url, live_app, ids, tmp_path, lang, js
):
    """The whole «Сообщить об ошибке» flow as its people live it: the citizen reports from the
    entry with a scan attached; the registrar takes it into review and corrects the batch number;
    the citizen finds the old value struck through in the entry's history. Every page clean."""
    from PIL import Image

    words = WORDS[lang]
    entry, series = _vaccination(live_app, ids["patient"])
    scan = tmp_path / "сертификат.png"
    Image.new("RGB", (40, 30), (10, 120, 200)).save(scan)

    context, check = open_page(browser, base_url, live_app, "patient", lang, "default", js)
    try:
        page = check.page
        check.goto(f"/card/{ids['patient']}/vaccinations/{entry}")
        with page.expect_navigation():
            page.get_by_role("link", name=words["report"]).click()
        page.fill("#description", f"Номер серии указан неверно: на сертификате {series}-X.")
        page.set_input_files("#files", str(scan))
        with page.expect_navigation() as sent:
            page.get_by_role("button", name=words["send"]).click()
        assert sent.value.status == 200 and "/corrections/" in page.url
        number = page.locator("h1").inner_text().split()[-1]
        assert "сертификат.png" in page.content()
        assert_clean(check, js)
    finally:
        context.close()

    context, check = open_page(browser, base_url, live_app, "registrar", lang, "default", js)
    try:
        page = check.page
        check.goto("/clinic/corrections")
        with page.expect_navigation():
            page.get_by_role("link", name=number).click()
        with page.expect_navigation():
            page.get_by_role("button", name=words["review"]).click()
        page.select_option("#field", "series")
        page.fill("#value", f"{series}-X")
        page.fill("#note", "Сверено с сертификатом")
        with page.expect_navigation() as decided:
            page.get_by_role("button", name=words["correct"]).click()
        assert decided.value.status == 200
        assert_clean(check, js)
        # The decided report keeps its page, but no longer opens the entry or the scan.
        with live_app.app_context():
            request_id = db.session.scalar(sa.select(CorrectionRequest.id).where(CorrectionRequest.number == number))
            db.session.remove()
        check.goto(f"/clinic/corrections/{request_id}")
        assert page.get_by_text(words["decided"]).count() == 1
        # No link to the scan, and no list of the entry's current values beside the request's own.
        assert page.locator("a[href*='/files/']").count() == 0 and page.locator("dl.summary-list").count() == 1
        assert page.get_by_role("button", name=words["correct"]).count() == 0
        assert_clean(check, js)
    finally:
        context.close()

    context, check = open_page(browser, base_url, live_app, "patient", lang, "default", js)
    try:
        page = check.page
        check.goto(f"/card/{ids['patient']}/vaccinations/{entry}")
        history = page.locator("section.entry-history")
        assert history.get_by_role("heading", name=words["history"]).count() == 1
        assert history.locator("del").inner_text() == series
        assert f"{series}-X" in history.inner_text() and "Сверено с сертификатом" in history.inner_text()
        assert_clean(check, js)
    finally:
        context.close()
