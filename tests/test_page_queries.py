"""What a card page reads: who is asking, once. (The SQL statement budget of each page is in
bench/pages.py, the one table the benchmark reads too, kept by tests/test_bench_pages.py.)"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.database import db
from tests.test_htmx import recorded_statements

# The card pages of the benchmark, by the demo data's ids; the second request of each is recorded
# (the first also opens the connection).
CARD_PAGES = [
    "/card/{card}",
    "/card/{card}/results",
    "/card/{card}/results/{report}",
    "/card/{card}/results/trend/{code}",
    "/card/{card}/access-log",
]


@pytest.fixture
def pages(app, demo, login):
    from portal.record.models import LabReport, Observation

    card = demo["patient"].patient_id
    with app.app_context():
        report = db.session.scalar(
            sa.select(LabReport.id).where(LabReport.patient_id == card).order_by(LabReport.taken_at.desc()).limit(1)
        )
        code = db.session.scalar(
            sa.select(Observation.loinc).where(Observation.report_id == report, Observation.value.is_not(None)).limit(1)
        )
    client = login(demo["patient"])

    def statements_of(path: str) -> list[str]:
        url = path.format(card=card, report=report, code=code)
        assert client.get(url).status_code == 200
        with recorded_statements(app) as statements:
            assert client.get(url).status_code == 200
        return statements

    return statements_of


def _reads(statements: list[str], table: str) -> int:
    """How many SELECTs read ``table`` (in FROM or a JOIN)."""
    pattern = re.compile(rf"\b(FROM|JOIN) {table}\b")
    return sum(1 for s in statements if s.lstrip().startswith("SELECT") and pattern.search(s))


@pytest.mark.parametrize("path", CARD_PAGES)
def test_a_card_page_reads_the_session_account_consent_and_card_once(pages, path):
    """The session row with its account and roles is one query, consent another, the card's
    patient a third; the card's write transaction (the audit event) does not read them again."""
    statements = pages(path)
    assert _reads(statements, "server_session") == 1
    # The account as the signed-in person (all its columns; a page may join others' names in).
    assert sum("account.password_hash" in s for s in statements) == 1
    assert _reads(statements, "staff_membership") == 1  # in the same query as the session
    assert _reads(statements, "consent_event") == 1
    assert _reads(statements, "patient") == 1


def test_the_dashboard_writes_its_section_reads_in_one_insert(pages):
    """The card's opening and the section cards' reads (one event per section, as
    tests/test_page_sections.py checks) go into the log together, in one INSERT of several rows,
    when the page's reads are done (audit.audited_read)."""
    statements = pages("/card/{card}")
    assert sum(s.lstrip().startswith("INSERT INTO audit_event") for s in statements) == 1
