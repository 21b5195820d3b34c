"""Keyboard only: the skip link, the tab order of each page, a visible focus indicator on every
stop, and a form filled in and sent without a mouse."""

from __future__ import annotations

import pytest

MAX_TABS = 300

# Every control a keyboard user must reach, visible on screen (or shown on focus, like the skip
# link). Radio buttons are one tab stop per group — the checked one, or the first when none is —
# as in every browser; the arrow keys move inside the group.
MARK_CANDIDATES = """
() => {
  const selector = 'a[href], button, input:not([type=hidden]), select';
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
      && !el.closest('[hidden], [inert]') && !el.disabled;
  const all = [...document.querySelectorAll(selector)].filter(shown);
  const groups = new Map();
  for (const el of all) {
    if (el.type === 'radio' && el.name) {
      const key = (el.form ? 'f' + [...document.forms].indexOf(el.form) : 'd') + ':' + el.name;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(el);
    }
  }
  const stops = all.filter(el => {
    if (el.type !== 'radio' || !el.name) return true;
    const group = groups.get((el.form ? 'f' + [...document.forms].indexOf(el.form) : 'd') + ':' + el.name);
    const checked = group.find(r => r.checked);
    return el === (checked || group[0]);
  });
  const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (el.getAttribute('href') ? '[href="' + el.getAttribute('href') + '"]' : '')
      + (el.name ? '[name="' + el.name + '"]' : '') + (el.value && el.type === 'radio' ? '[value="' + el.value + '"]' : '')
      + ' "' + (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 40) + '"';
  const style = el => { const s = getComputedStyle(el); return {
      outlineStyle: s.outlineStyle, outlineWidth: s.outlineWidth, outlineColor: s.outlineColor,
      boxShadow: s.boxShadow, backgroundColor: s.backgroundColor}; };
  if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  window.__kbUnfocused = [];
  stops.forEach((el, i) => { el.dataset.kbStop = String(i); window.__kbUnfocused.push(style(el)); });
  window.__kbDescribe = describe;
  window.__kbStyle = style;
  return stops.map(describe);
}
"""

