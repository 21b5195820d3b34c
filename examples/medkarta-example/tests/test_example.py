"""The example plugin on the real portal, tested with the fixtures of ``portal.testing`` (a pytest
plugin the portal installs): ``portal_app``, ``client_as``, ``demo_cards``, ``count_queries`` and
``check_page``. Each app starts from a fresh copy of the demo data with only the plugins named."""

from __future__ import annotations

from markupsafe import escape

PLUGIN = "example"
PAGE = "/example/"
TITLE = {"ru": "Пример модуля", "en": "Example plugin"}


def heading(lang: str) -> str:
    return f"<h1>{escape(TITLE[lang])}</h1>"


def test_the_page_is_in_russian_and_english(portal_app):
    client = portal_app(plugins=[PLUGIN]).test_client()
    for lang in ("ru", "en"):
        client.set_cookie("lang", lang)
        response = client.get(PAGE)
        assert response.status_code == 200
        assert heading(lang) in response.get_data(as_text=True)


def test_the_page_shows_the_contact_a_region_sets(portal_app):
    default = portal_app(plugins=[PLUGIN]).test_client().get(PAGE).get_data(as_text=True)
    assert 'href="mailto:plugins@example.ru"' in default
    region = portal_app(plugins=[PLUGIN], PLUGIN_CONFIG={PLUGIN: {"contact": "help@region.example"}})
    assert 'href="mailto:help@region.example"' in region.test_client().get(PAGE).get_data(as_text=True)


def test_a_plugin_not_enabled_serves_nothing(portal_app):
    client = portal_app(plugins=[]).test_client()
    assert client.get(PAGE).status_code == 404
    assert escape(TITLE["ru"]) not in client.get("/").get_data(as_text=True)


def test_the_home_page_has_the_card_and_the_menu_item(portal_app):
    client = portal_app(plugins=[PLUGIN]).test_client()
    client.set_cookie("lang", "en")
    html = client.get("/").get_data(as_text=True)
    assert f'href="{PAGE}"' in html
    assert "Open the plugin page" in html


def test_a_signed_in_patient_sees_the_page_at_no_cost_of_queries(portal_app, client_as, count_queries):
    portal_app(plugins=[PLUGIN])
    client = client_as("patient")
    client.get("/accessibility")  # the session's first request does its own bookkeeping
    with count_queries() as core_page:
        assert client.get("/accessibility").status_code == 200
    with count_queries() as plugin_page:
        assert client.get(PAGE).status_code == 200
    assert len(plugin_page) <= len(core_page), "the page adds queries of its own"


def test_the_menu_item_is_on_a_patient_s_own_card_too(portal_app, client_as, demo_cards):
    portal_app(plugins=[PLUGIN])
    response = client_as("patient").get(f"/card/{demo_cards['patient']}")
    assert response.status_code == 200
    assert f'href="{PAGE}"' in response.get_data(as_text=True)


def test_the_page_passes_the_browser_check(portal_app, check_page):
    """axe (WCAG 2.2 AA) in Russian and English, every theme, JavaScript on and off; skipped where
    no Chromium is installed."""
    portal_app(plugins=[PLUGIN])
    check_page(PAGE)
