"""The export page in the browser: axe, console and CSP clean in both languages, all themes,
JavaScript on and off, as the patient and as a trusted person; both downloads reachable by Tab and
really downloaded. The PDF is made by a background job (the live server runs a real consumer):
the «готовится» page, then the file: by itself with JavaScript, by the refresh link without."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from e2e.conftest import EVERY_THEME, LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean, drop_expected_status_logs
from e2e.test_keyboard import tab_problems, tab_through
from e2e.test_signed_in_pages import JS, ids, signed_in  # noqa: F401  (ids is a fixture)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_export_page_is_accessible(browser, base_url, live_app, ids, lang, theme, js):  # noqa: F811
    export_page_is_clean(browser, base_url, live_app, ids, "patient", lang, theme, js)


@pytest.mark.parametrize("js", JS)
def test_a_trusted_persons_export_page_is_accessible(browser, base_url, live_app, ids, js):  # noqa: F811
    export_page_is_clean(browser, base_url, live_app, ids, "trusted", "ru", "default", js)


def export_page_is_clean(browser, base_url, live_app, card_ids, who, lang, theme, js):
    context = signed_in(browser, base_url, live_app, who, "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        response = check.goto(f"/card/{card_ids['patient']}/export")
        assert response.status == 200
        page = check.page
        assert page.locator("html").get_attribute("lang") == lang
        assert page.locator("h1").count() == 1
        assert page.locator("main a[href$='/export/summary.pdf']").count() == 1
        assert page.locator("main a[href$='/export/ips.json']").count() == 1
        assert_clean(check, js)
    finally:
        context.close()


PREPARING = {"ru": "Файл готовится", "en": "Preparing the file"}
READY = {"ru": "Файл готов:", "en": "The file is ready:"}


def touch_card(live_app, patient_id: int) -> None:
    """A correction of one entry: the card's version moves, so its PDF is made anew."""
    from portal.database import db, write_transaction
    from portal.record.models import Diagnosis

    with live_app.app_context():
        with write_transaction():
            diagnosis = db.session.scalar(sa.select(Diagnosis).where(Diagnosis.patient_id == patient_id).limit(1))
            diagnosis.updated_at = datetime.now(UTC)
        db.session.remove()


def status_says_keeping_focus(page, text: str, focused: str) -> None:
    """Focus ``focused``, wait until the polled status (#preparing-status) says ``text`` by
    itself, and check the swap left focus where it was."""
    page.evaluate("(selector) => { window.__kept = document.querySelector(selector); window.__kept.focus(); }", focused)
    page.wait_for_function(
        "(text) => document.getElementById('preparing-status').innerText.includes(text)", arg=text, timeout=30_000
    )
    assert page.evaluate("document.activeElement === window.__kept"), "the status took the focus"


def wait_for_the_file(page, js: bool, lang: str) -> None:
    """With JavaScript the status turns into the link by itself (focus stays where it was);
    without it, the person reloads (here: once the status address says it is ready)."""
    if js:
        status_says_keeping_focus(page, READY[lang], 'main a[href$="/export"]')
        return
    url = page.url.split("?")[0] + "/status"
    deadline = time.monotonic() + 30
    while page.request.get(url).status != 200:
        assert time.monotonic() < deadline, "the file was never made"
        time.sleep(0.3)


