"""The states of an appointment and the moves between them.

    booked → arrived → completed
    booked → no_show            (the slot ended and the patient did not come)
    arrived → no_show           (registered at the desk, left before being seen)
    booked → cancelled_by_patient
    booked → cancelled_by_clinic (with a reason)
    arrived → cancelled_by_clinic (with a reason: the doctor could not see them)

Completed, no-show and cancelled are final. ``transition`` is the one place that changes an
appointment's state outside booking: the desk's marking of arrival and no-show calls it, and so
does a cancellation. It checks, changes (in the caller's write transaction) and audits; a move the
diagram does not allow raises ``InvalidTransition`` and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from portal import clock, events
from portal.appointments import care
from portal.appointments.models import APPOINTMENT_STATUSES, CANCELLED_STATUSES, Appointment, Slot
from portal.audit import service as audit
from portal.database import db

TRANSITIONS: dict[str, frozenset[str]] = {
    "booked": frozenset({"arrived", "no_show", "cancelled_by_patient", "cancelled_by_clinic"}),
    "arrived": frozenset({"completed", "no_show", "cancelled_by_clinic"}),
    "completed": frozenset(),
    "no_show": frozenset(),
    "cancelled_by_patient": frozenset(),
    "cancelled_by_clinic": frozenset(),
}
FINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
# Marking these before the appointment's time makes no sense: nobody failed to come yet.
NOT_BEFORE_START = frozenset({"no_show", "completed"})


class InvalidTransition(Exception):
    """The move is not in the diagram (or lacks what it needs); ``code`` names why for the page."""

    def __init__(self, current: str, target: str, code: str = "not_allowed"):
        super().__init__(f"{current} → {target}: {code}")
        self.current, self.target, self.code = current, target, code


def allowed(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check(appointment: Appointment, target: str, reason: str | None = None, at: datetime | None = None) -> None:
    """InvalidTransition unless ``appointment`` may move to ``target`` now."""
    if target not in APPOINTMENT_STATUSES or not allowed(appointment.status, target):
        raise InvalidTransition(appointment.status, target)
    if target == "cancelled_by_clinic" and not (reason and reason.strip()):
        raise InvalidTransition(appointment.status, target, "reason_needed")
    starts = appointment.starts_at if appointment.starts_at.tzinfo else appointment.starts_at.replace(tzinfo=UTC)
    if target in NOT_BEFORE_START and (at or clock.now()) < starts:
        raise InvalidTransition(appointment.status, target, "too_early")


def transition(
    appointment: Appointment, target: str, *, actor_id: int | None, actor_role: str, reason: str | None = None
) -> Appointment:
    """Move the appointment to ``target`` (checked), in the caller's write transaction, audited as
    ``appointment.<target>``. A cancellation frees the slot and ends the care relationship it made."""
    moment = clock.now()
    check(appointment, target, reason, moment)
    previous = appointment.status
    appointment.status = target
    appointment.updated_at = moment
    if target in CANCELLED_STATUSES:
        appointment.cancelled_at = moment
        appointment.cancelled_by_id = actor_id
        appointment.cancel_reason = reason.strip() if reason else None
    db.session.flush()
    if target in CANCELLED_STATUSES:
        if appointment.slot_id is not None:
            db.session.execute(
                update(Slot).where(Slot.id == appointment.slot_id, Slot.status == "booked").values(status="free")
            )
        care.end_for([appointment.id], actor_id, actor_role, moment)
        events.publish(events.AppointmentCancelled.of(appointment))
    audit.record(
        "appointment.cancelled" if target == "cancelled_by_patient" else f"appointment.{target}",
        actor_id=actor_id,
        actor_role=actor_role,
        patient_id=appointment.patient_id,
        section="appointments",
        organisation_id=appointment.organisation_id,
        object_type="appointment",
        object_id=appointment.id,
        reason=reason or f"from {previous}",
    )
    return appointment
