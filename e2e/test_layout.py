"""Layout and preferences: reflow at 320 CSS px (WCAG 1.4.10), switching language and theme with
JavaScript off, and reduced motion; every page of a crawl at 320, 768 and 1280 px in every theme
(nothing sticking out or cut off, list bullets beside their text, the h1 on a phone's first
screen); the «Меню» disclosure on a phone, with JavaScript and without."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError

from e2e.conftest import ALL_THEMES as THEMES
from e2e.conftest import LANGUAGES, THEME_URLS, new_context
from e2e.test_demo_pages import demo_url  # noqa: F401 - the demo-mode server, for its sign-in page
from portal.demodata.people import PEOPLE

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
    switch = page.locator("#menu").get_by_role("button", name="English", exact=True)
    assert switch.get_attribute("lang") == "en", "the language's own name should be marked up in that language"
    with page.expect_navigation() as navigation:
        switch.click()
    assert navigation.value.ok
    assert page.url.split("?", 1)[0].endswith("/accessibility"), f"the switch should stay on the same page: {page.url}"
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#menu").get_by_role("button", name="Русский", exact=True).count() == 1
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


# --- Every page, three widths, every theme ------------------------------------------------------
# A crawl of the portal as the people who use it (each sees pages the others do not) checks each
# page at 320, 768 and 1280 CSS px in every theme: nothing wider than the viewport, no box hiding
# text it cuts off, every list bullet beside its item's first line (issue 8, point 23: the demo
# accounts' bullets sat on lines of their own, away from their centred text). At 320 × 640 the
# page's heading is on the first screen (point 23b: the header used to fill it).

LAYOUT_PROBLEMS = r"""
() => {
  const problems = [];
  const vw = document.documentElement.clientWidth;
  const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().replace(/\s+/g, '.') : '')
      + ' "' + (el.innerText || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40) + '"';
  if (document.documentElement.scrollWidth > innerWidth) {
    problems.push('page scrolls sideways: scrollWidth ' + document.documentElement.scrollWidth + ' > ' + innerWidth);
  }
  // One pass over the page: what is hidden on purpose (off screen until focused, or clipped to a
  // pixel) is skipped with everything in it; a scroll container lets its content be wider.
  const items = [];
  const walk = (el, scroller) => {
    for (const child of el.children) {
      const s = getComputedStyle(child);
      if (s.display === 'none' || child.matches('.skip-link')) continue;
      const r = child.getBoundingClientRect();
      if (s.position === 'absolute' && r.width <= 1 && r.height <= 1) continue;
      const visible = s.visibility !== 'hidden' && (r.width > 0 || r.height > 0);
      if (visible && !scroller && r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5)) {
        problems.push('sticks out of the viewport (' + Math.round(r.left) + '..' + Math.round(r.right) + ' px): ' + describe(child));
      }
      const clipsX = s.overflowX === 'hidden' || s.overflowX === 'clip';
      const clipsY = s.overflowY === 'hidden' || s.overflowY === 'clip';
      if (visible && ((clipsX && child.scrollWidth > child.clientWidth + 1) || (clipsY && child.scrollHeight > child.clientHeight + 1))) {
        problems.push('content cut off: ' + describe(child));
      }
      if (visible && child.tagName === 'LI' && s.display === 'list-item' && s.listStyleType !== 'none'
          && s.listStylePosition === 'outside') items.push([child, s]);
      walk(child, scroller || s.overflowX === 'auto' || s.overflowX === 'scroll');
    }
  };
  walk(document.body, false);
  // A bullet sits on its item's first line box; put an empty probe at the start of that line, and
  // compare it with the item's first line of text. All probes go in before any is measured: one layout.
  const firstText = root => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {acceptNode: n =>
      n.textContent.trim() && n.parentElement.getClientRects().length ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT});
    return walker.nextNode();
  };
  const lineHost = el => {  // where the item's first line box is: the item, or its first block
    for (const node of el.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) { if (node.textContent.trim()) return el; continue; }
      if (node.nodeType !== Node.ELEMENT_NODE) continue;
      const s = getComputedStyle(node);
      if (s.display === 'none' || s.position === 'absolute' || s.position === 'fixed') continue;
      if (s.display.startsWith('inline')) return el;
      return lineHost(node);
    }
    return el;
  };
  const probes = items.map(([li, s]) => {
    const host = lineHost(li), probe = document.createElement('span');
    host.insertBefore(probe, host.firstChild);
    return probe;
  });
  items.forEach(([li, s], i) => {
    const mark = probes[i].getBoundingClientRect();
    const text = firstText(li);
    if (!text) return;
    const range = document.createRange(); range.selectNodeContents(text);
    const line = range.getClientRects()[0];
    if (!line) return;
    const box = li.getBoundingClientRect(), list = li.parentElement.getBoundingClientRect();
    const left = box.left + parseFloat(s.paddingLeft) + parseFloat(s.borderLeftWidth), em = parseFloat(s.fontSize);
    const middle = (mark.top + mark.bottom) / 2;
    if (middle < line.top || middle > line.bottom) {
      problems.push('list marker not on its first line of text (marker at ' + Math.round(middle) + ' px, text '
        + Math.round(line.top) + '..' + Math.round(line.bottom) + '): ' + describe(li));
    } else if (line.left - left > em * 1.5) {
      problems.push('list item text ' + Math.round(line.left - left) + ' px away from its marker: ' + describe(li));
    }
    if (box.left - list.left < em * 0.9) {
      problems.push('list marker hangs outside its list (' + Math.round(box.left - list.left) + ' px of room): ' + describe(li));
    }
  });
  probes.forEach(probe => probe.remove());
  return problems;
}
"""

CRAWL_PEOPLE = (None, "patient", "guardian", "registrar", "doctor", "accountant")  # None: not signed in
CRAWL_START = {None: ["/", "/auth/sign-in", "/no-such-page"]}
CRAWL_LIMIT = 120  # pages in all; the portal has about 80 kinds
WIDTHS = (320, 768, 1280)
PHONE = {"width": 320, "height": 640}
# Links that download a file or would sign out, and pages that are not the portal's.
NOT_PAGES = re.compile(r"\.(pdf|json|csv)\b|/file\b|/document$|/documents/\d+$|/assets/|/healthz|/verify/|sign-out")
# Where the top of the page's h1 must be at 320 × 640, page-relative: the first half of the
# screen, and the first screen in large text (one and a half times larger everything).
H1_LIMIT = {"default": 320, "high-contrast": 320, "large-text": 640}

SWAP_THEME = """(url) => new Promise((resolve) => {
    const link = document.querySelector('link[rel=stylesheet][href*="/themes/"]');
    if (link.getAttribute('href') === url) { resolve(true); return; }
    link.addEventListener('load', () => resolve(true), {once: true});
    link.setAttribute('href', url);
})"""
H1_TOP = "() => { const h = document.querySelector('h1'); return h ? h.getBoundingClientRect().top + scrollY : null; }"


def address(url: str) -> str:
    """A URL as the crawl names pages: path and query."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def shape(path: str) -> str:
    """A page's kind: its path with the numbers taken out (one card's visits stand for all), and
    the error report's form counted once for every section it serves, and one page of the ICD-10
    book for all of its chapters, blocks and codes (e2e/test_mkb10.py walks the book)."""
    kind = re.sub(r"\d+", "N", urlsplit(path).path)
    if kind.startswith("/mkbN/"):
        return "/mkbN/CODE"
    return re.sub(r"^/card/N/[a-z-]+/N/report-error$", "/card/N/SECTION/N/report-error", kind)


