"""The waiting list, home visit and desk pages cost the same number of SQL statements with 10 rows
as with many (other people in line, calls, the day's appointments); and a slot newly made by
``flask generate-slots`` is offered to the waiting list at once."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.appointments.models import (
    Appointment,
    HomeVisitRequest,
    ScheduleRule,
    Slot,
    WaitingListEntry,
    WaitingListOffer,
)
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Practitioner
from tests.conftest import csrf_token
from tests.test_htmx import count_queries

ENT = "39"


def _rows(demo, kind: str, start: int, n: int) -> tuple[type, list[dict]]:
    account, patient = demo["patient"].id, demo["patient"].patient_id
    other = demo["guardian"].patient_id
    moment = datetime.now(UTC) - timedelta(days=1)
    org = demo_organisations()["A"].id
    if kind == "waitlist":  # other people in the ENT line before Smirnova
        return WaitingListEntry, [
            {
                "patient_id": other,
                "specialty_code": ENT,
                "channels": "portal",
                "status": "waiting",
                "created_by_id": demo["guardian"].id,
                "created_at": moment - timedelta(days=1, seconds=i),
            }
            for i in range(start, start + n)
        ]
    if kind == "calls":
        return HomeVisitRequest, [
            {
                "patient_id": patient,
                "organisation_id": org,
                "requested_by_id": account,
                "address": "ул. Ленина, д. 5",
                "symptoms": "Кашель",
                "phone": "+79123456789",
                "status": "new",
                "created_at": moment + timedelta(seconds=i),
            }
            for i in range(start, start + n)
        ]
    doctor = db.session.scalar(sa.select(Practitioner.id).where(Practitioner.organisation_id == org).limit(1))
    noon = clock.day_start(clock.today()) + timedelta(hours=12)
    return Appointment, [
        {
            "patient_id": patient,
            "organisation_id": org,
            "practitioner_id": doctor,
            "starts_at": noon + timedelta(seconds=i),
            "status": "booked",
            "kind": "in_person",
        }
        for i in range(start, start + n)
    ]


PAGES = [
    ("patient", "waitlist", "/card/{card}/appointments/waitlist"),
    ("patient", "calls", "/card/{card}/home-visits"),
    ("registrar", "calls", "/clinic/home-visits"),
    ("registrar", "day", "/clinic/appointments"),
]


@pytest.mark.parametrize("who,kind,path", PAGES, ids=[p[2] for p in PAGES])
def test_the_page_costs_the_same_statements_for_10_and_300_rows(app, demo, login, who, kind, path):
    url = path.format(card=demo["patient"].patient_id)
    client = login(demo[who])
    if kind == "waitlist":  # Smirnova waits too, behind everyone added
        token = csrf_token(client, url)
        data = {"csrf_token": token, "specialty": ENT, "doctor": "", "part": ""}
        assert client.post(url, data=data).status_code == 303

    def add(start: int, n: int) -> None:
        with app.app_context(), write_transaction():
            model, rows = _rows(demo, kind, start, n)
            db.session.execute(sa.insert(model), rows)

    add(0, 10)
    client.get(url)
    few = count_queries(app, client, url)
    add(10, 290)
    many = count_queries(app, client, url)
    assert many == few, f"{url}: {few} statements with 10 rows, {many} with 300"
    if kind == "waitlist":
        assert "Место в очереди: 301" in client.get(url).get_data(as_text=True)


def test_a_newly_generated_slot_is_offered_to_the_waiting_list(app, demo, login):
    pid = demo["patient"].patient_id
    client = login(demo["patient"])
    url = f"/card/{pid}/appointments/waitlist"
    assert (
        client.post(
            url, data={"csrf_token": csrf_token(client, url), "specialty": ENT, "doctor": "", "part": ""}
        ).status_code
        == 303
    )
    with app.app_context(), write_transaction():
        doctor = db.session.scalar(sa.select(Practitioner).where(Practitioner.specialty_code == ENT).limit(1))
        # an evening hour nobody works yet, every day of the horizon
        db.session.add(
            ScheduleRule(
                practitioner_id=doctor.id,
                organisation_id=doctor.organisation_id,
                weekdays="1234567",
                start_time=time(21, 0),
                end_time=time(21, 30),
                slot_minutes=30,
                room="101",
                kind="in_person",
                valid_from=clock.today(),
            )
        )
    result = app.test_cli_runner().invoke(args=["generate-slots"])
    assert result.exit_code == 0 and "waiting list: 1 offered" in result.output
    with app.app_context():
        [offer] = db.session.scalars(sa.select(WaitingListOffer)).all()
        slot = db.session.get(Slot, offer.slot_id)
        assert slot.status == "held" and clock.local_date(slot.starts_at) >= clock.today()
        assert slot.starts_at.replace(tzinfo=UTC).astimezone(clock.zone()).hour == 21
    again = app.test_cli_runner().invoke(args=["generate-slots"])
    assert "slots: 0 added" in again.output and "waiting list: 0 offered" in again.output
