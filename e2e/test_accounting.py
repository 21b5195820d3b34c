"""The accountant's paid services in the browser: the report (a first visit, each grouping, one
payer, an empty period) axe-, console- and CSP-clean in Russian and English, every theme,
JavaScript on and off; a wrong period comes back with the error summary focused and what was typed,
still clean; and the whole job by keyboard alone: sign in with the password and the authenticator
code, reach the report from the menu, type a period, choose a grouping, read the table and
download both CSV files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from e2e.conftest import LANGUAGES, THEMES, checked_page, new_context
from e2e.test_accessibility import assert_clean
from e2e.test_identity_journey import tab_to, tab_to_link, totp_code, type_into
from e2e.test_keyboard import tab_problems, tab_through
from e2e.test_signed_in_pages import email_of_key, page_is_clean, signed_in
from portal.demodata.people import DEMO_PASSWORD

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]
YEAR = "since=01.01.2026&until=31.12.2026"
PAGES = [
    "/accounting",
    f"/accounting?{YEAR}&group=department&payer=all",
    f"/accounting?{YEAR}&group=category&payer=all",
    f"/accounting?{YEAR}&group=service&payer=vmi",
    "/accounting?since=01.01.2019&until=31.01.2019&group=department&payer=paid",
]


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", PAGES)
def test_the_report_is_accessible(browser, base_url, live_app, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "accountant", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path, lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_wrong_period_comes_back_with_the_error_summary(browser, base_url, live_app, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "accountant", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        check.goto("/accounting")
        page = check.page
        page.fill("#since", "31.12.2026")
        page.fill("#until", "01.01.2025")
        with page.expect_navigation():
            page.locator("main form[action^='/accounting'] button").click()
        assert page.locator("#error-summary").count() == 1
        assert page.locator("#until-error").count() == 1 and page.locator("table").count() == 0
        if js:
            assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.locator("#since").input_value() == "31.12.2026"
        assert page.locator("#until").input_value() == "01.01.2025"
        assert page.title().startswith("Ошибка:" if lang == "ru" else "Error:")
        check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("theme", ["default", "high-contrast"])
def test_every_control_of_the_report_is_reached_by_tab_with_visible_focus(browser, base_url, live_app, theme):
    context = signed_in(browser, base_url, live_app, "accountant", "complete", lang="ru", theme=theme)
    try:
        check = checked_page(context)
        assert check.goto(f"/accounting?{YEAR}&group=category").status == 200
        expected, visited = tab_through(check.page)
        problems = tab_problems(expected, visited)
        assert not problems, "\n\n".join(problems)
    finally:
        context.close()


def _download(page, link: str) -> list[list[str]]:
    """Tab to the link, press Enter, and read the CSV file the browser saves."""
    tab_to_link(page, link)
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    data = Path(info.value.path()).read_bytes()
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


@pytest.mark.parametrize("js", JS)
def test_the_accountants_job_by_keyboard_alone(browser, base_url, live_app, js):
    email = email_of_key("accountant")
    context = new_context(browser, base_url, lang="ru", js=js, accept_downloads=True)
    try:
        check = checked_page(context, js=js)
        page = check.page
        check.goto("/auth/sign-in")
        type_into(page, "#login", email)
        type_into(page, "#password", DEMO_PASSWORD)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith("/auth/second-factor")
        type_into(page, "#f-code", totp_code(live_app, email))
        with page.expect_navigation():
            page.keyboard.press("Enter")

        tab_to_link(page, "Платные услуги")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("h1").inner_text() == "Платные услуги"
        assert_clean(check, js)

        tab_to(page, "#since")
        page.keyboard.press("Control+A")
        page.keyboard.type("01.01.2026")
        page.keyboard.press("Tab")  # the last day: today, as the first visit filled it in
        page.keyboard.press("Control+A")
        page.keyboard.type("31.12.2026")
        tab_to(page, "#group-0")  # the groupings are radio buttons: the arrows choose
        page.keyboard.press("ArrowDown")
        assert page.locator("#group-1").is_checked()
        tab_to(page, "main form[action^='/accounting'] button")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "group=category" in page.url and "since=01.01.2026" in page.url
        caption = page.locator("table caption").inner_text()
        assert caption.startswith("По категориям пациентов")
        total = page.locator("table tfoot tr").inner_text()
        assert total.startswith("Итого") and "₽" in total
        assert_clean(check, js)

        report = _download(page, "Этот отчёт в файле CSV для Excel")
        assert report[0] == ["Категория пациента", "Количество услуг", "Количество пациентов", "Сумма, руб."]
        assert report[-1][0] == "Итого" and "," in report[-1][3]
        services = _download(page, "Все услуги за период в файле CSV, с именами пациентов")
        assert services[0][:4] == ["Дата", "Отделение", "Код услуги", "Услуга"] and len(services) > 2
        assert sum(int(row[4]) for row in services[1:]) == int(report[-1][1])  # every service, one line each
    finally:
        context.close()
