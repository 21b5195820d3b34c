"""«Справочник МКБ-10» and its combobox, as people use them: the pages axe, console and CSP clean in
both languages, every theme, JavaScript on and off (the combobox checked open, too); a code chosen
with the keyboard alone (type, arrows, Enter: the field filled, the count read out by the live
region, the next Enter opens the code); the same search without JavaScript through «Выбрать»;
a diagnosis on the card linking to its code; the first visit within the page-weight budget."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page, new_context
from e2e.test_accessibility import assert_clean, drop_expected_status_logs
from e2e.test_signed_in_pages import JS, email_of_key, signed_in
from e2e.test_weight import FIRST_VISIT_BUDGET, Recorder
from portal.auth.models import Account
from portal.database import db
from portal.record.models import Diagnosis

PAGES = [
    ("/mkb10", 200),
    ("/mkb10?q=острый+бронхит", 200),  # the matches, each with «Выбрать»
    ("/mkb10?q=г", 400),  # too short: the error summary
    ("/mkb10/X", 200),  # a chapter and its blocks
    ("/mkb10/J06.9", 200),  # a subcategory and the chain above it
]
COUNT = {"ru": "Найдено 17 кодов, показаны первые 10", "en": "17 codes found, the first 10 are shown"}
CHOSEN = {"ru": "Выбрано: J20 Острый бронхит", "en": "Chosen: J20 Острый бронхит"}


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("path", "status"), PAGES, ids=[p for p, _ in PAGES])
def test_page_is_accessible(make_check, path, status, lang, theme, js):
    check = make_check(lang=lang, theme=theme, js=js)
    response = check.goto(path)
    assert response.status == status, f"{path}: {response.status}"
    if status != 200:
        assert check.page.locator("#error-summary").count() == 1
        drop_expected_status_logs(check, status)
    assert check.page.locator("html").get_attribute("lang") == lang
    assert check.page.locator("h1").count() == 1
    assert_clean(check, js)


def type_and_wait(page, text: str) -> None:
    """Type into the field as a person does, and wait until the options are shown."""
    page.locator("#q").press_sequentially(text, delay=30)
    page.wait_for_selector("#q-listbox:not([hidden]) [role=option]")


def options_of(make_check, text: str, **options):
    """The reference's page with ``text`` typed into its field and the options shown."""
    check = make_check(js=True, **{"lang": "ru", **options})
    check.goto("/mkb10")
    check.page.locator("#q").focus()
    type_and_wait(check.page, text)
    return check


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_open_combobox_is_accessible(make_check, lang, theme):
    check = options_of(make_check, "острый бронх", lang=lang, theme=theme)
    check.page.keyboard.press("ArrowDown")
    assert check.page.locator("#q").get_attribute("aria-expanded") == "true"
    assert_clean(check, True)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_code_is_chosen_with_the_keyboard_alone(make_check, lang):
    check = make_check(lang=lang, js=True)
    page = check.page
    check.goto("/mkb10")
    field = page.locator("#q")
    # The roles and states the script gives the field (WAI-ARIA 1.2 combobox with a listbox popup).
    assert field.get_attribute("role") == "combobox" and field.get_attribute("aria-autocomplete") == "list"
    assert field.get_attribute("aria-controls") == "q-listbox" and field.get_attribute("aria-expanded") == "false"
    while page.evaluate("document.activeElement.id") != "q":  # the keyboard's way to the field
        page.keyboard.press("Tab")
    page.keyboard.type("острый бронх", delay=30)
    page.wait_for_selector("#q-listbox:not([hidden]) [role=option]")
    page.wait_for_function(
        "(text) => document.getElementById('live-region').textContent.includes(text)", arg=COUNT[lang]
    )
    assert field.get_attribute("aria-expanded") == "true"
    assert page.locator("#q-listbox [role=option]").count() == 10

    page.keyboard.press("ArrowDown")
    assert field.get_attribute("aria-activedescendant") == "q-option-1"
    assert page.locator("#q-option-1").get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    assert field.get_attribute("aria-activedescendant") == "q-option-1"
    assert page.locator("#q-option-2").get_attribute("aria-selected") == "false"
    assert page.evaluate("document.activeElement.id") == "q"  # the focus never left the field

    page.keyboard.press("Enter")
    assert field.input_value() == "J20 Острый бронхит"
    assert page.locator("input[name=code]").input_value() == "J20"
    assert field.get_attribute("aria-expanded") == "false" and field.get_attribute("aria-activedescendant") is None
    assert page.url.endswith("/mkb10")  # choosing did not send the form
    page.wait_for_function(
        "(text) => document.getElementById('live-region').textContent.includes(text)", arg=CHOSEN[lang]
    )

    with page.expect_navigation():
        page.keyboard.press("Enter")  # the next Enter sends the form: the chosen code's page
    assert page.url.endswith("/mkb10/J20")
    assert "J20" in page.locator("h1").inner_text()
    check.assert_clean(axe=False)


