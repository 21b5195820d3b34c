"""The htmx pattern on a real page: one URL, one template, a full page without JavaScript and
only the results block for htmx; key-based pages; a bounded number of queries."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Flask

from portal.database import db, write_transaction
from portal.demodata.seed import seed_demo
from portal.directory.models import Organisation, organisation_search_text
from portal.testing.web import recorded_statements

HX = {"HX-Request": "true", "HX-Target": "results"}
# An organisation's name in the first cell of a row: a link to its page (marked Russian in English).
ROW_NAME = r'<th scope="row"><a href="/clinics/\d+"(?: lang="ru")?>([^<]+)</a>'


def test_full_page_without_htmx_and_the_results_block_with_it(app, client):
    with app.app_context():
        seed_demo()
    full = client.get("/clinics?q=детская")
    fragment = client.get("/clinics?q=детская", headers=HX)
    assert full.status_code == fragment.status_code == 200
    full_html, part = full.get_data(as_text=True), fragment.get_data(as_text=True)
    assert full_html.startswith("<!doctype html>") and "<form" in full_html
    assert part.lstrip().startswith('<section id="results"') and "<html" not in part and "<form" not in part
    assert "HX-Request" in fragment.headers["Vary"] and "HX-Request" in full.headers["Vary"]
    # The same template renders both: the fragment is exactly the section inside the page.
    section = full_html[full_html.index('<section id="results"') : full_html.index("</section>") + len("</section>")]
    assert part.strip() == section.strip()
    assert "data-announce" in part


def test_history_restore_gets_the_full_page(app, client):
    response = client.get("/clinics", headers={**HX, "HX-History-Restore-Request": "true"})
    assert response.get_data(as_text=True).startswith("<!doctype html>")


def test_search_is_case_insensitive_in_cyrillic_and_filters_by_region(app, client):
    with app.app_context():
        seed_demo()
    client.set_cookie("lang", "ru")
    lower = client.get("/clinics?q=детская").get_data(as_text=True)
    upper = client.get("/clinics?q=ДЕТСКАЯ").get_data(as_text=True)
    names = re.findall(ROW_NAME, lower)
    assert names and names == re.findall(ROW_NAME, upper)
    assert all("етск" in n for n in names)
    kazan = client.get("/clinics?region=16").get_data(as_text=True)
    assert "Республика Татарстан" in kazan and "Новосибирская область</td>" not in kazan


def test_an_impossible_filter_keeps_the_input_and_explains(app, client):
    client.set_cookie("lang", "en")
    response = client.get("/clinics?region=99&q=abc")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Choose a region from the list" in html and 'value="abc"' in html
    assert 'href="#region"' in html


def test_empty_state(app, client):
    client.set_cookie("lang", "en")
    html = client.get("/clinics?q=zzzz-nothing").get_data(as_text=True)
    assert "Nothing found" in html and "All regions" in html


def add_organisations(n: int, start: int = 0) -> None:
    rows = [
        dict(
            oid=f"1.2.643.5.1.13.13.12.2.77.{9000 + i}",
            name=f"Поликлиника № {i:04d}",
            kind="polyclinic",
            region_code="77",
            city="Москва",
            address=f"ул. Тестовая, д. {i}",
            phone="+74950000000",
            search_text=organisation_search_text(f"Поликлиника № {i:04d}", "Москва", f"ул. Тестовая, д. {i}"),
        )
        for i in range(start, start + n)
    ]
    with write_transaction() as session:
        session.execute(sa.insert(Organisation), rows)


def walk_pages(client) -> list[str]:
    seen, url = [], "/clinics?q=тестовая"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += re.findall(ROW_NAME, html)
        match = re.search(r'<a href="(/clinics\?[^"]*after=\d+[^"]*)"', html)
        url = match.group(1).replace("&amp;", "&") if match else None
    return seen


def test_key_based_pages_cover_everything_once_in_order(app, client):
    with app.app_context():
        add_organisations(45)
    names = walk_pages(client)
    assert len(names) == 45 and len(set(names)) == 45
    assert names == sorted(names)
    client.set_cookie("lang", "en")
    second = client.get(f"/clinics?q=тестовая&after={_id_of(app, 'Поликлиника № 0019')}").get_data(as_text=True)
    assert "Organisations 21–40 of 45" in second


def _id_of(app: Flask, name: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Organisation.id).where(Organisation.name == name))


def count_queries(app: Flask, client, url: str) -> int:
    """The statements of building the page (not of serving it from the directory's cache)."""
    from portal import listings

    with app.app_context():
        listings.forget()
    with recorded_statements(app) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_the_directory_makes_the_same_number_of_queries_for_10_and_1000_organisations(app, client):
    with app.app_context():
        add_organisations(10)
    small_first = count_queries(app, client, "/clinics")
    small_next = count_queries(app, client, f"/clinics?after={_id_of(app, 'Поликлиника № 0004')}")
    with app.app_context():
        add_organisations(990, start=10)
    assert count_queries(app, client, "/clinics") == small_first
    assert count_queries(app, client, f"/clinics?after={_id_of(app, 'Поликлиника № 0004')}") == small_next
    assert small_first <= 3 and small_next <= 5
