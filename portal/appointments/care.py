"""Access follows the booking: a booked appointment opens the card to its doctor.

Booking makes a care relationship (basis "appointment") for the doctor's account, in the
appointment's organisation, from the start of the visit's day (in the portal's zone) until
APPOINTMENT_ACCESS_DAYS after the visit; ``policy.care_current`` opens the card only inside that
window. Cancelling or moving the appointment ends it. Both are audited («care.opened»,
«care.ended»), so «Кто смотрел мою карту» shows which appointment opened the card to whom.
A doctor without a portal account gets no relationship (nobody to open the card to).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from portal import clock
from portal.access.models import CareRelationship
from portal.appointments.models import Appointment
from portal.audit import service as audit
from portal.database import db
from portal.directory.models import Practitioner

SECTION = "appointments"


def access_days() -> int:
    return int(current_app.config["APPOINTMENT_ACCESS_DAYS"])


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def window(starts_at: datetime) -> tuple[datetime, datetime]:
    """When an appointment at ``starts_at`` opens the card: from its day's start until the set
    number of days after the visit."""
    start = _aware(starts_at)
    return clock.day_start(clock.local_date(start)), start + timedelta(days=access_days())


def open_for(appointment: Appointment, actor_id: int | None, actor_role: str) -> CareRelationship | None:
    """The care relationship the booked appointment makes (in the caller's transaction), audited."""
    if appointment.practitioner_id is None:
        return None
    account_id = db.session.scalar(
        select(Practitioner.account_id).where(Practitioner.id == appointment.practitioner_id)
    )
    if account_id is None:
        return None
    started, ended = window(appointment.starts_at)
    care = CareRelationship(
        practitioner_id=account_id,
        patient_id=appointment.patient_id,
        organisation_id=appointment.organisation_id,
        basis="appointment",
        appointment_id=appointment.id,
        started_at=started,
        ended_at=ended,
    )
    db.session.add(care)
    audit.record(
        "care.opened",
        actor_id=actor_id,
        actor_role=actor_role,
        patient_id=appointment.patient_id,
        section=SECTION,
        organisation_id=appointment.organisation_id,
        object_type="appointment",
        object_id=appointment.id,
        reason=f"{started.isoformat()}/{ended.isoformat()}",
    )
    return care


def end_for(appointment_ids: list[int], actor_id: int | None, actor_role: str, moment: datetime | None = None) -> int:
    """End the care relationships of these (cancelled) appointments, each ending audited. Returns
    how many were still open or yet to open."""
    if not appointment_ids:
        return 0
    moment = moment or clock.now()
    found = list(
        db.session.scalars(
            select(CareRelationship).where(
                CareRelationship.appointment_id.in_(appointment_ids),
                (CareRelationship.ended_at.is_(None)) | (CareRelationship.ended_at > moment),
            )
        )
    )
    for care in found:
        care.ended_at = moment
        audit.record(
            "care.ended",
            actor_id=actor_id,
            actor_role=actor_role,
            patient_id=care.patient_id,
            section=SECTION,
            organisation_id=care.organisation_id,
            object_type="appointment",
            object_id=care.appointment_id,
            reason="the appointment was cancelled",
        )
    return len(found)
