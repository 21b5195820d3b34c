"""No double booking, by the database: 30 citizens signed in to a live gunicorn server confirm the
same slot at the same moment. Exactly one gets the ticket; the 29 others see that the time was
taken and the nearest free times; one appointment row holds the slot; the audit chain verifies.
Twenty runs in a row on one server, a new slot each run. SQLite and PostgreSQL (PORTAL_TEST_DB)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.client import HttpClient
from portal import clock
from portal.appointments.models import Appointment, Slot
from portal.database import db, write_transaction
from portal.directory.models import Practitioner
from tests.conftest import TEST_SECRET, audit_log_verifies

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 30
RUNS = 20
DENTIST = "62"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _citizens(app, count: int) -> list[tuple[int, int, str]]:
    """``count`` verified citizens with a card, consent given, each with a signed-in session:
    (account id, patient id, session token)."""
    from portal.auth import service
    from portal.auth.models import Account
    from portal.consent.models import ConsentEvent
    from portal.identifiers import make_snils
    from portal.record.models import Patient

    made = []
    moment = clock.now()
    with app.app_context(), write_transaction():
        for n in range(count):
            snils = make_snils(f"0090{n:05d}")
            patient = Patient(surname="Гонкина", name=f"Анна{n}", patronymic="Петровна", sex="F",
                              birth_date=clock.today() - timedelta(days=30 * 365), snils=snils)  # fmt: skip
            db.session.add(patient)
            db.session.flush()
            account = Account(
                email=f"race{n}@example.test", email_confirmed_at=moment, phone=f"+7901000{n:04d}",
                phone_confirmed_at=moment, password_hash="x", surname="Гонкина", name=f"Анна{n}",
                patronymic="Петровна", birth_date=patient.birth_date, sex="F", snils=snils, patient_id=patient.id,
                verification_status="verified", is_active=True, second_factor="sms", failed_passwords=0,
                failed_codes=0,
            )  # fmt: skip
            db.session.add(account)
            db.session.flush()
            db.session.add(ConsentEvent(patient_id=patient.id, account_id=account.id, action="given",
                                        text_version="v1", ip="127.0.0.1", created_at=moment))  # fmt: skip
            token, _row = service.start_session(account, "complete", "127.0.0.1", "race")
            made.append((account.id, patient.id, token))
    return made


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(app, demo, database_url, tmp_path):
    """gunicorn (2 workers × 16 threads) on this test's database."""
    port = _free_port()
    config = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "RATELIMIT_ENABLED": False,
        # Each citizen may win several runs: the per-specialty limit is not what is tested here.
        "APPOINTMENTS_PER_SPECIALTY": 1000,
        "SQLITE_BUSY_TIMEOUT_MS": 30000,
    }
    env = {**os.environ, "RACE_APP_CONFIG": json.dumps(config), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(  # noqa: S603 - our venv's gunicorn
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--worker-class", "gthread", "--threads", "16", "--keep-alive", "60", "--log-level", "warning",
         "tests.race_app:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=20)


def _signed_in(app, url: str, token: str, patient_id: int) -> tuple[HttpClient, str]:
    """A client carrying the session cookie, and the CSRF token its first page gave it."""
    client = HttpClient(url)
    client.cookies[app.config["SESSION_COOKIE_NAME"]] = app.session_interface.get_signing_serializer(app).dumps(
        {"sid": token}
    )
    page = client.get(f"/card/{patient_id}/appointments")
    assert page.status == 200, page.status
    return client, CSRF_META.search(page.text).group(1)


def _slots(app, count: int) -> list[int]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(Slot.id)
                .join(Practitioner, Practitioner.id == Slot.practitioner_id)
                .where(Practitioner.specialty_code == DENTIST, Slot.status == "free", Slot.starts_at > clock.now())
                .order_by(Slot.starts_at, Slot.id)
                .limit(count)
            )
        )


def test_thirty_simultaneous_bookings_of_one_slot_one_wins_twenty_runs(app, demo, server):
    citizens = _citizens(app, CLIENTS)
    clients = [(_signed_in(app, server, token, patient), patient) for _account, patient, token in citizens]
    slots = _slots(app, RUNS)
    assert len(slots) == RUNS
    for run, slot_id in enumerate(slots):
        barrier = threading.Barrier(CLIENTS)
        answers: list = [None] * CLIENTS

        def fire(i: int, slot_id: int = slot_id, barrier: threading.Barrier = barrier, answers: list = answers) -> None:
            (client, csrf), patient = clients[i]
            client.conn.close()  # a fresh connection: the server may have closed an idle keep-alive one
            barrier.wait()
            answers[i] = client.post(
                f"/card/{patient}/appointments/book/confirm", {"csrf_token": csrf, "slot": str(slot_id)}
            )

        threads = [threading.Thread(target=fire, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert None not in answers, f"run {run}: a request failed"
        statuses = sorted(a.status for a in answers)
        assert statuses == [303] + [409] * (CLIENTS - 1), f"run {run}: {statuses}"
        for answer in answers:
            if answer.status == 409:
                assert "book/confirm?slot=" in answer.text, f"run {run}: no alternatives offered"
        with app.app_context():
            rows = db.session.scalar(sa.select(sa.func.count()).where(Appointment.slot_id == slot_id))
            assert rows == 1, f"run {run}: {rows} appointments on the slot"
    with app.app_context():
        assert audit_log_verifies()
