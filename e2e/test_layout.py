"""Layout and preferences: reflow at 320 CSS px (WCAG 1.4.10), switching language and theme with
JavaScript off, and reduced motion."""

from __future__ import annotations

import re

import pytest

from e2e.conftest import ALL_THEMES as THEMES
from e2e.conftest import LANGUAGES, new_context

PAGES = [
    "/",
    "/auth/sign-in",
    "/accessibility",
    "/privacy",
    "/clinics",
    "/clinics?q=zzzz",
    "/settings/display",
    "/hotline/",
    "/no-such-page",
]

# Elements that stick out to the right of a narrow viewport (for a useful failure message).
OVERFLOWING = """
() => [...document.body.querySelectorAll('*')]
  .filter(el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > document.documentElement.clientWidth + 0.5; })
  .filter(el => !el.closest('.visually-hidden, .skip-link'))
  .slice(0, 8)
  .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + String(el.className).trim().replace(/\\s+/g, '.') : '')
       + ' right=' + Math.round(el.getBoundingClientRect().right) + ' "' + (el.innerText || '').trim().slice(0, 40) + '"')
"""


def seconds(value: str) -> float:
    """The largest of a computed ``transition-duration`` list such as ``0.2s, 1e-05s``."""
    durations = []
    for part in value.split(","):
        number = re.fullmatch(r"\s*([0-9.e+-]+)(m?s)\s*", part)
        assert number, f"unexpected duration {value!r}"
        durations.append(float(number[1]) / (1000 if number[2] == "ms" else 1))
    return max(durations)


@pytest.fixture(scope="module")
def narrow_page(browser, base_url):
    """One 320×640 page per language and theme, reused for every path (only the navigation differs)."""
    pages = {}

    def get(lang: str, theme: str):
        if (lang, theme) not in pages:
            context = new_context(browser, base_url, lang=lang, theme=theme, viewport={"width": 320, "height": 640})
            pages[lang, theme] = context.new_page()
        return pages[lang, theme]

    yield get
    for page in pages.values():
        page.context.close()


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", PAGES)
def test_reflow_at_320_css_pixels(narrow_page, path, lang, theme):
    page = narrow_page(lang, theme)
    page.goto(path)
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.evaluate("innerWidth") == 320
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, (
        f"horizontal scrolling at 320 px: scrollWidth {width}; sticking out: {page.evaluate(OVERFLOWING)}"
    )


def test_language_switch_without_javascript(make_check):
    check = make_check(lang="ru", js=False)
    page = check.page
    check.goto("/accessibility")
    assert page.locator("html").get_attribute("lang") == "ru"
    switch = page.locator("header").get_by_role("button", name="English", exact=True)
    assert switch.get_attribute("lang") == "en", "the language's own name should be marked up in that language"
    with page.expect_navigation() as navigation:
        switch.click()
    assert navigation.value.ok
    assert page.url.split("?", 1)[0].endswith("/accessibility"), f"the switch should stay on the same page: {page.url}"
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("header").get_by_role("button", name="Русский", exact=True).count() == 1
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies.get("lang") == "en"
    check.goto("/privacy")
    assert page.locator("html").get_attribute("lang") == "en", "the chosen language should persist"
    check.assert_clean(axe=False)


def test_theme_switch_without_javascript(make_check):
    check = make_check(lang="ru", theme="default", js=False)
    page = check.page
    check.goto("/settings/display")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(0, 0, 0)"
    page.get_by_role("radio", name="Высокая контрастность").check()
    assert page.locator("input[type=radio][value=high-contrast]").is_checked()
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Сохранить настройки", exact=True).click()
    assert navigation.value.ok

    def assert_high_contrast() -> None:
        sheets = page.locator("link[rel=stylesheet]").evaluate_all("links => links.map(l => l.getAttribute('href'))")
        assert any("themes/high-contrast" in href for href in sheets), sheets
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(0, 0, 0)"

    assert_high_contrast()
    assert page.locator("html").get_attribute("lang") == "ru"
    check.goto("/clinics")
    assert_high_contrast()
    check.assert_clean(axe=False)


@pytest.mark.parametrize("path", ["/", "/clinics"])
def test_reduced_motion_turns_transitions_off(make_check, path):
    check = make_check(lang="ru")
    page = check.page
    page.emulate_media(reduced_motion="reduce")
    check.goto(path)
    assert page.evaluate("matchMedia('(prefers-reduced-motion: reduce)').matches")
    buttons = page.locator("main button, main a.button")
    assert buttons.count() > 0
    for i in range(buttons.count()):
        duration = buttons.nth(i).evaluate("b => getComputedStyle(b).transitionDuration")
        assert seconds(duration) <= 0.01, f"button {i} transition-duration {duration}"
    scroll = page.evaluate("getComputedStyle(document.documentElement).scrollBehavior")
    assert scroll == "auto", scroll
