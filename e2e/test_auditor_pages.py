"""The auditor's workspace in the browser: the events (a search, a bad search), the emergency
accesses (the queue, one waiting, one reviewed) and the check of the log — axe-, console- and
CSP-clean in Russian and English, every theme, JavaScript on and off. A bad search comes back with
the error summary focused and what was typed; the check's result after a run is clean too. By
keyboard alone: every control of the search is reached in order with a visible focus, a search is
typed and sent, and an emergency access is escalated with its note."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean
from e2e.test_keyboard import tab_problems, tab_through
from e2e.test_signed_in_pages import email_of_key, signed_in
from portal.access.models import EmergencyAccess
from portal.auth.models import Account, StaffMembership
from portal.database import db

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]

PAGES = [
    "/audit/{org}",
    "/audit/{org}?action=card.*&person=Соколов",
    "/audit/{org}/emergencies",
    "/audit/{org}/emergencies/{waiting}",
    "/audit/{org}/emergencies/{reviewed}",
    "/audit/{org}/check",
]


@pytest.fixture(scope="module")
def ids(live_app):
    with live_app.app_context():
        org = db.session.scalar(
            sa.select(StaffMembership.organisation_id)
            .join(Account, Account.id == StaffMembership.account_id)
            .where(Account.email == email_of_key("auditor"), StaffMembership.role == "auditor")
        )
        accesses = list(
            db.session.scalars(
                sa.select(EmergencyAccess.id).where(EmergencyAccess.organisation_id == org).order_by(EmergencyAccess.id)
            )
        )
        db.session.remove()
    assert org and len(accesses) == 2, accesses
    return {"org": org, "reviewed": accesses[0], "waiting": accesses[1]}


def _open(context, path: str, js: bool, status: int = 200):
    check = checked_page(context, js=js)
    response = check.goto(path)
    assert response.status == status, f"{path}: {response.status}"
    return check


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", PAGES)
def test_auditor_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "auditor", "complete", lang=lang, theme=theme, js=js)
    try:
        check = _open(context, path.format(**ids), js)
        assert check.page.locator("html").get_attribute("lang") == lang
        assert check.page.locator("h1").count() == 1
        assert check.page.locator("a[href^='/card/']").count() == 0  # the auditor is never led to a card
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_bad_search_comes_back_with_the_error_summary(browser, base_url, live_app, ids, lang, js):
    context = signed_in(browser, base_url, live_app, "auditor", "complete", lang=lang, js=js)
    try:
        check = _open(context, f"/audit/{ids['org']}", js)
        page = check.page
        page.fill("#snils", "112-233-445 96")
        page.fill("#since", "05.12.2026")
        page.fill("#until", "01.12.2026")
        with page.expect_navigation():
            page.locator("search form button").click()
        assert page.locator("#error-summary a").count() == 2
        if js:
            assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.locator("#snils").input_value() == "112-233-445 96"
        assert page.locator("#until").input_value() == "01.12.2026"
        check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_check_runs_and_its_result_is_clean(browser, base_url, live_app, ids, lang, js):
    context = signed_in(browser, base_url, live_app, "auditor", "complete", lang=lang, theme="every", js=js)
    try:
        check = _open(context, f"/audit/{ids['org']}/check", js)
        page = check.page
        with page.expect_navigation():
            page.locator(f"form[action$='/audit/{ids['org']}/check'] button").click()
        # The run is a background job (the file's portal runs a real consumer): with JavaScript the
        # page's live region polls and says when it is done; without, the refresh link shows it.
        status = page.locator("#preparing-status")
        if js:
            status.get_by_role("link", name=re.compile("результат|result")).wait_for(timeout=45_000)
            status.get_by_role("link").click()
        else:
            for _ in range(30):
                if page.locator("#preparing-status").count() == 0:
                    break
                page.wait_for_timeout(500)
                page.goto(page.url)
            page.goto(page.url + "?done=1")
        page.wait_for_url(re.compile(r"done=1"))
        assert page.locator("main .notice").count() == 1 and page.locator("#preparing-status").count() == 0
        assert_clean(check, js)
    finally:
        context.close()


@pytest.fixture(scope="module")
def two_organisations(live_app, ids):
    """The demo auditor audits clinic B too (from here on in this module)."""
    from portal.clinic.service import assign_role
    from portal.demodata.synthetic import demo_organisations

    with live_app.app_context():
        other = demo_organisations()["B"]
        assign_role(None, _auditor_id(), other.id, "auditor")
        name = other.name
        db.session.remove()
    return name


def _auditor_id() -> int:
    return db.session.scalar(sa.select(Account.id).where(Account.email == email_of_key("auditor")))


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_auditor_of_two_organisations_chooses_one(
    browser, base_url, live_app, two_organisations, ids, lang, theme, js
):
    context = signed_in(browser, base_url, live_app, "auditor", "complete", lang=lang, theme=theme, js=js)
    try:
        check = _open(context, "/audit", js)
        links = check.page.locator("main ul a")
        assert links.count() == 2 and two_organisations in links.all_inner_texts()
        assert_clean(check, js)
    finally:
        context.close()


def test_the_search_by_keyboard_alone(browser, base_url, live_app, ids):
    context = signed_in(browser, base_url, live_app, "auditor", "complete", lang="ru", js=True)
    try:
        check = _open(context, f"/audit/{ids['org']}", True)
        page = check.page
        expected, visited = tab_through(page)
        problems = tab_problems(expected, visited)
        assert not problems, "\n\n".join(problems)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        _tab_to(page, "person")
        page.keyboard.type("Соколов")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "snils"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "action"
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "until"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "person=" in page.url
        rows = page.locator("main table tbody tr")
        assert rows.count() > 0
        assert all("Соколов" in rows.nth(i).inner_text() for i in range(rows.count()))
    finally:
        context.close()


def test_an_emergency_access_escalated_by_keyboard_alone(browser, base_url, live_app, ids):
    context = signed_in(browser, base_url, live_app, "auditor", "complete", lang="en", js=True)
    try:
        check = _open(context, f"/audit/{ids['org']}/emergencies/{ids['waiting']}", True)
        page = check.page
        _tab_to(page, "decision-0")
        page.keyboard.press("ArrowDown")  # the radio group's next choice: escalate
        assert page.evaluate("document.activeElement.value") == "escalated"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "note"
        page.keyboard.type("The patient's family says no ambulance brought him")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "BUTTON"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith("done=escalated")
        assert "The access is escalated" in page.locator("main").inner_text()
        assert_clean(check, True)
    finally:
        context.close()


def _tab_to(page, element_id: str) -> None:
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == element_id:
            return
    pytest.fail(f"Tab never reached #{element_id}")