def test_escape_closes_the_list_then_clears_the_field(make_check):
    check = options_of(make_check, "J06")
    page = check.page
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    assert page.locator("#q").get_attribute("aria-expanded") == "false"
    assert page.locator("#q-listbox").is_hidden() and page.locator("#q").input_value() == "J06"
    page.keyboard.press("Escape")
    assert page.locator("#q").input_value() == ""
    check.assert_clean(axe=False)


def test_a_click_on_an_option_chooses_it(make_check):
    check = options_of(make_check, "Ш10")  # I10 typed on the Russian keyboard
    page = check.page
    page.locator("#q-listbox [role=option]", has_text="Эссенциальная").first.click()
    assert page.locator("#q").input_value().startswith("I10 ")
    assert page.locator("input[name=code]").input_value() == "I10"
    check.assert_clean(axe=False)


def test_without_javascript_the_search_lists_matches_to_choose_from(make_check):
    check = make_check(lang="ru", js=False)
    page = check.page
    check.goto("/mkb10")
    page.locator("#q").fill("бронхит острый")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "q=" in page.url and page.locator("#q").input_value() == "бронхит острый"
    assert "Найдено 12 кодов" in page.locator(".combobox-summary").inner_text()
    choose = page.locator("button[name=pick][value=J20]")
    assert re.sub(r"\s+", " ", choose.inner_text()).strip() in ("Выбрать J20", "Выбрать")
    choose.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/mkb10/J20")
    check.assert_clean(axe=False)


@pytest.fixture(scope="module")
def diagnosis(live_app) -> tuple[int, int, str]:
    """The demo patient's first diagnosis: (card, entry, code)."""
    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        row = db.session.scalar(
            sa.select(Diagnosis).where(Diagnosis.patient_id == patient).order_by(Diagnosis.id).limit(1)
        )
        found = (patient, row.id, row.code)
        db.session.remove()
    return found


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_diagnosis_on_the_card_links_to_its_code(browser, base_url, live_app, diagnosis, lang, js):
    card, entry, code = diagnosis
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang, js=js)
    try:
        check = checked_page(context, js=js)
        assert check.goto(f"/card/{card}/diagnoses/{entry}").status == 200
        link = check.page.locator(f'a[href="/mkb10/{code}"]')
        assert link.count() == 1
        link.click()
        check.page.wait_for_load_state("load")
        assert check.page.url.endswith(f"/mkb10/{code}") and code in check.page.locator("h1").inner_text()
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/mkb10", "/mkb10/J06"])
def test_the_first_visit_is_within_the_budget(browser, base_url, path):
    context = new_context(browser, base_url, lang="ru", fresh=True)
    try:
        page = context.new_page()
        recorder = Recorder()
        recorder.attach(page)
        assert page.goto(path).status == 200
        recorder.settle(page)
        total = sum(t.body_bytes for t in recorder.transfers.values())
        assert total <= FIRST_VISIT_BUDGET, f"first visit of {path}: {total} B\n{recorder.describe()}"
    finally:
        context.close()
