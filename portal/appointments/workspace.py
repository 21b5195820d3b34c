"""The clinicians' workspace: the doctor's day (their appointments of a day, to mark arrived,
completed or no-show, with the way into each card) and the nurse's list (the clinic's in-person
appointments of today) with the measurements form of a patient who arrived.

Marks go through ``reminders.mark`` (hence ``states.transition``: checked and audited) under the
doctor's decision (``policy.decide_own_appointment``). Measurements go through the record's intake
(``intake.write_measurements``) under the nurse's (``policy.decide_measurement``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from portal import clock
from portal.access import policy
from portal.appointments import reminders
from portal.appointments.models import Appointment, Slot
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.directory.models import Organisation, Practitioner
from portal.record import catalog, intake
from portal.record.models import Patient
from portal.record.service import age_on

LIST_LIMIT = 200


@dataclass(frozen=True)
class Row:
    appointment: Appointment
    patient: Patient
    doctor: Practitioner | None
    organisation: str
    age: int
    marks: tuple[str, ...]
    card_open: bool


def own_practitioner(account: Account) -> int | None:
    return db.session.scalar(select(Practitioner.id).where(Practitioner.account_id == account.id))


def _day_query(day: date):
    return (
        select(Appointment, Patient, Practitioner, Slot.ends_at, Organisation.name)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Organisation, Organisation.id == Appointment.organisation_id)
        .outerjoin(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .outerjoin(Slot, Slot.id == Appointment.slot_id)
        .where(
            Appointment.starts_at >= clock.day_start(day),
            Appointment.starts_at < clock.day_start(day + timedelta(days=1)),
        )
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(LIST_LIMIT)
    )


def _rows(account: Account, found, day: date, with_marks: bool) -> list[Row]:
    moment = clock.now()
    opened = policy.care_opened(account, sorted({row[1].id for row in found}))
    return [
        Row(
            appointment,
            patient,
            doctor,
            organisation,
            age_on(patient.birth_date, day),
            reminders.allowed_marks(appointment, ends, moment) if with_marks else (),
            patient.id in opened,
        )
        for appointment, patient, doctor, ends, organisation in found
    ]


def doctor_day(account: Account, day: date) -> list[Row]:
    """The doctor's own appointments of ``day`` in the organisations where they work as a doctor,
    by time, with what may be marked now and whether the card opens. Three statements."""
    practitioner_id = own_practitioner(account)
    organisations = sorted(policy.clinical_organisations(account, "doctor"))
    if practitioner_id is None or not organisations:
        return []
    query = _day_query(day).where(
        Appointment.practitioner_id == practitioner_id, Appointment.organisation_id.in_(organisations)
    )
    return _rows(account, list(db.session.execute(query)), day, with_marks=True)


NURSE_STATUSES = ("booked", "arrived")


def nurse_list(account: Account) -> list[Row]:
    """Today's in-person appointments, booked or arrived, of the organisations where the account
    works as a nurse, by time."""
    organisations = sorted(policy.clinical_organisations(account, "nurse"))
    if not organisations:
        return []
    query = _day_query(clock.today()).where(
        Appointment.organisation_id.in_(organisations),
        Appointment.kind == "in_person",
        Appointment.status.in_(NURSE_STATUSES),
    )
    return _rows(account, list(db.session.execute(query)), clock.today(), with_marks=False)


def mark(account: Account, appointment_id: int, status: str) -> Appointment:
    """The doctor marks their appointment: LookupError (404) for anyone else's."""
    practitioner_id = own_practitioner(account)

    def decide(who, appointment):
        return policy.decide_own_appointment(who, appointment, practitioner_id)

    return reminders.mark(account, appointment_id, status, decide)


def measured_appointment(account: Account, appointment_id: int) -> tuple[Appointment, Patient, policy.Decision]:
    """The arrived appointment a nurse measures at, its patient and the decision; LookupError (404)
    when the policy refuses (another clinic's, not arrived today, no consent)."""
    appointment = db.session.get(Appointment, appointment_id)
    patient = db.session.get(Patient, appointment.patient_id) if appointment is not None else None
    decision = policy.decide_measurement(account, appointment, patient)
    if not decision.allowed:
        raise LookupError(appointment_id)
    return appointment, patient, decision


def save_measurements(account: Account, appointment_id: int, values: dict[str, float]) -> int:
    """Write ``values`` (LOINC code: value in the catalog's UCUM unit) into the card of the
    appointment's patient, flagged against the catalog's ranges; the report's id."""
    with write_transaction():
        appointment, patient, decision = measured_appointment(account, appointment_id)
        measured = []
        for code in catalog.VITALS:
            if code in values:
                test = catalog.TESTS[code]
                low, high = test.range_for(patient.sex)
                measured.append(intake.Measured(code, values[code], test.unit, low, high))
        moment: datetime = clock.now().replace(microsecond=0)
        report = intake.write_measurements(account, decision, patient.id, moment, measured)
        return report.id