@dataclass
class Crawl:
    pages: list[tuple[str | None, str]] = field(default_factory=list)  # (who, path)
    problems: list[str] = field(default_factory=list)
    h1_tops: dict[tuple[str | None, str, str], float | None] = field(default_factory=dict)  # (who, path, theme)
    html: dict[str, str] = field(default_factory=dict)  # path → the page as the server sent it


@pytest.fixture(scope="module")
def crawl(browser, base_url, live_app) -> Crawl:
    """Follow every link of the portal from each person's start, one page of each kind, and check
    each page on the way: JavaScript on, 320 × 640 first (where the h1 is measured), then every
    theme at every width. Checks run on the loaded page by resizing and swapping the theme's
    stylesheet in place, so a page is loaded once, not nine times."""
    from e2e.test_signed_in_pages import signed_in

    result = Crawl()
    seen: set[str] = set()
    for who in CRAWL_PEOPLE:
        context = (
            signed_in(browser, base_url, live_app, who, "complete", viewport=PHONE)
            if who
            else new_context(browser, base_url, viewport=PHONE)
        )
        try:
            page = context.new_page()
            start = CRAWL_START.get(who, ["/", "/cards"])
            queue, visited = list(start), set()
            while queue and len(result.pages) < CRAWL_LIMIT:
                path = queue.pop(0)
                new = shape(path) not in seen
                if path in visited or (not new and path not in start):  # a start page: for its links
                    continue
                visited.add(path)
                seen.add(shape(path))
                page.set_viewport_size(PHONE)
                try:
                    response = page.goto(path)
                except PlaywrightError as error:  # a link to a file the crawl's patterns missed
                    if "Download is starting" in str(error):
                        continue
                    raise
                queue += [p for p in page.eval_on_selector_all("a[href]", LINKS) if not NOT_PAGES.search(p)]
                if not new or "text/html" not in response.headers.get("content-type", ""):
                    continue
                result.pages.append((who, path))
                result.html[path] = response.text()
                for theme in THEMES:
                    assert page.evaluate(SWAP_THEME, THEME_URLS[theme])
                    for width in WIDTHS:
                        page.set_viewport_size({"width": width, "height": 640 if width == 320 else 800})
                        if width == 320:
                            page.evaluate("window.scrollTo(0, 0)")
                            result.h1_tops[who, path, theme] = page.evaluate(H1_TOP)
                        result.problems += [
                            f"{path} ({who or 'signed out'}, {theme}, {width} px): {p}"
                            for p in page.evaluate(LAYOUT_PROBLEMS)
                        ]
                page.evaluate(SWAP_THEME, THEME_URLS["default"])
        finally:
            context.close()
    return result


