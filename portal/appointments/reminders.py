"""Appointment reminders and attendance.

``run`` (``flask send-appointment-reminders``, every few minutes) reminds the citizen of a booked
appointment the day before (within 24 hours of it) and two hours before, by the channels they
chose for «Reminders of appointments», with a link to the cancel confirmation page (which asks
before it cancels: a link in a message never cancels by itself). The sent reminder is a row of
``appointment_reminder``, UNIQUE per appointment and kind, written before the message in the same
transaction: running the job twice, or two workers at once, never sends one kind twice.

After the slot ends the clinic's registrar marks what happened (arrived, completed, no-show);
the patient's past appointments show it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flask import current_app, has_request_context, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.access import policy
from portal.appointments.models import Appointment, AppointmentReminder, Slot
from portal.audit import service as audit
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.directory.models import Organisation, Practitioner
from portal.directory.specialties import by_code
from portal.notify import inbox
from portal.record.models import Patient

KINDS = {"day_before": timedelta(hours=24), "two_hours": timedelta(hours=2)}
MARKS = ("arrived", "completed", "no_show")
LIST_LIMIT = 200


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cancel_path(patient_id: int, appointment_id: int) -> str:
    if has_request_context():
        return url_for("appointments.cancel", patient_id=patient_id, appointment_id=appointment_id)
    with current_app.test_request_context():
        return url_for("appointments.cancel", patient_id=patient_id, appointment_id=appointment_id)


def _kind_due(starts_at: datetime, moment: datetime) -> str | None:
    """The reminder due now: two hours before wins over the day before (one message, not two)."""
    left = starts_at - moment
    if left <= timedelta():
        return None
    if left <= KINDS["two_hours"]:
        return "two_hours"
    if left <= KINDS["day_before"]:
        return "day_before"
    return None


def _readers(patient_id: int, booked_by_id: int | None) -> list[int]:
    """Whom to remind: the patient's own account and whoever booked (a guardian, a trusted person)."""
    own = db.session.scalars(
        select(Account.id).where(Account.patient_id == patient_id, Account.is_active.is_(True))
    ).all()
    found = list(own)
    if booked_by_id is not None and booked_by_id not in found:
        found.append(booked_by_id)
    return found


def run(moment: datetime | None = None) -> int:
    """Send the reminders that are due; return how many appointments were reminded."""
    moment = moment or clock.now()
    sent = 0
    with write_transaction():
        rows = list(
            db.session.execute(
                select(Appointment, Practitioner, Patient)
                .outerjoin(Practitioner, Practitioner.id == Appointment.practitioner_id)
                .join(Patient, Patient.id == Appointment.patient_id)
                .where(
                    Appointment.status == "booked",
                    Appointment.starts_at > moment,
                    Appointment.starts_at <= moment + KINDS["day_before"],
                    Patient.closed_at.is_(None),
                )
                .order_by(Appointment.starts_at, Appointment.id)
            )
        )
        done = {
            (a, k)
            for a, k in db.session.execute(
                select(AppointmentReminder.appointment_id, AppointmentReminder.kind).where(
                    AppointmentReminder.appointment_id.in_([r[0].id for r in rows] or [0])
                )
            )
        }
        for appointment, doctor, _patient in rows:
            kind = _kind_due(_aware(appointment.starts_at), moment)
            if kind is None or (appointment.id, kind) in done:
                continue
            if kind == "day_before" and (appointment.id, "two_hours") in done:
                continue
            try:
                with db.session.begin_nested():
                    db.session.add(AppointmentReminder(appointment_id=appointment.id, kind=kind, sent_at=moment))
                    db.session.flush()
            except IntegrityError:  # another run sent it a moment ago
                continue
            _tell(appointment, doctor, kind)
            sent += 1
    return sent


def _tell(appointment: Appointment, doctor: Practitioner | None, kind: str) -> None:
    specialty = by_code().get(appointment.specialty_code or "")
    params = {
        "specialty": specialty.label("ru") if specialty else "",
        "specialty_en": specialty.label("en") if specialty else "",
        "doctor": doctor.full_name if doctor else "",
        "starts_at": _aware(appointment.starts_at).isoformat(),
        "when": kind,
    }
    url = cancel_path(appointment.patient_id, appointment.id)
    for account_id in _readers(appointment.patient_id, appointment.booked_by_id):
        inbox.post(account_id, "appointment_reminder", patient_id=appointment.patient_id, params=params, url=url)
    audit.record(
        "appointment.reminded",
        actor_role="system",
        patient_id=appointment.patient_id,
        section=policy.APPOINTMENTS,
        organisation_id=appointment.organisation_id,
        object_type="appointment",
        object_id=appointment.id,
        reason=kind,
    )


# -- attendance: the registrar's list of the clinic's appointments -------------------------------


class Refused(Exception):
    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


def day_list(account, day: date) -> list[tuple]:
    """The appointments of one day at the registrar's clinics, by time. One statement."""
    organisations = sorted(policy.registrar_organisations(account))
    return list(
        db.session.execute(
            select(Appointment, Patient, Practitioner, Slot.ends_at, Organisation.name)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(Organisation, Organisation.id == Appointment.organisation_id)
            .outerjoin(Practitioner, Practitioner.id == Appointment.practitioner_id)
            .outerjoin(Slot, Slot.id == Appointment.slot_id)
            .where(
                Appointment.organisation_id.in_(organisations),
                Appointment.starts_at >= clock.day_start(day),
                Appointment.starts_at < clock.day_start(day + timedelta(days=1)),
            )
            .order_by(Appointment.starts_at, Appointment.id)
            .limit(LIST_LIMIT)
        )
    )


def slot_end(appointment: Appointment) -> datetime:
    slot = db.session.get(Slot, appointment.slot_id) if appointment.slot_id else None
    return _aware(slot.ends_at) if slot else _aware(appointment.starts_at) + timedelta(minutes=30)


def allowed_marks(appointment: Appointment, ends_at: datetime | None, moment: datetime) -> tuple[str, ...]:
    """What the registrar may mark now: arrived (from an hour before), completed after arriving,
    no-show only after the slot has ended."""
    start = _aware(appointment.starts_at)
    end = _aware(ends_at) if ends_at else start + timedelta(minutes=30)
    if appointment.status == "booked":
        marks = []
        if moment >= start - timedelta(hours=1):
            marks.append("arrived")
        if moment >= end:
            marks.append("no_show")
        return tuple(marks)
    if appointment.status == "arrived":
        return ("completed",)
    return ()


def mark(account, appointment_id: int, status: str, decide=None) -> Appointment:
    """The registrar of the appointment's clinic marks it; LookupError (404) for another clinic's.
    ``decide(account, appointment)`` gives another party's decision (the doctor of the appointment
    marks it from their day); the audit names the decision's basis as the actor's role."""
    from flask_babel import lazy_gettext as _l

    with write_transaction():
        appointment = db.session.get(Appointment, appointment_id)
        if appointment is None:
            raise LookupError(appointment_id)
        if decide is None:
            decision = policy.decide_clinic_appointment(account, appointment.organisation_id)
        else:
            decision = decide(account, appointment)
        if not decision.allowed:
            raise LookupError(appointment_id)
        from portal.appointments import states

        refused = _l("This mark does not fit the appointment now: a no-show is marked after the time ends")
        if status not in allowed_marks(appointment, slot_end(appointment), clock.now()):
            raise Refused(refused)
        try:  # the one place that moves an appointment's state (checked and audited there)
            states.transition(appointment, status, actor_id=account.id, actor_role=decision.basis)
        except states.InvalidTransition as invalid:
            raise Refused(refused) from invalid
        return appointment
