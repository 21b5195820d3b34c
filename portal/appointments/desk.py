"""The registrar's desk: find a patient, and book, cancel or move their appointments in the
registrar's own organisation, on the patient's behalf.

``policy.decide_desk`` decides who (a registrar, a patient within the organisation's scope, never
their own or their family's card). Here are the rules: only the organisation's own free future
slots; a specialty not booked directly needs a valid referral on the card (the first one is used
and marked used); one future appointment per specialty as for the citizen; cancelling and moving
only what is booked and still ahead (no cut-off at the desk: the clinic itself decides). Each change
goes through ``states.transition`` or the booking's insert, audited with the registrar as the
actor, and the patient (or a child's guardians) told in the inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal import clock, events
from portal.access import policy
from portal.appointments import booking, care, states
from portal.appointments.models import ACTIVE_STATUSES, Appointment, Slot
from portal.audit import service as audit
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.directory.models import Practitioner
from portal.identifiers import snils_digits
from portal.record.models import Patient
from portal.sharing.models import Guardianship

SECTION = policy.APPOINTMENTS
SEARCH_LIMIT = 20
SLOT_LIMIT = 60


class DeskRefused(Exception):
    """Nothing changed; ``reason`` is a key of the desk's messages."""

    def __init__(self, reason: str, alternatives: list | None = None):
        super().__init__(reason)
        self.reason = reason
        self.alternatives = alternatives or []


# -- finding the patient -------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    id: int
    surname: str
    name: str
    patronymic: str | None
    birth_date: date
    snils: str | None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


def search(account: Account, query: str) -> list[Found]:
    """Patients in the registrar's scope whose SNILS is the query (11 digits) or whose surname
    begins with it (optionally followed by the name). One statement; at most SEARCH_LIMIT."""
    query = " ".join(query.split())
    if not query:
        return []
    conditions = [policy.desk_scope(account, Patient.id), Patient.closed_at.is_(None)]
    if any(c.isdigit() for c in query):
        digits = snils_digits(query)
        if digits is None:
            return []
        conditions.append(Patient.snils == digits)
    else:
        words = query.split(" ")
        conditions.append(_starts(Patient.surname, words[0]))
        if len(words) > 1:
            conditions.append(_starts(Patient.name, words[1]))
    rows = db.session.execute(
        select(Patient.id, Patient.surname, Patient.name, Patient.patronymic, Patient.birth_date, Patient.snils)
        .where(*conditions)
        .order_by(Patient.surname, Patient.name, Patient.id)
        .limit(SEARCH_LIMIT)
    )
    return [Found(*row) for row in rows]


def _starts(column, word: str):
    """The column begins with the word as typed or capitalised («смирнова» finds «Смирнова»):
    SQLite's lower() knows no Cyrillic, so the comparison is not folded in SQL."""
    forms = sorted({word, word[:1].upper() + word[1:].lower()})
    return or_(*(column.like(f"{_escape(form)}%", escape="\\") for form in forms))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- the patient at the desk ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeskAppointment:
    id: int
    number: str | None
    starts_at: datetime
    status: str
    specialty_code: str | None
    doctor: str
    room: str | None

    @property
    def changeable(self) -> bool:
        return self.status == "booked" and self.starts_at > clock.now()


@dataclass
class DeskPatient:
    patient: Patient
    decision: policy.Decision
    appointments: list[DeskAppointment]