# Same-origin links of a page, as paths with their query (fragments dropped).
LINKS = """links => links
  .filter(a => a.origin === location.origin && !a.hasAttribute('download'))
  .map(a => a.pathname + a.search)"""


def test_the_crawl_reaches_the_pages_of_each_person(crawl):
    """The crawl is only as good as what it reaches: the card's sections, its entries, the
    clinic's queues and the public pages, as each person sees them."""
    kinds = {shape(path) for _who, path in crawl.pages}
    for expected in (
        "/",
        "/auth/sign-in",
        "/no-such-page",
        "/card/N",
        "/card/N/results",
        "/card/N/results/N",
        "/card/N/visits/N",
        "/sharing",
        "/notifications",
        "/clinic/verifications",
        "/clinic/verifications/N",
        "/clinic/emergency",
        "/accounting",
    ):
        assert expected in kinds, f"the crawl never reached {expected}: {sorted(kinds)}"
    assert len(crawl.pages) >= 50, len(crawl.pages)


def test_every_page_fits_every_width_in_every_theme(crawl):
    assert not crawl.problems, f"{len(crawl.problems)} layout problems:\n" + "\n".join(crawl.problems[:60])


def test_the_heading_is_on_a_phone_s_first_screen_with_javascript(crawl):
    late = [
        f"{path} ({who or 'signed out'}, {theme}): h1 at {top} px, limit {H1_LIMIT[theme]}"
        for (who, path, theme), top in crawl.h1_tops.items()
        if top is None or top > H1_LIMIT[theme]
    ]
    assert not late, "\n".join(late)


def test_the_heading_is_on_a_phone_s_first_screen_without_javascript(browser, base_url, crawl):
    """The same pages with JavaScript off, where the menu stays after the content. Each is the
    page the server sent to the crawl, served again at its address, so the server renders the
    crawl's pages once."""
    context = new_context(browser, base_url, js=False, viewport=PHONE)
    late = []
    try:
        page = context.new_page()
        page.route(
            lambda url: address(url) in crawl.html,
            lambda route: route.fulfill(
                body=crawl.html[address(route.request.url)], content_type="text/html; charset=utf-8"
            ),
        )
        for who, path in crawl.pages:
            page.goto(path)
            assert page.locator("#menu-toggle").evaluate("el => el.tagName") == "A", "JavaScript ran"
            box = page.locator("h1").bounding_box()
            if box is None or box["y"] > H1_LIMIT["default"]:
                late.append(f"{path} ({who or 'signed out'}): h1 at {box and box['y']} px")
    finally:
        context.close()
    assert not late, "\n".join(late)


def test_the_layout_checks_can_fail(make_check):
    """A bullet pushed off its line, a table with no scroll container and a box cutting its text
    off are each caught at 320 px."""
    check = make_check(lang="en", viewport=PHONE)
    page = check.page
    check.goto("/privacy")
    assert page.evaluate(LAYOUT_PROBLEMS) == []
    page.evaluate("""() => {
        const main = document.querySelector('main');
        const list = document.createElement('ul');
        const item = document.createElement('li'); item.id = 'astray';
        const button = document.createElement('button'); button.textContent = 'A long label that wraps onto three lines at 320 px';
        button.style.width = '8rem';
        item.append(button); list.append(item);
        const table = document.createElement('table'); table.id = 'wide';
        table.innerHTML = '<tr><td>' + 'Wide '.repeat(20).split(' ').join('</td><td>') + '</td></tr>';
        const cut = document.createElement('p'); cut.id = 'cut'; cut.textContent = 'Cut off text '.repeat(20);
        cut.style.whiteSpace = 'nowrap'; cut.style.overflow = 'hidden';
        main.prepend(list, table, cut);
    }""")
    problems = "\n".join(page.evaluate(LAYOUT_PROBLEMS))
    assert "page scrolls sideways" in problems, problems
    assert "sticks out of the viewport" in problems and "table#wide" in problems, problems
    assert "list marker not on its first line of text" in problems and "li#astray" in problems, problems
    assert "content cut off: p#cut" in problems, problems


