"""The demo clinicians' day: the demo doctor (Соколов, clinic A) has today's appointments in
several states, each booked through the care service (so the card opens to him as a booking's
does), the first patient who arrived with a visit protocol he began (a draft), and the demo
nurse (Морозова) has a practitioner record, so her measurements name her.
Built relative to the current date whenever the seed runs: a day without them gets them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import func, select

from portal import clock
from portal.appointments import care
from portal.appointments.models import Appointment
from portal.auth.models import Account
from portal.consent.models import ConsentEvent
from portal.database import db
from portal.demodata.people import PEOPLE, email_of
from portal.directory.models import Practitioner
from portal.protocol.models import VisitProtocol

# (minutes from now, state, kind): the morning's done, a patient waiting now, the afternoon to come
PLAN = (
    (-180, "completed", "in_person"),
    (-120, "no_show", "in_person"),
    (-60, "arrived", "in_person"),
    (-15, "arrived", "in_person"),
    (-5, "booked", "in_person"),
    (60, "booked", "in_person"),
    (120, "booked", "online"),
    (180, "booked", "in_person"),
)
NURSE_SPECIALTY = "медицинская сестра"


def _account(key: str) -> Account | None:
    person = next(p for p in PEOPLE if p.key == key)
    return db.session.scalar(select(Account).where(Account.email == email_of(person)))


def _nurse_practitioner(doctor: Practitioner) -> None:
    """The demo nurse's record, in the demo doctor's department: the nurse who works with him."""
    nurse = _account("nurse")
    if nurse is None or db.session.scalar(select(Practitioner.id).where(Practitioner.account_id == nurse.id)):
        return
    db.session.add(
        Practitioner(
            surname=nurse.surname,
            name=nurse.name,
            patronymic=nurse.patronymic,
            specialty=NURSE_SPECIALTY,
            position="медицинская сестра участковая",
            registration_number=f"77-{int(nurse.snils[:9]) % 10**7:07d}",
            organisation_id=doctor.organisation_id,
            department_id=doctor.department_id,
            account_id=nurse.id,
        )
    )


def _consent_on_paper(patient_ids: list[int], now: datetime) -> None:
    """The patients consented on paper at the desk (the registrar recorded it): a clinician's
    access needs consent."""
    registrar = _account("registrar")
    given = set(db.session.scalars(select(ConsentEvent.patient_id).where(ConsentEvent.patient_id.in_(patient_ids))))
    for patient_id in patient_ids:
        if patient_id not in given and registrar is not None:
            db.session.add(
                ConsentEvent(
                    patient_id=patient_id, account_id=registrar.id, action="given", text_version="v1", created_at=now
                )
            )


def _moment(now: datetime, minutes: int) -> datetime:
    """``now`` shifted, kept inside today (Moscow time) so every appointment is on the day shown."""
    day = clock.local_date(now)
    first, last = clock.day_start(day) + timedelta(minutes=1), clock.day_end(day) - timedelta(minutes=1)
    return min(max(now + timedelta(minutes=minutes), first), last).replace(second=0, microsecond=0)


def seed_clinic_day(now: datetime, patients: list[int]) -> int:
    """Today's appointments of the demo doctor with the last generated patients (the demo people
    keep theirs as the tests count them), once a day; how many were added."""
    doctor_account = _account("doctor")
    doctor = (
        db.session.scalar(select(Practitioner).where(Practitioner.account_id == doctor_account.id))
        if doctor_account
        else None
    )
    if doctor is None or len(patients) < len(PLAN):
        return 0
    _nurse_practitioner(doctor)
    day = clock.local_date(now)
    booked_today = db.session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.practitioner_id == doctor.id,
            Appointment.slot_id.is_(None),
            Appointment.starts_at >= clock.day_start(day),
            Appointment.starts_at < clock.day_start(day + timedelta(days=1)),
        )
    )
    if booked_today:
        return 0
    chosen = patients[-len(PLAN) :]
    _consent_on_paper(chosen, now)
    drafted = False
    for (minutes, status, kind), patient_id in zip(PLAN, chosen, strict=True):
        appointment = Appointment(
            patient_id=patient_id,
            organisation_id=doctor.organisation_id,
            practitioner_id=doctor.id,
            specialty_code=doctor.specialty_code,
            kind=kind,
            starts_at=_moment(now, minutes),
            room=None if kind == "online" else "214",
            status=status,
        )
        db.session.add(appointment)
        db.session.flush()
        care.open_for(appointment, None, "system")
        if status == "arrived" and not drafted:
            _protocol_draft(appointment, doctor_account)
            drafted = True
    return len(PLAN)


def _protocol_draft(appointment: Appointment, doctor: Account) -> None:
    """The protocol the doctor began for the patient who came an hour ago: a draft, not signed."""
    rows = [{"kind": "main", "status": "preliminary", "code": "J06.9",
             "text": "J06.9 Острая инфекция верхних дыхательных путей неуточненная"}]  # fmt: skip
    db.session.add(
        VisitProtocol(
            appointment_id=appointment.id,
            patient_id=appointment.patient_id,
            author_id=doctor.id,
            version=1,
            complaints="Насморк, першение в горле, температура до 37,6 °C второй день.",
            history="Заболел(а) остро два дня назад, контакт с больным ОРВИ в семье.",
            examination="Зев умеренно гиперемирован, миндалины не увеличены. Дыхание везикулярное, хрипов нет.",
            diagnoses=json.dumps(rows, ensure_ascii=False),
            conclusion="",
            recommendations="",
        )
    )
