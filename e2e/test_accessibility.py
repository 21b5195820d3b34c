"""Accessibility matrix: every page × language × theme × JavaScript on/off, then the states a user
reaches by interacting (a form with errors, a search), then a self-test proving the checks can fail.

``assert_clean`` (conftest) fails on any axe violation (WCAG 2.2 AA + best practice), console error
or CSP violation."""

from __future__ import annotations

import re

import pytest

from e2e.conftest import LANGUAGES, THEMES

PAGES = [
    ("/", 200),
    ("/auth/sign-in", 200),
    ("/accessibility", 200),
    ("/privacy", 200),
    ("/clinics", 200),
    ("/clinics?q=zzzz", 200),
    ("/settings/display", 200),
    ("/hotline/", 200),
    ("/no-such-page", 404),
]
JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]

SIGN_IN_BUTTON = {"ru": "Войти", "en": "Sign in"}
ERROR_PREFIX = {"ru": "Ошибка:", "en": "Error:"}


def drop_expected_status_logs(check, *statuses: int) -> None:
    """Chromium logs "Failed to load resource: ... status of 404" for every response with an error
    status, even a page that is *meant* to answer 404 (or a form answering 400). The status itself
    is asserted by the test, so remove exactly one such line per expected response and no more."""
    for status in statuses:
        prefix = f"Failed to load resource: the server responded with a status of {status} "
        for i, message in enumerate(check.console_errors):
            if message.startswith(prefix):
                del check.console_errors[i]
                break


def no_js_axe_violations(check) -> list[str]:
    """axe on a page whose context has JavaScript off (see ``PageCheck._axe_without_javascript``)."""
    return check._axe_without_javascript()


def assert_clean(check, js: bool) -> None:
    """``check.assert_clean()``; kept for the tests written before PageCheck knew about JS off."""
    assert check.js == js
    check.assert_clean()


def assert_page_basics(check, lang: str) -> None:
    page = check.page
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("h1").count() == 1, "a page has exactly one h1: " + repr(page.locator("h1").all_text_contents())


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("path", "status"), PAGES, ids=[p for p, _ in PAGES])
def test_page_is_accessible(make_check, path, status, lang, theme, js):
    check = make_check(lang=lang, theme=theme, js=js)
    response = check.goto(path)
    assert response.status == status
    assert_page_basics(check, lang)
    if status != 200:
        drop_expected_status_logs(check, status)
    assert_clean(check, js)


