"""The org admin's new working rule and organisation choice in the browser (issue 11, point 6): the
overview with the switcher of an admin of two clinics, the new-rule page (a doctor chosen ahead
or not) and its error state — axe-, console- and CSP-clean in Russian and English, every theme,
JavaScript on and off — and a keyboard-only walk from a doctor with no rule to the saved rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean
from e2e.test_identity_journey import press_button, tab_to_link, type_into
from e2e.test_signed_in_pages import email_of_key, signed_in
from portal import clock
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Practitioner

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]
THERAPIST = "72"

PAGES = [
    "/clinic/schedules",
    "/clinic/schedules?organisation={org_b}",
    "/clinic/schedules/rules/new",
    "/clinic/schedules/rules/new?practitioner={newcomer}",
]


def _newcomer(organisation: int, surname: str) -> int:
    doctor = Practitioner(
        surname=surname, name="Ирина", patronymic="Петровна", specialty="терапевт", specialty_code=THERAPIST,
        registration_number=f"E2E-{surname}", organisation_id=organisation,
    )  # fmt: skip
    db.session.add(doctor)
    db.session.flush()
    return doctor.id


@pytest.fixture(scope="module")
def world(live_app):
    """Therapists just listed in clinic A (no rule yet); the demo admin also admins clinic B."""
    from portal.clinic.service import assign_role

    with live_app.test_request_context():
        orgs = demo_organisations()
        admin = db.session.scalar(sa.select(Account.id).where(Account.email == email_of_key("org_admin")))
        assign_role(None, admin, orgs["B"].id, "org_admin")
        with write_transaction():
            found = {
                "org_a": orgs["A"].id,
                "org_b": orgs["B"].id,
                "newcomer": _newcomer(orgs["A"].id, "Новикова"),
                "walker_js": _newcomer(orgs["A"].id, "Орехова"),
                "walker_nojs": _newcomer(orgs["A"].id, "Павлова"),
            }
        db.session.remove()
    return found


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", PAGES)
def test_schedule_pages_are_accessible(browser, base_url, live_app, world, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "org_admin", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        assert check.goto(path.format(**world)).status == 200
        page = check.page
        assert page.locator("html").get_attribute("lang") == lang and page.locator("h1").count() == 1
        if "rules/new" not in path:  # the switcher of an admin of two clinics
            assert page.locator("main nav a[aria-current='page']").count() == 1
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_bad_new_rule_comes_back_with_the_error_summary(browser, base_url, live_app, world, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "org_admin", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        check.goto(f"/clinic/schedules/rules/new?practitioner={world['newcomer']}")
        page = check.page
        page.fill("#start_time", "14:00")
        page.fill("#end_time", "08:00")
        page.fill("#slot_minutes", "3")
        page.fill("#valid_from", (clock.today() - timedelta(days=1)).strftime("%d.%m.%Y"))
        with page.expect_navigation():
            page.locator("form[action*='/rules/new'] button").click()
        summary = page.locator("#error-summary")
        assert summary.count() == 1 and summary.locator("li").count() == 4  # weekdays, end, minutes, first day
        if js:
            assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.locator("#end_time").input_value() == "08:00"
        assert page.locator("#practitioner").input_value() == str(world["newcomer"])
        check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
def test_add_a_rule_by_keyboard(browser, base_url, live_app, world, js):
    """From a doctor with no rule on the overview to the saved rule, by keyboard only."""
    context = signed_in(browser, base_url, live_app, "org_admin", "complete", lang="ru", js=js)
    try:
        check = checked_page(context, js=js)
        page = check.page
        check.goto(f"/clinic/schedules?organisation={world['org_a']}")
        surname = "Орехова" if js else "Павлова"
        tab_to_link(page, f"добавить: {surname} Ирина Петровна")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("#practitioner").input_value() == str(world["walker_js" if js else "walker_nojs"])
        assert_clean(check, js)
        type_into(page, "#weekdays", "135")
        type_into(page, "#start_time", "09:00")
        type_into(page, "#end_time", "13:00")
        type_into(page, "#slot_minutes", "20")
        type_into(page, "#room", "12")
        press_button(page, "Сохранить правило")
        words = page.locator("main").inner_text()
        assert "Правило сохранено" in words and "для записи открыт" in words
        assert f"добавить: {surname}" not in words  # she has a rule now
        assert_clean(check, js)
    finally:
        context.close()