def test_the_demo_accounts_keep_each_bullet_beside_its_account(browser, demo_url, live_app):  # noqa: F811
    """The demo sign-in list (demo mode only) at every width in every theme: at 1280 px its two
    columns drew each bullet on a line of its own, away from the centred text of its button.
    (``live_app`` names the themes' stylesheets.)"""
    context = new_context(browser, demo_url, viewport=PHONE)
    problems = []
    try:
        page = context.new_page()
        for path in ("/auth/sign-in", "/demo/outbox"):
            page.set_viewport_size(PHONE)
            page.goto(path)
            assert page.locator(".demo-accounts li").count() == len(PEOPLE) or path != "/auth/sign-in"
            for theme in THEMES:
                assert page.evaluate(SWAP_THEME, THEME_URLS[theme])
                for width in WIDTHS:
                    page.set_viewport_size({"width": width, "height": 800})
                    problems += [f"{path} ({theme}, {width} px): {p}" for p in page.evaluate(LAYOUT_PROBLEMS)]
    finally:
        context.close()
    assert not problems, "\n".join(problems)


# --- The menu on a phone ------------------------------------------------------------------------


def test_the_menu_is_a_disclosure_button_on_a_phone(make_check):
    """With JavaScript the «Меню» link becomes a button that shows and hides the menu in the
    header: aria-expanded tells its state, aria-controls names what it shows, Enter and Space
    work it, focus stays on it and moves into the menu with Tab, Escape closes it and focus
    comes back."""
    check = make_check(lang="ru", viewport=PHONE)
    page = check.page
    check.goto("/auth/sign-in")
    button = page.locator("header #menu-toggle")
    assert button.evaluate("el => el.tagName") == "BUTTON"
    assert button.inner_text().strip() == "Меню"
    controlled = button.get_attribute("aria-controls").split()
    assert controlled and all(page.locator(f"header #{id}").count() == 1 for id in controlled), controlled
    menu = page.get_by_role("navigation", name="Главное меню")
    link = menu.get_by_role("link", name="Медицинские организации")
    assert button.get_attribute("aria-expanded") == "false" and link.is_hidden()
    assert page.locator("h1").bounding_box()["y"] < 320

    button.focus()
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-expanded") == "true" and link.is_visible()
    assert page.evaluate("document.activeElement.id") == "menu-toggle", "focus stays on the button"
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('header') && document.activeElement.id !== 'menu-toggle'")
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false" and link.is_hidden()
    assert page.evaluate("document.activeElement.id") == "menu-toggle", "Escape returns focus to the button"
    page.keyboard.press(" ")
    assert button.get_attribute("aria-expanded") == "true" and link.is_visible()
    focused = button.evaluate("el => { const s = getComputedStyle(el); return [s.outlineStyle, s.backgroundColor]; }")
    page.keyboard.press(" ")
    assert button.get_attribute("aria-expanded") == "false"
    page.locator("main").click(position={"x": 5, "y": 5})
    unfocused = button.evaluate("el => getComputedStyle(el).backgroundColor")
    assert focused[1] != unfocused, "the focused button should look focused"

    # A wide screen shows the menu in the header with no button.
    page.set_viewport_size({"width": 1280, "height": 800})
    assert button.is_hidden() and link.is_visible()
    # axe on the phone's open menu (the accessibility matrix sees pages at desktop width).
    page.set_viewport_size(PHONE)
    button.click()
    assert link.is_visible()
    check.assert_clean()


def test_without_javascript_the_menu_link_jumps_to_the_menu_and_back(make_check):
    check = make_check(lang="ru", js=False, viewport=PHONE)
    page = check.page
    check.goto("/clinics")
    link = page.locator("header").get_by_role("link", name="Меню", exact=True)
    assert link.get_attribute("href") == "#menu"
    menu = page.locator("nav#menu")
    # The menu comes after the content, so the page's heading is on the first screen.
    assert page.evaluate("document.querySelector('main').compareDocumentPosition(document.getElementById('menu'))") & 4
    assert not menu.is_visible() or menu.bounding_box()["y"] > 640
    link.click()
    page.wait_for_function("() => location.hash === '#menu'")
    box = menu.bounding_box()
    assert page.evaluate("scrollY") > 0 and -1 <= box["y"] < 640, "the menu is on screen after the jump"
    assert menu.get_by_role("link", name="Медицинские организации").get_attribute("aria-current") == "page"
    menu.get_by_role("link", name="Наверх").click()
    page.wait_for_function("() => location.hash === '#top'")
    assert page.evaluate("scrollY") == 0, "back at the top of the page"
    assert page.locator("h1").bounding_box()["y"] < 640
    check.assert_clean()