def test_both_downloads_are_reached_by_tab_and_download(browser, base_url, live_app, ids):  # noqa: F811
    touch_card(live_app, ids["patient"])
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="en", accept_downloads=True)
    try:
        check = checked_page(context)
        page = check.page
        assert check.goto(f"/card/{ids['patient']}/export").status == 200
        expected, visited = tab_through(page)
        assert not tab_problems(expected, visited), "\n\n".join(tab_problems(expected, visited))
        names = [v["name"] for v in visited]
        for suffix in ("/export/summary.pdf", "/export/ips.json"):
            assert any(suffix in name for name in names), f"Tab never reached the {suffix} link: {names}"
        # Enter on the focused link downloads the file, as a keyboard user would.
        page.locator("main a[href$='/export/ips.json']").focus()
        with page.expect_download() as download:
            page.keyboard.press("Enter")
        assert download.value.suggested_filename.endswith(".json")
        # The PDF: the «готовится» page first, then its link, by Tab and Enter.
        page.locator("main a[href$='/export/summary.pdf']").focus()
        with page.expect_navigation() as shown:
            page.keyboard.press("Enter")
        assert shown.value.status == 202 and page.locator("h1").inner_text() == PREPARING["en"]
        wait_for_the_file(page, True, "en")
        page.locator("#preparing-status a[href$='/export/summary.pdf']").focus()
        with page.expect_download() as download:
            page.keyboard.press("Enter")
        assert download.value.suggested_filename.endswith(".pdf")
        check.assert_clean(axe=False)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_preparing_page_then_the_file(browser, base_url, live_app, ids, lang, js):  # noqa: F811
    """The «готовится» page: one h1, a polite status, a refresh link and no meta refresh; axe,
    console and CSP clean in every theme while the file is made and once it is ready; then the
    file really downloads: the link the status shows (JavaScript), or the refresh link (none)."""
    touch_card(live_app, ids["patient"])
    context = signed_in(
        browser, base_url, live_app, "patient", "complete", lang=lang, theme=EVERY_THEME, js=js, accept_downloads=True
    )
    try:
        check = checked_page(context, js=js)
        page = check.page
        response = check.goto(f"/card/{ids['patient']}/export/summary.pdf")
        assert response.status == 202
        assert page.locator("html").get_attribute("lang") == lang
        assert page.locator("h1").count() == 1 and page.locator("h1").inner_text() == PREPARING[lang]
        status = page.locator("#preparing-status")
        assert status.get_attribute("role") == "status" and status.get_attribute("aria-live") == "polite"
        assert page.locator("meta[http-equiv]").count() == 0
        if READY[lang] not in status.inner_text():
            assert_clean(check, js)
        wait_for_the_file(page, js, lang)
        if js:
            assert READY[lang] in status.inner_text()
            assert_clean(check, js)  # the page once the status shows the link
            link = status.locator("a[href$='/export/summary.pdf']")
        else:
            link = status.locator("a[href$='/export/summary.pdf']")  # «Обновить страницу»
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename.endswith(".pdf")
        pdf = download.value.path().read_bytes()
        assert pdf.startswith(b"%PDF-")
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
def test_an_old_sign_in_confirms_the_password_then_downloads(browser, base_url, live_app, ids, js):  # noqa: F811
    """SECURITY.md check 20 in the browser: the password was entered 11 minutes ago, so the
    download link leads to «Подтвердите, что это вы». A wrong password gets the error summary; the
    right one brings the file. Keyboard only, JavaScript on and off, axe-clean in every theme."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from e2e.test_identity_journey import type_into
    from portal.auth.models import ServerSession
    from portal.database import db, write_transaction
    from portal.demodata.people import DEMO_PASSWORD

    touch_card(live_app, ids["patient"])
    context = signed_in(
        browser, base_url, live_app, "patient", "complete", lang="ru", theme=EVERY_THEME, js=js, accept_downloads=True
    )
    try:
        with live_app.app_context():
            with write_transaction():
                for row in db.session.scalars(sa.select(ServerSession).where(ServerSession.ended_at.is_(None))):
                    row.authenticated_at = datetime.now(UTC) - timedelta(minutes=11)
            db.session.remove()
        check = checked_page(context, js=js)
        page = check.page
        assert check.goto(f"/card/{ids['patient']}/export").status == 200
        page.locator("main a[href$='/export/summary.pdf']").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("h1").inner_text() == "Подтвердите, что это вы"
        assert_clean(check, js)
        type_into(page, "#current_password", "не-мой-пароль")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.title().startswith("Ошибка:")
        assert page.locator(".error-summary a[href='#current_password']").count() == 1
        drop_expected_status_logs(check, 400)
        assert_clean(check, js)
        type_into(page, "#current_password", DEMO_PASSWORD)
        with page.expect_navigation() as shown:
            page.keyboard.press("Enter")
        assert shown.value.status == 202 and page.locator("h1").inner_text() == PREPARING["ru"]
        wait_for_the_file(page, js, "ru")
        with page.expect_download() as download:
            page.locator("#preparing-status a[href$='/export/summary.pdf']").click()
        assert download.value.suggested_filename.endswith(".pdf")
    finally:
        context.close()
