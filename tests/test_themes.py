"""Themes: switchable without JavaScript, remembered, and with the contrast they promise."""

from __future__ import annotations

import re

import pytest

from portal.config import ROOT


def theme_link(html: str) -> str:
    return re.search(r'href="/assets/themes/([\w-]+)\.[0-9a-f]{12}\.css"', html).group(1)


def test_default_theme(client):
    assert theme_link(client.get("/").get_data(as_text=True)) == "default"


def test_switching_theme_without_javascript_is_remembered(post_form, client):
    response = post_form("/settings/display", {"theme": "high-contrast", "language": "ru", "next": "/clinics"})
    assert response.status_code == 303 and response.headers["Location"] == "/clinics"
    assert "max-age=31536000" in response.headers.get("Set-Cookie", "") or any(
        "theme=high-contrast" in c and "Max-Age=31536000" in c for c in response.headers.getlist("Set-Cookie")
    )
    for path in ("/", "/privacy", "/clinics"):
        assert theme_link(client.get(path).get_data(as_text=True)) == "high-contrast"
    settings = client.get("/settings/display").get_data(as_text=True)
    chosen = re.search(r'<input[^>]*value="high-contrast"[^>]*>', settings).group(0)
    assert " checked" in chosen


def test_an_unknown_theme_keeps_the_form_with_a_precise_error(post_form, client):
    client.set_cookie("lang", "en")
    response = post_form("/settings/display", {"theme": "neon", "language": "en"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="error-summary"' in html and 'href="#theme-0"' in html
    assert "Choose a display option" in html and "Not a valid choice" not in html
    assert theme_link(client.get("/").get_data(as_text=True)) == "default"


def test_nothing_chosen_gives_an_error_for_that_group(post_form, client):
    client.set_cookie("lang", "ru")
    response = post_form("/settings/display", {"language": "ru"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Выберите вариант отображения" in html
    assert 'aria-describedby="theme-error"' in html


def test_an_unknown_theme_cookie_falls_back_to_the_default(client):
    client.set_cookie("theme", "../../etc/passwd")
    assert theme_link(client.get("/").get_data(as_text=True)) == "default"


# -- contrast, computed from the theme files --------------------------------------------------


def variables(theme: str) -> dict[str, str]:
    css = (ROOT / "themes" / theme / "theme.css").read_text()
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


TEXT_PAIRS = [
    ("text", "bg"),
    ("text-muted", "bg"),
    ("text", "panel"),
    ("text-muted", "panel"),
    ("link", "bg"),
    ("link-visited", "bg"),
    ("link-hover", "bg"),
    ("link", "panel"),
    ("error", "bg"),
    ("brand-text", "brand-bg"),
    ("button-text", "button-bg"),
    ("button-text", "button-hover"),
    ("focus-text", "focus-ring"),
    ("text", "input-bg"),
]


@pytest.mark.parametrize("theme,minimum", [("default", 4.5), ("large-text", 4.5), ("high-contrast", 7.0)])
def test_text_contrast(theme, minimum):
    colours = variables(theme)
    low = {
        f"{fg} on {bg}": round(contrast(colours[fg], colours[bg]), 2)
        for fg, bg in TEXT_PAIRS
        if contrast(colours[fg], colours[bg]) < minimum
    }
    assert low == {}


def test_contrast_calculation_is_right():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54


@pytest.mark.parametrize("theme", ["default", "high-contrast", "large-text"])
def test_every_theme_sets_every_colour_the_core_uses(theme):
    used = set(re.findall(r"var\(--([\w-]+)", (ROOT / "portal" / "static" / "portal.css").read_text()))
    defined = set(variables(theme)) | {"font-scale"}
    assert used - defined == set()


def test_no_web_fonts_or_remote_css():
    for css in [ROOT / "portal" / "static" / "portal.css", *ROOT.glob("themes/*/theme.css")]:
        text = css.read_text()
        assert "@font-face" not in text and "@import" not in text and "url(" not in text, css


def test_reduced_motion_and_visible_focus_are_in_the_stylesheet():
    css = (ROOT / "portal" / "static" / "portal.css").read_text()
    assert "@media (prefers-reduced-motion: reduce)" in css
    assert ":focus-visible" in css and "outline: 3px solid var(--focus-ring)" in css
