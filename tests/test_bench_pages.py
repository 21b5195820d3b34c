"""The SQL statement budget of every page ``make bench`` measures (bench/pages.py holds the one
table the benchmark reads too). The benchmark times the pages; this test, which CI runs, keeps
what they cost in statements: a page that sends more than its budget fails here."""

from __future__ import annotations

import pytest

from bench.client import FlaskClient, sign_in_demo_patient
from bench.pages import PAGES, count_statements, resolve


@pytest.fixture
def bench_pages(app_factory, demo_factory):
    """The demo data, the demo patient signed in through demo mode as the benchmark signs in,
    and the paths of the benchmark's pages."""
    app = app_factory(DEMO_MODE=True)
    demo_factory(app)
    client = FlaskClient(app.test_client())
    sign_in_demo_patient(client)
    return app, client, resolve(client)


def test_the_benchmark_finds_every_page_by_its_links(bench_pages):
    _app, client, paths = bench_pages
    assert list(paths) == [page.name for page in PAGES]
    card = paths["dashboard"]
    assert all(paths[name].startswith(card + "/") for name in ("results", "entry", "trend", "access_log"))
    for name, path in paths.items():
        answer = client.get(path)
        assert answer.status == 200, (name, path)
        assert "Смирнова" in answer.text or name in ("home", "directory", "inbox"), (name, path)


def test_every_benchmark_page_stays_within_its_sql_budget(bench_pages):
    app, client, paths = bench_pages
    counts = count_statements(app, client, paths)
    over = {p.name: f"{counts[p.name]} > {p.budget}" for p in PAGES if counts[p.name] > p.budget}
    print("SQL statements per page:", counts)
    assert not over, f"pages over their SQL statement budget (bench/pages.py): {over}"
