"""«Мои документы» and adding a vaccination in the browser: the list (filtered, and its two empty
states), the upload form and its error state, a document's page, the delete confirmation and the
vaccination form with its error state. Axe, console and CSP clean in both languages, all themes,
JavaScript on and off. Plus one upload made with the keyboard alone."""

from __future__ import annotations

import io
from datetime import timedelta

import pikepdf
import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import ERROR_PREFIX, assert_clean, drop_expected_status_logs
from e2e.test_signed_in_pages import email_of_key, page_is_clean, signed_in
from portal import clock
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.documents import service
from portal.record.models import Document
from portal.uploads import CheckedFile

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]
MAX_TABS = 80

PAGES = [
    "/card/{patient}/documents?kind=protocol",
    "/card/{patient}/documents?q=несуществующий",
    "/card/{own}/documents",
    "/card/{patient}/documents/upload",
    "/card/{patient}/documents/{clinic_document}",
    "/card/{patient}/documents/{upload}",
    "/card/{patient}/documents/{upload}/delete",
    "/card/{patient}/vaccinations/add",
]
FORMS = [
    ("/card/{patient}/documents/upload", "/documents/upload"),
    ("/card/{patient}/vaccinations/add", "/vaccinations/add"),
]


def a_pdf() -> bytes:
    document = pikepdf.new()
    document.add_blank_page()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def ids(live_app):
    """Smirnova's card with a clinic's document (from the demo) and one upload of her own; and the
    trusted person's own card, which holds no documents."""
    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("patient")))
        trusted = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("trusted")))
        with write_transaction():
            data = a_pdf()
            upload = service.store_document(
                patient,
                patient.patient_id,
                "Выписка из санатория",
                clock.today() - timedelta(days=20),
                "discharge",
                CheckedFile("выписка.pdf", "application/pdf", data),
            )
            clinic = db.session.scalar(
                sa.select(Document.id)
                .where(Document.patient_id == patient.patient_id, Document.uploaded_by_id.is_(None))
                .order_by(Document.id)
                .limit(1)
            )
            found = {"patient": patient.patient_id, "own": trusted.patient_id, "upload": upload.id}
        found["clinic_document"] = clinic
        db.session.remove()
    assert found["clinic_document"], "the demo seeds clinic documents"
    return found


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", PAGES)
def test_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    who = "trusted" if "{own}" in path else "patient"
    context = signed_in(browser, base_url, live_app, who, "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(**ids), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path,action", FORMS, ids=[f[1] for f in FORMS])
def test_form_error_state_is_accessible(browser, base_url, live_app, ids, path, action, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        page = check.page
        check.goto(path.format(**ids))
        with page.expect_navigation() as sent:
            page.locator(f"form[action$='{action}'] button").click()
        assert sent.value.status == 400
        assert page.locator("#error-summary").count() == 1
        assert page.title().startswith(ERROR_PREFIX[lang])
        assert page.locator("h1").count() == 1
        drop_expected_status_logs(check, 400)
        assert_clean(check, js)
    finally:
        context.close()


def tab_to(page, selector: str) -> None:
    """Press Tab until ``selector`` has the focus, as a keyboard user moves through the page."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_a_document_is_uploaded_with_the_keyboard_alone(browser, base_url, live_app, ids, tmp_path):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="en")
    try:
        check = checked_page(context)
        page = check.page
        check.goto(f"/card/{ids['patient']}/documents")
        tab_to(page, "a[href$='/documents/upload']")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        tab_to(page, "#title")
        page.keyboard.type("Заключение ЛОР-врача")
        page.keyboard.press("Tab")
        page.keyboard.type((clock.today() - timedelta(days=2)).strftime("%d.%m.%Y"))
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "kind"
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        assert page.locator("#kind").input_value() == "conclusion"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "file"
        # The operating system's file dialog is outside the page: the file is handed to the focused
        # input as the dialog would.
        scan = tmp_path / "лор.pdf"
        scan.write_bytes(a_pdf())
        page.locator("#file").set_input_files(str(scan))
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "BUTTON"
        with page.expect_navigation() as sent:
            page.keyboard.press("Enter")
        assert sent.value.status == 200 and page.url.endswith("/documents?uploaded=1")
        assert page.locator(".notice").first.inner_text().startswith("The document is uploaded")
        assert page.locator("#results a", has_text="Заключение ЛОР-врача").count() == 1
        check.assert_clean()
    finally:
        context.close()


def test_filtering_with_javascript_swaps_the_results_and_announces_them(browser, base_url, live_app, ids):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="en")
    try:
        check = checked_page(context)
        page = check.page
        check.goto(f"/card/{ids['patient']}/documents")
        with page.expect_response(lambda r: "q=" in r.url and r.request.headers.get("hx-request") == "true"):
            page.locator("#q").fill("санатор")
        page.wait_for_function("() => document.getElementById('live-region').textContent.includes('1 document')")
        assert page.locator("#results a", has_text="Выписка из санатория").count() == 1
        assert "q=" in page.url  # the filtered list has its own address
        check.assert_clean()
    finally:
        context.close()


# Chromium's PDF viewer, which runs as a built-in extension in a frame of its own.
PDF_VIEWER = "chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/"


def test_open_in_the_browser_shows_the_pdf_despite_the_sandbox_policy(browser, base_url, live_app, ids):
    """The file is served with ``Content-Security-Policy: sandbox`` (SECURITY.md check 58). Older
    Chrome refused to show a sandboxed PDF (crbug 413851); this one must open it in its viewer, so
    «Открыть в браузере» is not a blank page for most of our users."""
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="ru")
    try:
        page = context.new_page()
        page.goto(f"/card/{ids['patient']}/documents/{ids['upload']}")
        with page.expect_navigation() as opened:
            page.get_by_role("link", name="Открыть в браузере").click()
        response = opened.value
        headers = response.all_headers()  # .headers leaves out the security headers
        assert response.status == 200 and headers["content-type"] == "application/pdf"
        assert headers["content-security-policy"].startswith("sandbox")
        assert headers["content-disposition"].startswith("inline;")
        for _ in range(50):  # the viewer's frame attaches a moment after the response
            urls = [frame.url for frame in page.frames]
            if any(url.startswith(PDF_VIEWER) for url in urls):
                break
            page.wait_for_timeout(100)
        assert any(url.startswith(PDF_VIEWER) for url in urls), urls
        assert not any(url.startswith("chrome-error:") for url in urls), urls

        page.go_back()
        with page.expect_download() as saved:
            page.get_by_role("link", name="Скачать").click()
        assert saved.value.suggested_filename == "выписка.pdf"
    finally:
        context.close()