# --- States after interaction -------------------------------------------------------------------


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_sign_in_submitted_empty(make_check, lang, js):
    check = make_check(lang=lang, js=js)
    page = check.page
    check.goto("/auth/sign-in")
    button = page.get_by_role("button", name=SIGN_IN_BUTTON[lang], exact=True)
    if js:
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            button.click()
    else:
        with page.expect_navigation() as answer:
            button.click()
    assert answer.value.status == 400

    summary = page.locator("#error-summary")
    summary.wait_for(state="visible", timeout=5000)
    # GOV.UK error summary: a heading, then one link per field with an error, pointing at the field.
    assert summary.locator("h2").count() == 1
    links = summary.locator("a")
    assert links.evaluate_all("els => els.map(a => a.getAttribute('href'))") == ["#login", "#password"]
    for field in ("login", "password"):
        field_input = page.locator(f"#{field}")
        assert field_input.get_attribute("aria-invalid") == "true"
        assert f"{field}-error" in (field_input.get_attribute("aria-describedby") or "").split()
        error = page.locator(f"#{field}-error")
        assert error.is_visible()
        # The summary link and the message by the field say the same thing.
        assert links.filter(has_text=error.inner_text().split(" ", 1)[1].strip()).count() == 1
    # The summary takes focus so a screen reader reads it at once.
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'error-summary'", timeout=5000
    )
    if not js:
        # A full page: its title starts with "Error:" (GOV.UK).
        assert page.title().startswith(ERROR_PREFIX[lang]), page.title()
    assert_page_basics(check, lang)
    drop_expected_status_logs(check, 400)
    assert_clean(check, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_clinics_after_search(make_check, lang, js):
    check = make_check(lang=lang, js=js)
    page = check.page
    check.goto("/clinics")
    before = page.locator("#results-heading").inner_text()
    search = page.locator("#q")
    if js:
        search.press_sequentially("детская", delay=20)  # htmx searches as the user types
        page.wait_for_function(
            "before => { const h = document.getElementById('results-heading');"
            " return h && h.textContent.trim() !== before && !document.querySelector('.htmx-request, .htmx-settling'); }",
            arg=before,
            timeout=5000,
        )
    else:
        search.fill("детская")
        with page.expect_navigation() as answer:
            search.press("Enter")
        assert answer.value.status == 200
        assert "q=" in page.url
    rows = page.locator("#results tbody tr")
    assert rows.count() > 0
    assert all("детск" in name.casefold() for name in rows.locator("th").all_inner_texts())
    assert_page_basics(check, lang)
    assert_clean(check, js)


# --- The harness can fail ----------------------------------------------------------------------


def test_harness_reports_unlabelled_input(make_check):
    check = make_check(lang="ru")
    check.goto("/privacy")
    assert check.axe_violations() == []
    check.page.evaluate(
        "() => { const i = document.createElement('input'); i.type = 'text'; i.id = 'unlabelled';"
        " document.querySelector('main').append(i); }"
    )
    violations = check.axe_violations()
    assert any(re.match(r"label: .*#unlabelled", v) for v in violations), violations
    with pytest.raises(AssertionError, match="label"):
        check.assert_clean()


def test_harness_reports_console_errors_and_csp_violations(make_check):
    check = make_check(lang="en")
    check.goto("/privacy")
    check.assert_clean(axe=False)
    # An inline script is forbidden by the page's CSP: the violation must be caught.
    check.page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.append(s); }"
    )
    check.page.wait_for_function("() => window.__cspViolations.length > 0", timeout=5000)
    assert check.page.evaluate("window.__ran") is None, "the CSP let an inline script run"
    with pytest.raises(AssertionError, match="CSP: script-src"):
        check.assert_clean(axe=False)
    check.page.evaluate("console.error('deliberate error')")
    with pytest.raises(AssertionError, match="console: deliberate error"):
        check.assert_clean(axe=False)


def test_no_js_axe_reports_unlabelled_input(make_check):
    check = make_check(lang="en", js=False)
    check.goto("/privacy")
    assert no_js_axe_violations(check) == []
    check.page.evaluate(
        "() => { const i = document.createElement('input'); i.type = 'text'; i.id = 'unlabelled';"
        " document.querySelector('main').append(i); }"
    )
    violations = no_js_axe_violations(check)
    assert any(re.match(r"label: .*#unlabelled", v) for v in violations), violations


def test_every_theme_check_really_restyles_the_page(make_check):
    """The matrices run axe in each theme by swapping the theme's stylesheet on one loaded page:
    after the run the page wears the last theme, and the high-contrast one really made it black."""
    from e2e.conftest import ALL_THEMES, THEME_URLS

    check = make_check(lang="ru", theme="every")
    assert check.every_theme
    check.goto("/")
    seen = []
    check.page.expose_function("seen", lambda colour: seen.append(colour))
    check.page.evaluate(
        """() => new MutationObserver(() => setTimeout(() => window.seen(
            getComputedStyle(document.body).backgroundColor), 50))
            .observe(document.querySelector('link[href*="/themes/"]'), {attributes: true})"""
    )
    assert check.axe_violations() == []
    link = check.page.locator('link[href*="/themes/"]').get_attribute("href")
    assert link == THEME_URLS[ALL_THEMES[-1]]
    check.page.wait_for_timeout(100)
    assert "rgb(0, 0, 0)" in seen, seen


def test_the_theme_rules_catch_a_contrast_failure(make_check):
    """In the second and third theme only the rules a stylesheet can change run (THEME_RULES):
    they still catch text a theme leaves too faint to read."""
    from e2e.conftest import THEME_RULES, PageCheck

    check = make_check(lang="ru")
    check.goto("/")
    assert PageCheck(check.page)._axe(THEME_RULES) == []
    check.page.evaluate(
        """() => { const p = document.querySelector('main p');
                   p.style.color = '#c8c8c8'; p.style.backgroundColor = '#ffffff'; }"""
    )
    assert any(v.startswith("color-contrast:") for v in PageCheck(check.page)._axe(THEME_RULES))
