"""Searching the full ICD-10 book: by code (its beginning; Cyrillic look-alike letters; the
Russian keyboard's letters; a comma or no point) and by words (each a beginning, any order, «ё» as
«е», any case), ranked; the combobox's endpoint in one SQL statement whatever the query; the
reference's pages and their rate limit."""

from __future__ import annotations

import html
import os
import re
import shutil
import uuid

import pytest
import sqlalchemy as sa

from bench.pages import recorded_statements
from portal.database import db
from portal.mkb10 import importer
from portal.mkb10.search import search
from portal.mkb10.text import code_query, display_title, query_words
from tests.conftest import ON_POSTGRES, make_app

HX = {"HX-Request": "true"}
RU = {"Accept-Language": "ru"}
EN = {"Accept-Language": "en"}


@pytest.fixture(scope="module")
def book(database_template, tmp_path_factory):
    """An app on a database holding the whole book, loaded once for the module (the tests only read)."""
    base = tmp_path_factory.mktemp("mkb10")
    admin = name = None
    if ON_POSTGRES:
        admin = sa.create_engine(os.environ["PORTAL_TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
        name = f"medkarta_mkb10_{uuid.uuid4().hex[:8]}"
        template = sa.make_url(database_template)
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
        url = template.set(database=name).render_as_string(hide_password=False)
    else:
        shutil.copyfile(database_template, base / "medkarta.db")
        url = f"sqlite:///{base / 'medkarta.db'}"
    app = make_app(url, base)
    with app.app_context():
        importer.load()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def find(book):
    """``find(query, **options)`` → the codes found, best first, and how many in all."""

    def run(query: str, **options) -> tuple[list[str], int]:
        with book.app_context():
            found = search(query, **options)
            return [m.code for m in found.matches], found.total

    return run


# -- the rules, without the database ---------------------------------------------------------------


@pytest.mark.parametrize(
    "typed,meant",
    [
        ("J06.9", ("J06.9", False)),
        ("j06", ("J06", False)),
        ("А00", ("A00", False)),  # Cyrillic А
        ("е11.9", ("E11.9", False)),  # Cyrillic е
        ("Ш10", ("I10", False)),  # Ш is on the I key
        ("J069", ("J06.9", False)),
        ("j06,9", ("J06.9", False)),
        (" S02 00 ", ("S02.00", False)),
        ("A00-A09", ("A00-A09", False)),
        ("а00-а0", ("A00-A0", False)),
        ("XXI", ("XXI", True)),
        ("грипп", None),
        ("J", None),
        ("J06 острая", None),
    ],
)
def test_what_counts_as_a_code(typed, meant):
    assert code_query(typed) == meant


def test_query_words_fold_case_and_yo_and_leave_out_one_letter_prepositions():
    assert query_words("Расщелина НЁБА и губы, губы") == ["расщелина", "неба", "губы"]


def test_the_books_capitals_are_shown_in_sentence_case_keeping_abbreviations_and_codes():
    assert display_title("БОЛЕЗНЬ, ВЫЗВАННАЯ ВИРУСОМ ИММУНОДЕФИЦИТА ЧЕЛОВЕКА [ВИЧ]") == (
        "Болезнь, вызванная вирусом иммунодефицита человека [ВИЧ]"
    )
    assert display_title("ПОВЕДЕНЧЕСКИЕ СИНДРОМЫ (F50-F59)") == "Поведенческие синдромы (F50-F59)"
    assert display_title("Холера неуточненная") == "Холера неуточненная"


# -- by code ---------------------------------------------------------------------------------------


def test_an_exact_code_comes_first_then_the_codes_that_begin_with_it(find):
    assert find("J06") == (["J06", "J06.0", "J06.8", "J06.9"], 4)
    assert find("j06.9") == (["J06.9"], 1)
    codes, total = find("I10")
    assert codes[0] == "I10" and "I10-I15" in codes  # the block after the code itself


def test_a_code_typed_in_cyrillic_letters_finds_the_latin_code(find):
    assert find("А00")[0][0] == "A00"  # Cyrillic А, as on paper
    assert find("Е11.9") == find("E11.9") == (["E11.9"], 1)
    assert find("Ш10")[0][0] == "I10"  # typed on the Russian keyboard
    assert find("J069") == find("j06,9") == (["J06.9"], 1)


def test_a_two_character_code_beginning_lists_the_first_ten_and_counts_all(find):
    codes, total = find("J0")
    assert len(codes) == 10 and total == 32 and codes[0] == "J00-J06" and all(c.startswith("J0") for c in codes)


def test_blocks_and_chapters_are_found_by_their_codes(find):
    assert find("A00-A09") == (["A00-A09"], 1)
    assert find("XXI") == (["XXI"], 1)


# -- by words ----------------------------------------------------------------------------------------


def test_words_are_beginnings_in_any_order(find):
    forward, backward = find("острый бронхит", limit=20), find("бронхит острый", limit=20)
    assert forward[1] == backward[1] == 12
    assert set(forward[0]) == set(backward[0]) and "J20" in forward[0]
    assert find("остр инф верх дых путей неут")[0] == ["J06", "J06.9"]


def test_a_title_beginning_with_the_first_word_comes_before_one_that_contains_it(find):
    codes, _total = find("острый бронхит")
    assert codes[0] == "J20"  # «Острый бронхит»
    codes, _total = find("грипп", limit=20)
    assert codes.index("J10") < codes.index("G00.0")  # «Грипп, вызванный…» before «Гриппозный менингит»


def test_yo_and_ye_are_the_same_letter_both_ways(find):
    # the book writes «нёба» with ё and «твердого» with е
    assert find("расщелина твердого неба") == find("РАСЩЕЛИНА ТВЁРДОГО НЁБА")
    codes, total = find("твёрдого нёба")
    assert "Q35.1" in codes and total == find("твердого неба")[1]


def test_case_does_not_matter(find):
    assert find("грипп") == find("ГРИПП") == find("Грипп")
    assert find("covid") == find("COVID")


def test_the_shortest_and_the_longest_queries(find):
    two = find("гр")
    assert len(two[0]) == 10 and two[1] > 100
    thirty = "острая инфекция верхних дыхате"
    assert len(thirty) == 30
    assert "J06.9" in find(thirty)[0]
    assert find("г") == ([], 0)  # one character: too short to search
    assert find("   ") == ([], 0)


def test_nothing_found(find):
    assert find("zzz") == ([], 0)
    assert find("ёлка") == ([], 0)
    assert find("Z99.999") == ([], 0)


def test_one_letter_prepositions_are_ignored(find):
    assert find("болезнь и почки") == find("болезнь почки")


def test_only_codes_usable_in_a_diagnosis_when_asked(find):
    assert find("J06", usable_only=True) == (["J06.0", "J06.8", "J06.9"], 3)
    assert "A90" not in find("денге", usable_only=True)[0]  # retired
    assert "A90" in find("денге")[0]


# -- the combobox's endpoint --------------------------------------------------------------------------


def options(book, query: str, **args) -> str:
    response = book.test_client().get("/mkb10/search", query_string={"field": "q", "q": query, **args}, headers=HX | RU)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_options_are_a_listbox_with_the_count_for_the_live_region(book):
    body = options(book, "J06")
    assert '<ul class="combobox-listbox" id="q-listbox" role="listbox" aria-labelledby="q-label" hidden>' in body
    assert re.findall(r'role="option" id="(q-option-\d+)" aria-selected="false" data-value="([^"]+)"', body) == [
        ("q-option-1", "J06"), ("q-option-2", "J06.0"), ("q-option-3", "J06.8"), ("q-option-4", "J06.9"),
    ]  # fmt: skip
    assert 'data-label="J06.9 Острая инфекция верхних дыхательных путей неуточненная"' in body
    assert '<p class="visually-hidden" data-announce>Найдено 4 кода.</p>' in body
    assert "для диагноза" in body  # J06.9 may be written in a diagnosis; J06 is a heading
    many = options(book, "гр")
    assert "Найдено 588 кодов, показаны первые 10" in html.unescape(many)
    assert "Ничего не найдено" in options(book, "zzz")


def test_the_field_names_the_query_parameter_and_the_ids(book):
    response = book.test_client().get(
        "/mkb10/search", query_string={"field": "main_diagnosis", "main_diagnosis": "J06.9"}, headers=HX
    )
    assert 'id="main_diagnosis-option-1"' in response.get_data(as_text=True)
    bad = book.test_client().get("/mkb10/search", query_string={"field": 'x" onmouseover="', "q": "J06"}, headers=HX)
    assert bad.status_code == 400


def test_usable_only_leaves_out_headings(book):
    body = options(book, "J06", usable="1")
    assert 'data-value="J06"' not in body and 'data-value="J06.9"' in body


def test_without_htmx_the_endpoint_sends_to_the_search_page(book):
    response = book.test_client().get("/mkb10/search", query_string={"field": "q", "q": "J06"})
    assert response.status_code == 303 and response.location.endswith("/mkb10?q=J06")


QUERIES = ["гр", "J0", "j06.9", "А00", "острый бронхит", "остр инф верх дых путей неут", "неуточнённая", "zzz", "г"]


def test_the_endpoint_sends_the_same_number_of_statements_for_every_query(book):
    client = book.test_client()
    client.get("/mkb10/search?field=q&q=J0", headers=HX)  # the first request of a process warms up
    counted = {}
    for query in QUERIES:
        with book.app_context(), recorded_statements(db.engine) as statements:
            assert client.get("/mkb10/search", query_string={"field": "q", "q": query}, headers=HX).status_code == 200
        counted[query] = len(statements)
    assert set(counted.values()) <= {0, 1} and all(counted[q] == 1 for q in QUERIES if q != "г"), counted


# -- the reference's pages ---------------------------------------------------------------------------


def page(book, path: str, headers=RU, **kwargs):
    return book.test_client().get(path, headers=headers, **kwargs)


def test_the_reference_page_lists_the_chapters(book):
    response = page(book, "/mkb10")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<h1>Справочник МКБ-10</h1>" in body
    assert len(re.findall(r'<li><a href="/mkb10/[IVX]+">', body)) == 22
    assert "OID 1.2.643.5.1.13.13.11.1005" in body


def test_a_search_without_javascript_lists_matches_each_with_a_choose_button(book):
    body = page(book, "/mkb10?q=острый+бронхит").get_data(as_text=True)
    assert "Найдено 12 кодов" in body
    assert '<button class="button button-secondary button-small" name="pick" value="J20">Выбрать' in body
    assert 'value="острый бронхит"' in body  # the field keeps what was typed


def test_choosing_a_code_opens_its_page(book):
    for args in ("q=бронхит&pick=J20", "q=J20+Острый+бронхит&code=J20"):
        response = page(book, f"/mkb10?{args}")
        assert response.status_code == 303 and response.location.endswith("/mkb10/J20")


def test_a_one_character_search_says_what_is_wrong(book):
    response = page(book, "/mkb10?q=г")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="error-summary"' in body and '<a href="#q">Введите хотя бы 2 символа.</a>' in body
    assert 'aria-invalid="true"' in body and 'value="г"' in body


def test_a_codes_page_shows_its_chain_and_children(book):
    body = page(book, "/mkb10/J06").get_data(as_text=True)
    assert "Острые инфекции верхних дыхательных путей множественной и неуточненной локализации" in body
    for up in ("X", "J00-J06"):
        assert f'<a href="/mkb10/{up}">' in body
    for child in ("J06.0", "J06.8", "J06.9"):
        assert f'<a href="/mkb10/{child}">' in body
    assert "Слишком общий для диагноза" in body
    leaf = page(book, "/mkb10/J06.9").get_data(as_text=True)
    assert "Можно указать в диагнозе." in leaf and '<li aria-current="page">J06.9</li>' in leaf


def test_in_english_the_interface_is_translated_and_the_titles_marked_russian(book):
    body = page(book, "/mkb10/J06.9", headers=EN).get_data(as_text=True)
    assert "Can be written in a diagnosis." in body
    assert '<span lang="ru">Острая инфекция верхних дыхательных путей неуточненная</span>' in body


def test_a_code_typed_another_way_is_sent_to_its_page_and_an_unknown_one_is_404(book):
    for typed in ("j06.9", "J06,9", "J069"):
        response = page(book, f"/mkb10/{typed}")
        assert response.status_code == 301 and response.location.endswith("/mkb10/J06.9"), typed
    assert page(book, "/mkb10/Z99.99").status_code == 404
    assert page(book, "/mkb10/nonsense").status_code == 404


def test_the_search_is_rate_limited_per_address(book, tmp_path):
    from portal.mkb10.views import SEARCH_LIMIT

    limited = make_app(book.config["DATABASE_URL"], tmp_path, RATELIMIT_ENABLED=True)
    client = limited.test_client()
    allowed = int(SEARCH_LIMIT.split("/")[0])

    def ask(address: str) -> int:
        return client.get("/mkb10/search?field=q&q=J0", headers=HX, environ_base={"REMOTE_ADDR": address}).status_code

    assert {ask("203.0.113.7") for _ in range(allowed)} == {200}
    assert ask("203.0.113.7") == 429
    assert ask("198.51.100.8") == 200  # another address has its own count
    with limited.app_context():
        db.engine.dispose()
