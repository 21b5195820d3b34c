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


def _fake_result() -> dict:
    """A run's result as bench/run.py writes it, with made-up numbers."""
    load = {
        "req_s": 50.0, "ref_req_s": 500.0, "ratio": 0.1, "ratio_per_round": [0.1, 0.1],
        "p50_ms": 20.0, "p95_ms": 30.0, "p99_ms": 40.0, "ref_p50_ms": 2.0, "non2xx": 0,
    }  # fmt: skip
    return {
        "started": "2026-01-01 00:00 UTC",
        "machine": {"cores": 2, "cpu": "Test CPU", "python": "3.11", "sqlite": "3.40", "gunicorn": "27",
                    "wrk": "wrk 4.1.0", "load_average_at_start": [0.1, 0.2, 0.3]},
        "settings": {"patients": 1000, "rounds": 2, "duration": 3, "concurrency": [1, 4]},
        "reference": {"path": "/patient/21", "bytes_raw": 17822},
        "pages": {
            p.name: {"path": "/x", "sql": p.budget, "bytes_raw": 9000, "bytes_br": 3000, "load": {"1": load, "4": load}}
            for p in PAGES
        },
    }  # fmt: skip


def test_the_table_goes_into_the_doc_between_its_markers_only(tmp_path):
    from bench.run import BEGIN, DOC, END, markdown, write_doc

    assert BEGIN in DOC.read_text() and END in DOC.read_text()  # docs/performance.md keeps its markers
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Before\n\n{BEGIN}\nold table\n{END}\n\n## After\n", encoding="utf-8")
    table = markdown(_fake_result())
    write_doc(table, "run.json", doc)
    write_doc(table, "run.json", doc)  # a second run replaces the first
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Before\n") and text.endswith(f"{END}\n\n## After\n")
    assert "old table" not in text and text.count("| card dashboard | 1 | 50 | 20.0 |") == 1
    assert "2 cores (Test CPU)" in text and "SQLite 3.40" in text and "bench/results/run.json" in text
