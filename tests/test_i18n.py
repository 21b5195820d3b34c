"""Languages: Russian by default, English complete; the choice, then Accept-Language, then ru."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from portal import clock
from portal.config import ROOT

CATALOGS = [
    ROOT / "translations" / "ru" / "LC_MESSAGES" / "messages.po",
    *ROOT.glob("plugins/*/translations/ru/LC_MESSAGES/*.po"),
]


def lang_of(response) -> str:
    html = response.get_data(as_text=True)
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


def test_russian_without_any_preference(client):
    page = client.get("/")
    assert lang_of(page) == "ru"
    assert "Перейти к основному содержанию" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "header,expected",
    [
        ("en-US,en;q=0.9", "en"),
        ("en-GB", "en"),
        ("ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        ("de-DE,de;q=0.9", "ru"),
        ("fr, en;q=0.5", "en"),
    ],
)
def test_accept_language(client, header, expected):
    assert lang_of(client.get("/", headers={"Accept-Language": header})) == expected


def test_the_users_choice_beats_accept_language(client):
    client.set_cookie("lang", "ru")
    assert lang_of(client.get("/", headers={"Accept-Language": "en"})) == "ru"
    client.set_cookie("lang", "xx")  # a value we do not serve is ignored
    assert lang_of(client.get("/", headers={"Accept-Language": "en"})) == "en"


def test_language_switch_works_without_javascript(post_form, client):
    response = post_form("/settings/language", {"language": "en", "next": "/privacy"})
    assert response.status_code == 303 and response.headers["Location"] == "/privacy"
    page = client.get("/privacy")
    assert lang_of(page) == "en" and "Privacy notice" in page.get_data(as_text=True)
    button = page.get_data(as_text=True)
    assert 'name="language" value="ru" lang="ru">Русский</button>' in button


def test_an_unknown_language_is_refused(post_form):
    assert post_form("/settings/language", {"language": "xx"}).status_code == 400


@pytest.mark.parametrize("catalog", CATALOGS, ids=lambda p: str(Path(p).relative_to(ROOT)))
def test_russian_catalog_is_complete(catalog):
    with open(catalog, "rb") as fh:
        messages = [m for m in read_po(fh) if m.id]
    assert messages
    untranslated = [m.id for m in messages if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert untranslated == [] and fuzzy == []


def test_catalog_covers_every_message_in_the_templates_and_code():
    """The .pot is up to date: `make translations` was run after the last text change. And the
    other way: every text in the catalog is still found, so no template is skipped by the
    extractor (a tag it cannot parse makes it skip the whole file) and no text written in Python
    is out of its reach (inside an f-string, or called by another name)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(ROOT / "babel.cfg") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None, "N_": None}
    found = {
        m[2] if isinstance(m[2], str) else m[2][0]
        for m in extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)
    }
    with open(CATALOGS[0], "rb") as fh:
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    assert found - known == set()
    assert known - found == set()


@pytest.mark.parametrize("lang,expected", [("ru", "27 ноября 2026\u00a0года."), ("en", "November 27, 2026.")])
def test_dates_are_formatted_per_locale(client, lang, expected):
    client.set_cookie("lang", lang)
    assert expected in client.get("/accessibility").get_data(as_text=True)


@pytest.mark.parametrize("lang,expected", [("ru", "1\u00a0234\u00a0567"), ("en", "1,234,567")])
def test_numbers_are_formatted_per_locale(app, lang, expected):
    from flask_babel import format_decimal, refresh

    with app.test_request_context("/", headers={"Cookie": f"lang={lang}"}):
        refresh()
        assert format_decimal(1234567) == expected


def test_plural_forms_in_russian(app):
    from flask_babel import ngettext

    with app.test_request_context("/", headers={"Cookie": "lang=ru"}):
        forms = [ngettext("%(num)s organisation found", "%(num)s organisations found", n) for n in (1, 3, 5, 21)]
    assert forms[0].startswith("Найдена 1") and forms[1].startswith("Найдены 3")
    assert forms[2].startswith("Найдено 5") and forms[3].startswith("Найдена 21")


def test_templates_translate_escape_what_they_put_in_and_pick_plural_forms(app):
    """Templates get gettext bound to the request's catalog: the translation, with the values put
    into it escaped (a name cannot inject markup), Russian plural forms, and a literal %%."""
    from flask import render_template_string

    source = (
        '{{ _("room %(room)s", room="<b>7</b>") }}|'
        '{{ ngettext("%(num)s organisation found", "%(num)s organisations found", 5) }}|'
        '{% macro m() %}{{ _("room %(room)s", room=1) }}{% endmacro %}{{ m() }}|{{ _("100%%") }}'
    )
    with app.test_request_context("/", headers={"Cookie": "lang=ru"}):
        html = render_template_string(source)
    assert html.split("|") == ["кабинет &lt;b&gt;7&lt;/b&gt;", "Найдено 5 организаций", "кабинет 1", "100%"]


def test_the_statement_date_is_today_or_earlier():
    from portal.web.views import STATEMENT_REVIEWED

    assert clock.today() >= STATEMENT_REVIEWED


@pytest.mark.parametrize("lang,message", [("ru", "Обязательное поле."), ("en", "This field is required.")])
def test_wtforms_own_messages_follow_the_request_language(app, lang, message):
    """WTForms' built-in messages (its catalog is read once per process, not per request) are in
    the language of each request, one after the other in the same process."""
    from werkzeug.datastructures import MultiDict

    from portal.web.forms import LanguageForm

    for _ in range(2):
        with app.test_request_context("/", headers={"Cookie": f"lang={lang}"}):
            app.preprocess_request()
            form = LanguageForm(formdata=MultiDict(), meta={"csrf": False})
            assert not form.validate()
            assert form.language.errors == [message]


def test_flask_babels_context_is_found_as_flask_babel_finds_it(app):
    """portal.extensions replaces Flask-Babel 4.0's private ``_get_current_context`` with a faster
    look-up of the same namespace: none outside an app context, one per context, kept in ``g``."""
    import flask_babel
    from flask import g

    from portal.extensions import _babel_context

    assert flask_babel._get_current_context is _babel_context
    assert _babel_context() is None
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        first = _babel_context()
        assert first is g._flask_babel and _babel_context() is first
        assert flask_babel.gettext("Medkarta") == "Medkarta" and str(flask_babel.get_locale()) == "en"
        with flask_babel.force_locale("ru"):
            assert flask_babel.gettext("Home") == "Главная"
        assert flask_babel.gettext("Home") == "Home"
    with app.app_context():
        assert _babel_context() is not first
