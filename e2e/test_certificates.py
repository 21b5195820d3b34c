"""Certificates and extracts in the browser: the citizen's list, order form (and its error
state), the code step and a request's page; the public check; the registrar's queue and request
page. Axe, console and CSP clean in both languages, all themes, JavaScript on and off."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page, new_context
from e2e.test_accessibility import ERROR_PREFIX, assert_clean, drop_expected_status_logs
from e2e.test_export import status_says_keeping_focus
from e2e.test_signed_in_pages import email_of_key, page_is_clean, signed_in
from portal import clock
from portal.auth.models import Account, StaffMembership
from portal.certificates.models import CertificateRequest
from portal.database import db, write_transaction
from portal.record.models import Document, RequestEvent

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]
VERIFY_CODE = "e2e-genuine-code"

# (who, path): who is a demo person's key or None (anonymous).
PAGES = [
    ("patient", "/card/{patient}/certificates"),
    ("patient", "/card/{patient}/certificates/new"),
    ("patient", "/card/{patient}/certificates/{ready}"),
    ("patient", "/card/{patient}/certificates/{open}"),
    (None, "/verify/" + VERIFY_CODE),
    ("registrar", "/clinic/certificates"),
    ("registrar", "/clinic/certificates/{open}"),
]


def ordered(patient: Account, form: str, purpose: str, status: str = "registered", **period) -> CertificateRequest:
    """A certificate request the citizen has ordered, numbered and registered, as the order
    flow leaves it (inside the caller's write transaction)."""
    moment = datetime.now(UTC)
    row = CertificateRequest(
        patient_id=patient.patient_id,
        requested_by_id=patient.id,
        form=form,
        purpose=purpose,
        status=status,
        created_at=moment,
        **period,
    )
    db.session.add(row)
    db.session.flush()
    row.number = f"С-{moment.year}-{row.id:06d}"
    db.session.add(RequestEvent(request_kind="certificate", request_id=row.id, status="registered", at=moment))
    return row


@pytest.fixture(scope="module")
def ids(live_app):
    """One open request in the registrar's queue and one issued certificate, for Smirnova."""
    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("patient")))
        registrar = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("registrar")))
        org = db.session.scalar(
            sa.select(StaffMembership.organisation_id).where(StaffMembership.account_id == registrar.id)
        )
        moment = datetime.now(UTC)
        with write_transaction():
            rows = {
                "open": ordered(
                    patient,
                    "027u",
                    "Для санатория",
                    period_from=clock.today() - timedelta(days=60),
                    period_to=clock.today() - timedelta(days=1),
                ),
                "ready": ordered(patient, "063u", "Для школы", status="ready"),
            }
            ready = rows["ready"]
            document = Document(
                patient_id=patient.patient_id,
                kind="certificate",
                title=f"Справка о прививках (форма 063/у) № {ready.number}",
                document_date=moment.date(),
                organisation_id=org,
                storage_key="e2e-not-stored",
                filename="certificate.pdf",
                content_type="application/pdf",
                size=1,
                keep_until=moment.date() + timedelta(days=365),
                search_text="",
            )
            db.session.add(document)
            db.session.flush()
            ready.document_id, ready.organisation_id, ready.issued_at = document.id, org, moment
            ready.verification_code = VERIFY_CODE
            db.session.add(RequestEvent(request_kind="certificate", request_id=ready.id, status="ready", at=moment))
            found = {"patient": patient.patient_id, "open": rows["open"].id, "ready": ready.id}
        db.session.remove()
    return found


def context_for(browser, base_url, live_app, who, **options):
    if who:
        return signed_in(browser, base_url, live_app, who, "complete", **options)
    return new_context(browser, base_url, **options)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("who,path", PAGES, ids=[p[1] for p in PAGES])
def test_page_is_accessible(browser, base_url, live_app, ids, who, path, lang, theme, js):
    context = context_for(browser, base_url, live_app, who, lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(**ids), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_order_form_errors_and_the_code_step(browser, base_url, live_app, ids, lang, theme, js):
    context = context_for(browser, base_url, live_app, "patient", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        page = check.page
        check.goto(f"/card/{ids['patient']}/certificates/new")
        submit = page.locator("form[action$='/certificates/new'] button")
        with page.expect_navigation() as sent:
            submit.click()
        assert sent.value.status == 400
        assert page.locator("#error-summary").count() == 1
        assert page.title().startswith(ERROR_PREFIX[lang])
        drop_expected_status_logs(check, 400)
        assert_clean(check, js)

        page.locator("#kind-1").check()  # the vaccination extract: no period
        page.locator("#purpose").fill("Для школы")
        with page.expect_navigation() as sent:
            submit.click()
        assert sent.value.status == 200 and page.url.endswith("/certificates/confirm")
        assert page.locator("#code").count() == 1
        assert_clean(check, js)
    finally:
        context.close()


def test_the_unknown_document_page_is_accessible(make_check):
    check = make_check(lang="ru")
    response = check.goto("/verify/no-such-code")
    assert response.status == 404
    assert check.page.locator("h1").count() == 1
    drop_expected_status_logs(check, 404)
    check.assert_clean()


ISSUED = {"ru": "Справка выдана", "en": "The certificate is issued"}


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_registrar_issues_and_the_access_log_names_the_request(browser, base_url, live_app, ids, lang, js):
    """The registrar issues a certificate in the browser: the request's page says the document is
    being made (a polite status; axe-clean in every theme), then that it is issued: by itself with
    JavaScript (focus stays where it was), by the refresh link without. The citizen's «Кто смотрел
    мою карту» then names the reading and the request it served, and stays clean."""
    from e2e.conftest import EVERY_THEME

    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("patient")))
        with write_transaction():
            row = ordered(patient, "086u", "Для бассейна")
            request_id, number = row.id, row.number
        db.session.remove()

    registrar = signed_in(browser, base_url, live_app, "registrar", "complete", lang=lang, theme=EVERY_THEME, js=js)
    try:
        check = checked_page(registrar, js=js)
        page = check.page
        check.goto(f"/clinic/certificates/{request_id}")
        name = {"ru": "Выдать справку", "en": "Issue the certificate"}[lang]
        with page.expect_navigation() as sent:
            page.get_by_role("button", name=name).click()
        assert sent.value.status == 200
        status = page.locator("#preparing-status")
        assert status.get_attribute("role") == "status" and status.get_attribute("aria-live") == "polite"
        if ISSUED[lang] not in status.inner_text():  # still being made: the page as it is then
            assert_clean(check, js)
        if js:
            status_says_keeping_focus(page, ISSUED[lang], "header a")
        else:
            deadline = time.monotonic() + 30
            while ISSUED[lang] not in page.locator("main").inner_text():
                assert time.monotonic() < deadline, "the document was never made"
                time.sleep(0.5)
                with page.expect_navigation():
                    status.locator("a").click()  # «Обновить страницу»
            assert_clean(check, js)  # the page once the document is issued
        check.assert_clean(axe=False)
    finally:
        registrar.close()

    citizen = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang)
    try:
        check = checked_page(citizen)
        check.goto(f"/card/{ids['patient']}/access-log")
        served = {"ru": f"по обращению {number}", "en": f"for the request {number}"}[lang]
        row = check.page.locator("tr", has_text=served)
        assert row.count() >= 1
        assert "Лебедева" in row.first.inner_text()
        assert_clean(check, True)
    finally:
        citizen.close()