def open_patient(account: Account, patient_id: int) -> DeskPatient:
    """The patient and their appointments in the registrar's organisations (one statement),
    the look audited."""
    with write_transaction():
        decision, patient = policy.require_desk(account, patient_id)
        policy.record_access(account, decision, "read", patient_id, SECTION, reason="at the desk")
    organisations = sorted(policy.registrar_organisations(account))
    rows = db.session.execute(
        select(
            Appointment.id,
            Appointment.number,
            Appointment.starts_at,
            Appointment.status,
            Appointment.specialty_code,
            Practitioner.surname,
            Practitioner.name,
            Practitioner.patronymic,
            Appointment.room,
        )
        .outerjoin(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .where(Appointment.patient_id == patient_id, Appointment.organisation_id.in_(organisations))
        .order_by(Appointment.starts_at.desc(), Appointment.id.desc())
        .limit(booking.LIST_LIMIT)
    )
    found = [
        DeskAppointment(
            r.id,
            r.number,
            booking._aware(r.starts_at),
            r.status,
            r.specialty_code,
            " ".join(p for p in (r.surname, r.name, r.patronymic) if p),
            r.room,
        )  # fmt: skip
        for r in rows
    ]
    return DeskPatient(patient, decision, found)


def specialties(account: Account) -> list[str]:
    """The specialty codes of the registrar's organisations' doctors (one statement)."""
    organisations = sorted(policy.registrar_organisations(account))
    return list(
        db.session.scalars(
            select(Practitioner.specialty_code)
            .where(Practitioner.organisation_id.in_(organisations), Practitioner.specialty_code.is_not(None))
            .distinct()
            .order_by(Practitioner.specialty_code)
        )
    )


def free_slots(account: Account, specialty: str, day: date) -> list[booking.SlotChoice]:
    """The organisation's free slots of a specialty from ``day`` on (a week), soonest first."""
    organisations = sorted(policy.registrar_organisations(account))
    start = max(clock.now(), clock.day_start(day))
    query = (
        booking._slot_query()
        .where(
            Practitioner.specialty_code == specialty,
            Slot.organisation_id.in_(organisations),
            Slot.status == "free",
            Slot.starts_at > start,
            Slot.starts_at < clock.day_start(day + timedelta(days=7)),
        )
        .order_by(Slot.starts_at, Practitioner.surname, Slot.id)
        .limit(SLOT_LIMIT)
    )
    return [booking._slot_choice(row) for row in db.session.execute(query)]


# -- changes -------------------------------------------------------------------------------------


def _tell(patient_id: int, kind: str, appointment: Appointment, reason: str | None = None) -> None:
    """The patient's account, or (a child's card) the guardians', told in the inbox."""
    from portal.notify import inbox

    accounts = list(db.session.scalars(select(Account.id).where(Account.patient_id == patient_id)))
    if not accounts:
        accounts = list(
            db.session.scalars(
                select(Guardianship.guardian_id).where(
                    Guardianship.child_id == patient_id, Guardianship.ended_at.is_(None)
                )
            )
        )
    doctor = db.session.get(Practitioner, appointment.practitioner_id) if appointment.practitioner_id else None
    params = {
        "kind": kind,
        "at": booking._aware(appointment.starts_at).isoformat(),
        "doctor": doctor.full_name if doctor else "",
        "number": appointment.number or "",
        "reason": reason or "",
    }
    for account_id in accounts:
        inbox.post(
            account_id,
            "appointment_changed",
            patient_id=patient_id,
            params=params,
            url=f"/card/{patient_id}/appointments/{appointment.id}",
        )


def _own_slot(account: Account, slot_id: int) -> Slot:
    slot = db.session.get(Slot, slot_id)
    if slot is None or slot.organisation_id not in policy.registrar_organisations(account):
        raise LookupError(slot_id)  # another organisation's slot: 404, as if it did not exist
    return slot


def _own_appointment(account: Account, patient_id: int, appointment_id: int) -> Appointment:
    found = db.session.get(Appointment, appointment_id)
    if (
        found is None
        or found.patient_id != patient_id
        or found.organisation_id not in policy.registrar_organisations(account)
    ):
        raise LookupError(appointment_id)
    return found


def _insert(account: Account, decision, patient_id: int, slot: Slot, old: Appointment | None) -> Appointment:
    doctor = db.session.get(Practitioner, slot.practitioner_id)
    specialty = doctor.specialty_code

    def refuse(reason: str):
        raise DeskRefused(reason, booking.nearest(specialty, slot.organisation_id, slot.id))

    if booking._aware(slot.starts_at) <= clock.now():
        refuse("past")
    if slot.status != "free":
        refuse("taken")
    referral = None
    if old is not None:
        if old.specialty_code and old.specialty_code != specialty:
            raise DeskRefused("other_specialty")
    else:
        if specialty not in booking.direct_specialties():
            usable = [r for r in booking.usable_referrals(patient_id) if r.specialty_code == specialty]
            if not usable:
                raise DeskRefused("referral_needed")
            from portal.record.models import Referral

            referral = db.session.get(Referral, usable[0].id)
        future = db.session.scalar(
            select(func.count(Appointment.id)).where(
                Appointment.patient_id == patient_id,
                Appointment.specialty_code == specialty,
                Appointment.status == "booked",
                Appointment.starts_at > clock.now(),
            )
        )
        if future >= booking.per_specialty():
            raise DeskRefused("one_per_specialty")
    moment = clock.now()
    if old is not None:
        states.transition(
            old, "cancelled_by_patient", actor_id=account.id, actor_role="registrar",
            reason="Перенесено в регистратуре",
        )  # fmt: skip
    appointment = Appointment(
        patient_id=patient_id,
        organisation_id=slot.organisation_id,
        practitioner_id=slot.practitioner_id,
        slot_id=slot.id,
        specialty_code=specialty,
        kind=slot.kind,
        starts_at=slot.starts_at,
        room=slot.room,
        status="booked",
        referral_id=(referral.id if referral else old.referral_id if old else None),
        booked_by_id=account.id,
        created_at=moment,
    )
    db.session.add(appointment)
    db.session.flush()  # the partial unique index decides: IntegrityError when taken meanwhile
    appointment.number = f"Т-{moment.year}-{appointment.id:06d}"
    db.session.execute(update(Slot).where(Slot.id == slot.id).values(status="booked", held_until=None))
    if referral is not None:
        referral.status = "used"
    care.open_for(appointment, account.id, "registrar")
    audit.record(
        "appointment.rescheduled" if old is not None else "appointment.booked",
        actor_id=account.id,
        actor_role="registrar",
        patient_id=patient_id,
        section=SECTION,
        organisation_id=slot.organisation_id,
        object_type="appointment",
        object_id=appointment.id,
        reason=f"at the desk, from appointment {old.id}" if old is not None else "at the desk",
    )
    events.publish(events.AppointmentBooked.of(appointment, moved_from=old.id if old is not None else None))
    _tell(patient_id, "moved" if old is not None else "booked", appointment)
    return appointment


def _guarded(account: Account, patient_id: int, slot_id: int, change):
    try:
        with write_transaction():
            decision, _patient = policy.require_desk(account, patient_id)
            return change(decision)
    except IntegrityError:
        with write_transaction():
            slot = db.session.get(Slot, slot_id)
            doctor = db.session.get(Practitioner, slot.practitioner_id) if slot else None
            alternatives = booking.nearest(doctor.specialty_code if doctor else None, slot.organisation_id, slot_id)
        raise DeskRefused("taken", alternatives) from None


def book(account: Account, patient_id: int, slot_id: int) -> Appointment:
    """Book the organisation's slot for the patient. DeskRefused (nothing changed) or LookupError
    (another organisation's slot: 404)."""

    def change(decision):
        slot = _own_slot(account, slot_id)
        same = db.session.scalar(
            select(Appointment).where(
                Appointment.slot_id == slot.id,
                Appointment.patient_id == patient_id,
                Appointment.status.in_(ACTIVE_STATUSES),
            )
        )
        if same is not None:  # the form sent twice
            return same
        return _insert(account, decision, patient_id, slot, None)

    return _guarded(account, patient_id, slot_id, change)


def move(account: Account, patient_id: int, appointment_id: int, slot_id: int) -> Appointment:
    """Move the patient's booked appointment onto another free slot of the same specialty."""

    def change(decision):
        old = _own_appointment(account, patient_id, appointment_id)
        slot = _own_slot(account, slot_id)
        if old.status != "booked" or booking._aware(old.starts_at) <= clock.now():
            raise DeskRefused("not_booked")
        return _insert(account, decision, patient_id, slot, old)

    return _guarded(account, patient_id, slot_id, change)


def cancel(account: Account, patient_id: int, appointment_id: int, reason: str | None) -> Appointment:
    """Cancel at the patient's request: the slot is free at once, the patient told."""
    with write_transaction():
        policy.require_desk(account, patient_id)
        appointment = _own_appointment(account, patient_id, appointment_id)
        if appointment.status != "booked" or booking._aware(appointment.starts_at) <= clock.now():
            raise DeskRefused("not_booked")
        states.transition(
            appointment, "cancelled_by_patient", actor_id=account.id, actor_role="registrar",
            reason=reason or "Отменено в регистратуре по просьбе пациента",
        )  # fmt: skip
        _tell(patient_id, "cancelled", appointment, reason)
        return appointment


def appointment_of(account: Account, patient_id: int, appointment_id: int) -> Appointment:
    """One of the patient's appointments in the registrar's organisation (LookupError otherwise)."""
    return _own_appointment(account, patient_id, appointment_id)
