"""Every list page outside the record's sections (those have their own tests) costs the same
number of SQL queries with 10 rows as with 1,000: the inbox, the citizen's correction and
certificate requests, and the registrars' queues of corrections, certificates and opt-outs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.certificates.models import CertificateRequest
from portal.consent.models import OptOutRequest
from portal.corrections.models import CorrectionRequest
from portal.database import db, write_transaction
from portal.notify.models import Notification
from portal.record.models import Immunization
from tests.conftest import ON_POSTGRES
from tests.test_htmx import count_queries


def _rows(demo, kind: str, start: int, n: int) -> tuple[type, list[dict]]:
    """``n`` rows of ``kind`` about Smirnova's card, numbered from ``start``."""
    account, patient = demo["patient"].id, demo["patient"].patient_id
    moment = datetime.now(UTC) - timedelta(days=1)
    if kind == "notifications":
        return Notification, [
            {
                "account_id": account,
                "patient_id": patient,
                "event": "request_status",
                "params": json.dumps({"number": str(i), "status": "registered"}),
                "created_at": moment + timedelta(seconds=i),
                "reminded_times": 0,
            }
            for i in range(start, start + n)
        ]
    if kind == "corrections":
        entry = db.session.scalar(sa.select(Immunization.id).where(Immunization.patient_id == patient).limit(1))
        return CorrectionRequest, [
            {
                "number": f"И-T-{i:06d}",
                "patient_id": patient,
                "requested_by_id": account,
                "section": "vaccinations",
                "entry_id": entry,
                "description": "Дата указана неверно",
                "status": "registered",
                "created_at": moment + timedelta(seconds=i),
            }
            for i in range(start, start + n)
        ]
    if kind == "certificates":
        return CertificateRequest, [
            {
                "number": f"С-T-{i:06d}",
                "patient_id": patient,
                "requested_by_id": account,
                "form": "086u",
                "purpose": "Для бассейна",
                "status": "registered",
                "created_at": moment + timedelta(seconds=i),
            }
            for i in range(start, start + n)
        ]
    return OptOutRequest, [
        {
            "number": f"О-T-{i:06d}",
            "patient_id": patient,
            "requested_by_id": account,
            "reason": "Предпочитаю бумажную карту",
            "status": "registered",
            "created_at": moment + timedelta(seconds=i),
        }
        for i in range(start, start + n)
    ]


PAGES = [
    ("patient", "notifications", "/notifications"),
    ("patient", "corrections", "/card/{card}/corrections"),
    ("patient", "certificates", "/card/{card}/certificates"),
    ("registrar", "corrections", "/clinic/corrections"),
    ("registrar", "certificates", "/clinic/certificates"),
    ("registrar", "opt_outs", "/clinic/opt-outs"),
]


@pytest.mark.parametrize("who,kind,path", PAGES, ids=[p[2] for p in PAGES])
def test_the_list_costs_the_same_queries_for_10_and_1000_rows(app, demo, login, who, kind, path):
    url = path.format(card=demo["patient"].patient_id)
    client = login(demo[who])

    def add(start: int, n: int) -> None:
        with app.app_context(), write_transaction():
            model, rows = _rows(demo, kind, start, n)
            db.session.execute(sa.insert(model), rows)

    add(0, 10)
    client.get(url)  # the first request of a session warms what every page loads once
    few = count_queries(app, client, url)
    add(10, 990)
    many = count_queries(app, client, url)
    assert many == few, f"{url}: {few} queries with 10 rows, {many} with 1,000"


@pytest.mark.parametrize("who,kind,path", PAGES, ids=[p[2] for p in PAGES])
def test_the_rows_counted_are_on_the_page(app, demo, login, who, kind, path):
    with app.app_context(), write_transaction():
        model, rows = _rows(demo, kind, 0, 3)
        db.session.execute(sa.insert(model), rows)
    client = login(demo[who])
    client.set_cookie("lang", "en")
    html = client.get(path.format(card=demo["patient"].patient_id)).get_data(as_text=True)
    assert ("Request No. 2:" if kind == "notifications" else "T-000002") in html


@pytest.mark.parametrize("kind,path", [p[1:] for p in PAGES if p[0] == "registrar"], ids=[p[2] for p in PAGES[3:]])
def test_a_long_queue_says_how_many_wait_beyond_the_oldest_shown(app, demo, login, kind, path):
    with app.app_context(), write_transaction():
        model, rows = _rows(demo, kind, 0, 105)
        db.session.execute(sa.insert(model), rows)
    client = login(demo["registrar"])
    client.set_cookie("lang", "en")
    html = client.get(path).get_data(as_text=True)
    waiting = 0 if kind == "certificates" else 1  # the demo's own report and opt-out wait too
    assert f"Shown: the 100 oldest. Open in all: {105 + waiting};" in html
    assert html.count("T-000") == 100 - waiting and "T-000104" not in html


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's plan; PostgreSQL plans a nested join by its keys")
@pytest.mark.parametrize("model_name", ["LabReport", "Visit", "Prescription", "Referral"])
def test_an_entry_is_read_by_its_keys_not_by_scanning_every_doctor(app, demo, model_name):
    """An entry with its doctor and the doctor's clinic (eager joins) is found by primary keys
    alone: the doctor's clinic joined inside the outer join to the doctor made SQLite scan every
    practitioner of the region for each entry page (0.2 ms with the demo's few dozen doctors)."""
    from portal.record import models as m

    model = getattr(m, model_name)
    seen: list = []

    def record(_conn, _cursor, statement, params, *_args) -> None:
        seen.append((statement, params))

    with app.app_context():
        engine = db.engine
        entry_id = db.session.scalar(sa.select(model.id).limit(1))
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            db.session.get(model, entry_id)
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        statement, params = seen[0]
        with engine.connect() as conn:
            plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
    assert "SCAN" not in plan, plan