# Where focus is now, and what it looks like compared with the same element unfocused.
FOCUSED = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const now = window.__kbStyle(el);
  const stop = el.dataset.kbStop === undefined ? null : Number(el.dataset.kbStop);
  const before = stop === null ? null : window.__kbUnfocused[stop];
  const transparent = c => c === 'transparent' || /rgba\\([^)]*,\\s*0\\)$/.test(c);
  const outline = now.outlineStyle !== 'none' && parseFloat(now.outlineWidth) > 0 && !transparent(now.outlineColor);
  const shadow = now.boxShadow !== 'none' && (!before || now.boxShadow !== before.boxShadow);
  const background = before !== null && now.backgroundColor !== before.backgroundColor;
  const r = el.getBoundingClientRect();
  return {stop, name: window.__kbDescribe(el), indicator: outline || shadow || background, style: now,
          onScreen: r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0
                    && r.left < innerWidth && r.top < document.documentElement.scrollHeight};
}
"""


def tab_through(page) -> tuple[list[str], list[dict]]:
    """Press Tab from the top of the page until focus leaves the page or comes back round."""
    expected = page.evaluate(MARK_CANDIDATES)
    visited: list[dict] = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            break
        if visited and focused["name"] == visited[0]["name"] and focused["stop"] == visited[0]["stop"]:
            break
        visited.append(focused)
    else:
        pytest.fail(f"focus never left the page or came back round after {MAX_TABS} presses of Tab")
    return expected, visited


@pytest.mark.parametrize("js", [pytest.param(True, id="js"), pytest.param(False, id="nojs")])
def test_skip_link_is_first_and_moves_focus_to_main(make_check, js):
    check = make_check(lang="ru", js=js)
    page = check.page
    check.goto("/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')"), (
        "the first Tab must focus the skip link, not " + page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
    )
    box = skip.bounding_box()
    viewport = page.viewport_size
    assert box and box["width"] > 0 and box["height"] > 0
    assert (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= viewport["width"]
        and box["y"] + box["height"] <= viewport["height"]
    ), f"focused skip link is off screen: {box}"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'main'", timeout=5000)
    # The next Tab continues from the main content, not from the top of the page.
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('main')"), (
        "after the skip link, Tab should go into main, got "
        + page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
    )


@pytest.mark.parametrize("theme", ["default", "high-contrast"])
@pytest.mark.parametrize("path", ["/", "/auth/sign-in", "/clinics", "/settings/display"])
def test_tab_order_reaches_every_control_with_visible_focus(make_check, path, theme):
    check = make_check(lang="ru", theme=theme)
    page = check.page
    assert check.goto(path).status == 200
    expected, visited = tab_through(page)
    problems = tab_problems(expected, visited)
    assert not problems, "\n\n".join(problems)
    check.assert_clean(axe=False)


def tab_problems(expected: list[str], visited: list[dict]) -> list[str]:
    problems = []
    reached = [v["stop"] for v in visited if v["stop"] is not None]
    missing = [expected[i] for i in range(len(expected)) if i not in reached]
    if missing:
        problems.append("not reachable with Tab:\n" + "\n".join(missing))
    if reached != sorted(reached) or len(set(reached)) != len(reached):
        problems.append("tab order differs from the page order:\n" + "\n".join(v["name"] for v in visited))
    no_indicator = [f"{v['name']} {v['style']}" for v in visited if not v["indicator"]]
    if no_indicator:
        problems.append("focused without a visible focus indicator:\n" + "\n".join(no_indicator))
    off_screen = [v["name"] for v in visited if not v["onScreen"]]
    if off_screen:
        problems.append("focus went to something not on screen:\n" + "\n".join(off_screen))
    return problems


def test_keyboard_checks_can_fail(make_check):
    """A link taken out of the tab order and a button whose focus style is removed are caught."""
    check = make_check(lang="en")
    page = check.page
    check.goto("/privacy")
    page.evaluate("""() => {
        const main = document.querySelector('main');
        const a = document.createElement('a'); a.href = '/'; a.id = 'skipped'; a.tabIndex = -1; a.textContent = 'Unreachable';
        const b = document.createElement('button'); b.id = 'no-ring'; b.textContent = 'No focus ring';
        b.style.outline = 'none'; b.style.boxShadow = 'none';
        main.prepend(a, b);
    }""")
    problems = "\n".join(tab_problems(*tab_through(page)))
    assert "not reachable with Tab:\na#skipped" in problems, problems
    assert "without a visible focus indicator:\nbutton#no-ring" in problems, problems


def test_sign_in_by_keyboard_alone(make_check):
    check = make_check(lang="ru", js=True)
    page = check.page
    check.goto("/auth/sign-in")
    page.evaluate("window.__marker = 1")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "login":
            break
    else:
        pytest.fail("Tab never reached the login field")
    page.keyboard.type("+7 900 000-00-00")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password", "Tab from login should go to password"
    page.keyboard.type("not the password")
    page.keyboard.press("Enter")
    page.locator("#error-summary").wait_for(state="visible", timeout=5000)
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'error-summary'", timeout=5000
    )
    assert page.evaluate("window.__marker") == 1, "the form was sent as a full page load, not through htmx"
    assert page.locator("#error-summary a").count() >= 1
    # From the summary, Enter on its link takes the keyboard user to the field to correct.
    page.keyboard.press("Tab")
    link_target = page.evaluate("document.activeElement.getAttribute('href')")
    assert link_target and link_target.startswith("#"), "Tab from the summary should reach its first link"
    page.keyboard.press("Enter")
    page.wait_for_function(
        "t => document.activeElement && '#' + document.activeElement.id === t", arg=link_target, timeout=5000
    )
