"""The rules the database keeps for schedules and bookings, whatever the code above it does: a slot
is generated once, a slot holds one active appointment, a card has one pending attachment
application, and the states and kinds are the known ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.appointments.models import Appointment, ScheduleRule, Slot
from portal.database import db, write_transaction
from portal.directory.models import AttachmentApplication, Organisation, Practitioner
from portal.identifiers import make_snils
from portal.record.models import Patient

START = datetime(2030, 3, 4, 6, 0, tzinfo=UTC)  # 09:00 in Moscow


@pytest.fixture
def world(app):
    """One organisation, one doctor, two patients, one free slot; ids."""
    with app.app_context(), write_transaction():
        org = Organisation(
            oid="1.2.643.5.1.13.13.12.2.77.9999",
            name="Поликлиника № 1",
            kind="polyclinic",
            region_code="77",
            city="Москва",
            address="ул. Ленина, 1",
            phone="+74950000000",
            search_text="поликлиника № 1 москва ул. ленина, 1",
        )
        db.session.add(org)
        db.session.flush()
        doctor = Practitioner(
            surname="Иванов",
            name="Иван",
            patronymic="Иванович",
            specialty="терапевт",
            specialty_code="72",
            registration_number="77-0000001",
            organisation_id=org.id,
        )
        patients = [
            Patient(
                surname="Петрова",
                name="Анна",
                birth_date=date(1980, 1, n),
                sex="F",
                snils=make_snils(f"{300000000 + n:09d}"),
            )
            for n in (1, 2)
        ]
        db.session.add_all([doctor, *patients])
        db.session.flush()
        slot = Slot(
            practitioner_id=doctor.id,
            organisation_id=org.id,
            starts_at=START,
            ends_at=START + timedelta(minutes=15),
            kind="in_person",
            status="free",
        )
        db.session.add(slot)
        db.session.flush()
        return {"org": org.id, "doctor": doctor.id, "patients": [p.id for p in patients], "slot": slot.id}


def add(app, row) -> None:
    with app.app_context(), write_transaction():
        db.session.add(row)


def booking(world, patient: int, status: str = "booked") -> Appointment:
    return Appointment(
        patient_id=world["patients"][patient],
        organisation_id=world["org"],
        practitioner_id=world["doctor"],
        slot_id=world["slot"],
        starts_at=START,
        status=status,
    )


def test_a_slot_is_generated_once(app, world):
    duplicate = Slot(
        practitioner_id=world["doctor"],
        organisation_id=world["org"],
        starts_at=START,
        ends_at=START + timedelta(minutes=20),
        status="free",
    )
    with pytest.raises(IntegrityError):
        add(app, duplicate)


def test_the_database_refuses_a_second_booking_of_a_slot(app, world):
    add(app, booking(world, 0))
    with pytest.raises(IntegrityError):
        add(app, booking(world, 1))
    # A completed or missed visit still holds its slot.
    with pytest.raises(IntegrityError):
        add(app, booking(world, 1, "no_show"))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == 1


def test_a_cancelled_appointment_frees_its_slot_for_the_next_booking(app, world):
    add(app, booking(world, 0, "cancelled_by_patient"))
    add(app, booking(world, 1, "cancelled_by_clinic"))
    add(app, booking(world, 1))
    with app.app_context(), write_transaction():
        rows = list(db.session.scalars(sa.select(Appointment.status).order_by(Appointment.id)))
    assert rows == ["cancelled_by_patient", "cancelled_by_clinic", "booked"]


def test_unknown_states_and_kinds_are_refused(app, world):
    with pytest.raises(IntegrityError):
        add(app, booking(world, 0, "cancelled"))
    with pytest.raises(IntegrityError):
        add(
            app,
            Slot(
                practitioner_id=world["doctor"],
                organisation_id=world["org"],
                starts_at=START + timedelta(hours=1),
                ends_at=START + timedelta(hours=1, minutes=15),
                status="taken",
            ),
        )
    with pytest.raises(IntegrityError):
        add(
            app,
            ScheduleRule(
                practitioner_id=world["doctor"],
                organisation_id=world["org"],
                weekdays="12345",
                start_time=time(14),
                end_time=time(9),
                slot_minutes=15,
                kind="in_person",
                valid_from=date(2030, 1, 1),
            ),
        )


def test_a_card_has_one_pending_attachment_application(app, world, demo):
    def application(status: str = "pending") -> AttachmentApplication:
        return AttachmentApplication(
            patient_id=demo["patient"].patient_id,
            applicant_id=demo["patient"].id,
            to_organisation_id=world["org"],
            reason="Ближе к дому",
            moved=False,
            status=status,
        )

    add(app, application())
    with pytest.raises(IntegrityError):
        add(app, application())
    add(app, application("refused"))  # decided ones do not count
