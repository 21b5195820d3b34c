"""The demo's clinics as a citizen trying bookings would find them: departments, doctors of many
specialties with positions, accessibility, hours, services with prices, four weeks of slots, some
taken by other patients, and one directly bookable specialty with no free slot at all."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal import clock
from portal.appointments.models import Appointment, Slot
from portal.database import db
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Department, OpeningHours, OrganisationService, Practitioner


def test_both_demo_clinics_are_complete(app, demo):
    with app.app_context():
        orgs = demo_organisations()
        for org in orgs.values():
            specialties = set(
                db.session.scalars(
                    sa.select(Practitioner.specialty_code)
                    .join(Slot, Slot.practitioner_id == Practitioner.id)
                    .where(Practitioner.organisation_id == org.id)
                )
            )
            assert len(specialties) >= 7, org.name
            assert {"72", "62", "39", "2", "91"} <= specialties  # терапевт, стоматолог, ЛОР, гинеколог, эндокринолог
            assert all(value is not None for value in org.accessibility.values())
            assert db.session.scalar(sa.select(sa.func.count()).where(Department.organisation_id == org.id)) >= 3
            assert db.session.scalar(sa.select(sa.func.count()).where(OpeningHours.organisation_id == org.id)) >= 6
            prices = list(
                db.session.scalars(
                    sa.select(OrganisationService.price_kopecks).where(OrganisationService.organisation_id == org.id)
                )
            )
            assert None in prices and any(prices)  # free under ОМС and paid ones
            unplaced = sa.select(sa.func.count()).where(
                Practitioner.organisation_id == org.id,
                sa.or_(Practitioner.department_id.is_(None), Practitioner.position.is_(None)),
            )
            assert db.session.scalar(unplaced) == 0
        pediatrics = set(db.session.scalars(sa.select(Practitioner.specialty_code)))
        assert "43" in pediatrics


def test_four_weeks_of_slots_some_booked_and_ent_full(app, demo):
    with app.app_context():
        ids = [o.id for o in demo_organisations().values()]
        last = db.session.scalar(sa.select(sa.func.max(Slot.starts_at)).where(Slot.organisation_id.in_(ids)))
        assert clock.local_date(last) >= clock.today() + timedelta(days=25)
        by_status = dict(
            db.session.execute(
                sa.select(Slot.status, sa.func.count()).where(Slot.organisation_id.in_(ids)).group_by(Slot.status)
            ).all()
        )
        assert by_status["free"] > by_status["booked"] > 100
        # Each booked slot holds exactly one appointment.
        held = sa.select(sa.func.count()).select_from(Appointment).where(Appointment.slot_id.is_not(None))
        assert db.session.scalar(held) == by_status["booked"]
        ent_free = (
            sa.select(sa.func.count())
            .select_from(Slot)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(Practitioner.specialty_code == "39", Slot.status == "free")
        )
        assert db.session.scalar(ent_free) == 0
        kinds = set(db.session.scalars(sa.select(Slot.kind).distinct()))
        assert kinds == {"in_person", "home", "online"}


def test_the_demo_patient_is_booked_on_the_demo_doctors_slot(app, demo):
    with app.app_context():
        appointment = db.session.scalar(
            sa.select(Appointment).where(Appointment.patient_id == demo["patient"].patient_id)
        )
        slot = db.session.get(Slot, appointment.slot_id)
        assert (slot.status, slot.room, appointment.room) == ("booked", "214", "214")
        doctor = db.session.get(Practitioner, slot.practitioner_id)
        assert doctor.account_id == demo["doctor"].id
