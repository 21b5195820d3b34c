"""The directory's pages and the change of one's clinic (and a guardian's of a child's), as the
people who use them: axe, console
and CSP clean in both languages, all themes, JavaScript on and off. The error state is reached by
sending the form in the browser; the doctor search narrows in place with htmx and works without it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean, drop_expected_status_logs
from e2e.test_signed_in_pages import JS, email_of_key, signed_in
from portal.access.service import children_of
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import AttachmentApplication


def send_empty(page) -> int:
    """Send the form as it is; the status of the answer to the POST."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("form[novalidate] button.button-primary").click()
    page.wait_for_load_state("load")
    return answer.value.status


@pytest.fixture(scope="module")
def ids(live_app):
    """Clinic A's id, and an application of Павлова's to clinic A (whose registrar is the demo's)."""
    with live_app.app_context():
        a = demo_organisations()["A"].id
        with write_transaction():
            trusted = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("trusted")))
            row = AttachmentApplication(
                patient_id=trusted.patient_id,
                applicant_id=trusted.id,
                to_organisation_id=a,
                reason="Ближе к дому",
                moved=True,
                status="pending",
            )
            db.session.add(row)
            db.session.flush()
            application = row.id
        guardian = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("guardian")))
        child = children_of(guardian)[0].id
        db.session.remove()
    return {"a": a, "application": application, "child": child}


# (who, path, action, landing): who None is a visitor who has not signed in.
PAGES = [
    (None, "/clinics?specialty=62", None, None),
    (None, "/clinics/{a}", None, None),
    (None, "/doctors", None, None),
    (None, "/doctors?specialty=62&q=бел", None, None),
    ("patient", "/clinics", None, None),
    ("patient", "/attachment", None, None),
    ("patient", "/attachment", send_empty, "/attachment"),
    ("guardian", "/attachment", None, None),
    ("guardian", "/card/{child}/attachment", None, None),
    ("guardian", "/card/{child}/attachment", send_empty, "/card/{child}/attachment"),
    ("registrar", "/clinic/attachments", None, None),
    ("registrar", "/clinic/attachments/{application}", None, None),
]
IDS = [
    "clinics-specialty",
    "organisation",
    "doctors",
    "doctors-found",
    "clinics-own-first",
    "attachment",
    "attachment-error",
    "attachment-guardian",
    "attachment-child",
    "attachment-child-error",
    "attachments",
    "attachment-decision",
]


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("who,path,action,landing", PAGES, ids=IDS)
def test_page_is_accessible(browser, base_url, live_app, make_check, ids, who, path, action, landing, lang, theme, js):
    if who is None:
        check, context = make_check(lang=lang, theme=theme, js=js), None
    else:
        context = signed_in(browser, base_url, live_app, who, "complete", lang=lang, theme=theme, js=js)
        check = checked_page(context, js=js)
    try:
        response = check.goto(path.format(**ids))
        assert response.status == 200, f"{path}: {response.status}"
        if action is not None:
            status = action(check.page)
            assert check.page.url.split("?")[0].endswith(landing.format(**ids)), check.page.url
            assert status == 400 and check.page.locator("#error-summary").count() == 1
            drop_expected_status_logs(check, 400)
        assert check.page.locator("html").get_attribute("lang") == lang
        assert check.page.locator("h1").count() == 1
        assert_clean(check, js)
    finally:
        if context is not None:
            context.close()


ACCESSIBILITY_WORDS = {"ru": ("Вход без ступеней", "Да"), "en": ("Step-free entrance", "Yes")}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_accessibility_is_said_in_words(make_check, ids, lang):
    check = make_check(lang=lang)
    check.goto(f"/clinics/{ids['a']}")
    label, value = ACCESSIBILITY_WORDS[lang]
    term = check.page.locator("dt", has_text=label)
    assert term.count() == 1
    assert term.locator("xpath=following-sibling::dd[1]").inner_text().strip() == value


@pytest.mark.parametrize("js", JS)
def test_the_doctor_search_narrows_with_and_without_javascript(make_check, js):
    check = make_check(lang="ru", js=js)
    page = check.page
    check.goto("/doctors")
    if js:  # htmx replaces the results in place and keeps the address in step
        with page.expect_response(lambda r: "/doctors?" in r.url):
            page.locator("#specialty").select_option("62")
        page.wait_for_function("() => location.search.includes('specialty=62')")
    else:
        page.locator("#specialty").select_option("62")
        page.locator("form.filters button").click()
        page.wait_for_load_state("load")
    results = page.locator("#results").inner_text()
    assert "Белова Марина Сергеевна" in results and "Григорьев Антон Ильич" in results
    assert "педиатр" not in results
    assert_clean(check, js)
