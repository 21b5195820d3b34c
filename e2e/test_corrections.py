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
