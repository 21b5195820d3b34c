"""Who may write orders at an appointment, what the appointment ordered, and the writes.

A doctor writes at an appointment booked with them (``policy.decide_own_appointment``) whose
patient's card is open to them for writing (a current care relationship: ``policy.decide``); a
nurse at an appointment of her clinic the patient arrived at today (``policy.decide_measurement``).
Anything else is LookupError (404). The writes go through the record's intake
(``portal.record.intake``): decided again there, audited, told to the card's holders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from portal.access import policy
from portal.appointments import workspace
from portal.appointments.models import Appointment
from portal.audit import service as audit
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.record import intake
from portal.record.models import Immunization, Patient, Prescription, Referral
from portal.record.service import age_on

SECTIONS = ("prescriptions", "referrals", "vaccinations")


@dataclass(frozen=True)
class Visit:
    """The appointment orders are written at, its patient and the decision that allows it."""

    appointment: Appointment
    patient: Patient
    decision: policy.Decision

    @property
    def age(self) -> int:
        return age_on(self.patient.birth_date, policy.today())


def doctor_visit(account: Account, appointment_id: int) -> Visit:
    """The doctor's own appointment whose card opens to them for writing; LookupError otherwise."""
    appointment = db.session.get(Appointment, appointment_id)
    decision = policy.decide_own_appointment(account, appointment, workspace.own_practitioner(account))
    if not decision.allowed:
        raise LookupError(appointment_id)
    patient = db.session.get(Patient, appointment.patient_id)
    if not all(policy.decide(account, "write", patient, section).allowed for section in SECTIONS):
        raise LookupError(appointment_id)
    return Visit(appointment, patient, decision)


def nurse_visit(account: Account, appointment_id: int) -> Visit:
    """The appointment of the nurse's clinic the patient arrived at today; LookupError otherwise."""
    appointment, patient, decision = workspace.measured_appointment(account, appointment_id)
    return Visit(appointment, patient, decision)


def has_practitioner(account: Account) -> bool:
    return workspace.own_practitioner(account) is not None


@dataclass(frozen=True)
class Ordered:
    prescriptions: list[Prescription]
    referrals: list[Referral]
    vaccinations: list[Immunization]
    unconfirmed: list[Immunization]  # the vaccinations the citizen added, not yet confirmed


def ordered(account: Account, appointment_id: int) -> tuple[Visit, Ordered]:
    """What the doctor's appointment ordered, and the patient's unconfirmed vaccinations: one
    read audited per section shown."""
    with audit.audited_read():
        visit = doctor_visit(account, appointment_id)
        patient_id = visit.patient.id
        decision = policy.decide(account, "read", visit.patient, "prescriptions")
        audit.record_many(
            [
                policy.access_event(account, decision, "read", patient_id, section, "appointment", appointment_id)
                for section in SECTIONS
            ]
        )
        found = Ordered(
            list(
                db.session.scalars(
                    select(Prescription).where(Prescription.appointment_id == appointment_id).order_by(Prescription.id)
                )
            ),
            list(
                db.session.scalars(
                    select(Referral).where(Referral.appointment_id == appointment_id).order_by(Referral.id)
                )
            ),
            list(
                db.session.scalars(
                    select(Immunization).where(Immunization.appointment_id == appointment_id).order_by(Immunization.id)
                )
            ),
            list(
                db.session.scalars(
                    select(Immunization)
                    .where(Immunization.patient_id == patient_id, Immunization.confirmed.is_(False))
                    .order_by(Immunization.given_on.desc(), Immunization.id)
                    .limit(50)
                )
            ),
        )
    return visit, found


def _next_number(model, appointment: Appointment, letter: str) -> str:
    """«<organisation>-<appointment>-<letter><n>»: the n-th of its kind written at the appointment."""
    count = db.session.scalar(select(func.count()).select_from(model).where(model.appointment_id == appointment.id))
    return f"{appointment.organisation_id}-{appointment.id}-{letter}{(count or 0) + 1}"


def write_prescription(account: Account, appointment_id: int, **terms) -> Prescription:
    with write_transaction():
        visit = doctor_visit(account, appointment_id)
        appointment = visit.appointment
        return intake.write_prescription(
            account,
            visit.patient.id,
            number=_next_number(Prescription, appointment, "P"),
            visit_id=appointment.visit_id,
            appointment_id=appointment.id,
            **terms,
        )


def write_referral(account: Account, appointment_id: int, **terms) -> Referral:
    with write_transaction():
        visit = doctor_visit(account, appointment_id)
        appointment = visit.appointment
        return intake.write_referral(
            account,
            visit.patient.id,
            number=_next_number(Referral, appointment, "N"),
            visit_id=appointment.visit_id,
            appointment_id=appointment.id,
            **terms,
        )


def write_vaccination(account: Account, appointment_id: int, nurse: bool, **terms) -> Immunization:
    """The vaccination given at the appointment: the doctor's (decided by the intake) or the nurse's
    (under ``policy.decide_measurement``'s decision)."""
    with write_transaction():
        visit = nurse_visit(account, appointment_id) if nurse else doctor_visit(account, appointment_id)
        return intake.write_vaccination(
            account,
            visit.patient.id,
            appointment_id=visit.appointment.id,
            decision=visit.decision if nurse else None,
            **terms,
        )


def given_on_default() -> date:
    return policy.today()
