"""Three plugins at once keep the dashboard's promises: each plugin's card is on it, and it sends
as many SQL statements for a card of a few entries as for one of hundreds (the third plugin's
card reads the card through the facade, audited like the core's own cards)."""

from __future__ import annotations

from datetime import date

import pytest

from tests import record_data
from tests.conftest import session_for
from tests.test_htmx import recorded_statements

THREE = ["tests.fixture_plugins.everything", "tests.fixture_plugins.latest_results"]  # and hotline


@pytest.fixture
def three(app_factory, demo):  # demo: the organisations and practitioners fill() writes with
    return app_factory(PLUGINS=["hotline"], TESTING_PLUGINS=THREE)


def _dashboard(app, account_id: int) -> tuple[str, list[str]]:
    client = app.test_client()
    session_for(app, client, account_id)
    assert client.get("/").status_code == 200  # the first request opens the connection
    with recorded_statements(app) as statements:
        response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True), statements


def test_three_plugins_cards_cost_the_same_statements_whatever_the_size_of_the_card(three, demo):
    app, account_id = three, demo["patient"].id
    small_page, small = _dashboard(app, account_id)
    with app.app_context():
        [org] = record_data.organisations(1)
        doctor = record_data.practitioner(org)
        record_data.fill(demo["patient"].patient_id, 300, org, doctor, start=date(2025, 1, 1))
    big_page, big = _dashboard(app, account_id)

    for page in (small_page, big_page):
        assert 'id="card-hotline"' in page  # hotline
        assert 'id="card-everything"' in page  # everything
        assert 'id="card-latest-results"' in page and page.count("<li>") >= 3  # latest_results
    assert len(big) == len(small), "\n".join(big)
    print(f"\nthe dashboard with three plugins' cards: {len(small)} SQL statements")
