"""The card's pages in the browser: the dashboard, the switcher, every section's list (and its
filter error state), entry pages, the trend chart, insurance and sending a prescription to a
pharmacy. axe-, console- and CSP-clean in Russian and English, every theme, JavaScript on and
off; filtering with htmx moves the announcement to the live region and keeps focus."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean
from e2e.test_signed_in_pages import email_of_key, signed_in
from portal.auth.models import Account
from portal.database import db
from portal.directory.models import Organisation
from portal.record import models as m
from portal.record.listing import SPECS

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]

PAGES = [
    "/cards",
    "/card/{patient}",
    *[f"/card/{{patient}}/{section}" for section in SPECS],
    "/card/{patient}/visits?since=31.02.2026",
    "/card/{patient}/visits/{visit}",
    "/card/{patient}/results/{report}",
    "/card/{patient}/results/trend/{loinc}",
    "/card/{patient}/prescriptions/{prescription}",
    "/card/{patient}/prescriptions/{prescription}/pharmacy",
    "/card/{patient}/insurance",
    "/card/{child}",
]


@pytest.fixture(scope="module")
def ids(live_app):
    """Entries of the demo patient's card (the demo history gives her several years of them)."""
    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        guardian = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("guardian")))
        child = db.session.scalar(
            sa.select(m.Patient.id).where(m.Patient.surname == "Кузнецова", m.Patient.name == "Дарья")
        )

        def first(model, *where):
            return db.session.scalar(
                sa.select(model.id).where(model.patient_id == patient, *where).order_by(model.id.desc()).limit(1)
            )

        report = db.session.scalar(
            sa.select(m.LabReport.id)
            .where(m.LabReport.patient_id == patient, m.LabReport.flagged > 0)
            .order_by(m.LabReport.id.desc())
            .limit(1)
        )
        loinc = db.session.scalar(sa.select(m.Observation.loinc).where(m.Observation.report_id == report).limit(1))
        prescription = first(
            m.Prescription, m.Prescription.cancelled_at.is_(None), m.Prescription.valid_until >= sa.func.current_date()
        )
        has_pharmacy = db.session.scalar(sa.select(Organisation.id).where(Organisation.kind == "pharmacy").limit(1))
        found = {
            "patient": patient,
            "child": child,
            "visit": first(m.Visit),
            "report": report,
            "loinc": loinc,
            "prescription": prescription,
            "guardian": guardian.id,
            "pharmacy": has_pharmacy,
        }
        db.session.remove()
    assert all(v for k, v in found.items() if k != "guardian"), found
    return found


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", PAGES)
def test_card_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    who = "guardian" if "{child}" in path else "patient"
    context = signed_in(browser, base_url, live_app, who, "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        response = check.goto(path.format(**ids))
        expected = 400 if "31.02" in path else 200
        assert response.status == expected, f"{path}: {response.status}"
        if expected == 400:
            check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert check.page.locator("html").get_attribute("lang") == lang
        assert check.page.locator("h1").count() == 1
        assert check.page.locator(".card-banner").count() == (0 if path == "/cards" else 1)
        assert_clean(check, js)
    finally:
        context.close()


def test_filtering_with_htmx_announces_the_result_and_keeps_the_page(browser, base_url, live_app, ids):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="en")
    try:
        check = checked_page(context)
        page = check.page
        check.goto(f"/card/{ids['patient']}/visits")
        page.fill("#since", "01.01.1990")
        page.fill("#until", "02.01.1990")
        with page.expect_response(lambda r: "/visits?" in r.url) as answered:
            page.keyboard.press("Enter")
        assert answered.value.status == 200
        page.wait_for_function("() => document.getElementById('live-region').textContent.includes('No entries match')")
        assert page.url.endswith("since=01.01.1990&until=02.01.1990")  # the address can be shared
        assert page.locator("h1").count() == 1
        check.assert_clean()
    finally:
        context.close()


def test_the_next_page_of_entries_is_reachable_by_keyboard(browser, base_url, live_app, ids):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="en")
    try:
        check = checked_page(context)
        page = check.page
        check.goto(f"/card/{ids['patient']}/visits")  # the demo card has more than a page of visits
        assert page.get_by_role("link", name="Earlier entries").count() == 1
        first_rows = page.locator("#results tbody tr").all_inner_texts()
        for _ in range(200):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.textContent.trim()") == "Earlier entries":
                break
        with page.expect_response(lambda r: "after=" in r.url):
            page.keyboard.press("Enter")
        page.wait_for_function(
            "(n) => document.querySelector('#results tbody tr') && document.querySelector('#results tbody tr').innerText !== n",
            arg=first_rows[0],
        )
        assert page.locator("#results tbody tr").all_inner_texts() != first_rows
        focused = page.evaluate(
            "() => document.activeElement && (document.activeElement.id || document.activeElement.tagName)"
        )
        assert focused != "BODY"  # focus is not lost after the swap
        check.assert_clean()
    finally:
        context.close()
